from labctl.ops.parallel import default_parallelism

GIB = 1024 ** 3


def test_memory_caps_concurrency_even_on_a_big_machine():
    # 7 GiB for terraform runs at ~1 GiB each keeps the whole cohort under the 8 GiB goal.
    assert default_parallelism(30, cores=64, mem_bytes=200 * GIB) == 7


def test_small_memory_and_few_teams():
    assert default_parallelism(30, cores=2, mem_bytes=3 * GIB) == 3
    assert default_parallelism(2, cores=2, mem_bytes=20 * GIB) == 2
    assert default_parallelism(5, cores=1, mem_bytes=GIB // 2) == 1


def test_cores_bound_concurrency_when_memory_is_plenty():
    assert default_parallelism(30, cores=1, mem_bytes=20 * GIB) == 4


def test_teams_in_flight_in_batches_follow_the_same_memory_budget():
    from labctl.ops.batch import PER_TEAM_IN_BATCH_BYTES
    from labctl.ops.parallel import default_in_flight

    assert default_in_flight(30, PER_TEAM_IN_BATCH_BYTES, mem_bytes=200 * GIB) == 11   # capped at 7 GiB
    assert default_in_flight(30, PER_TEAM_IN_BATCH_BYTES, mem_bytes=2 * GIB) == 3
    assert default_in_flight(2, PER_TEAM_IN_BATCH_BYTES, mem_bytes=200 * GIB) == 2
    assert default_in_flight(30, PER_TEAM_IN_BATCH_BYTES, mem_bytes=GIB // 4) == 1
