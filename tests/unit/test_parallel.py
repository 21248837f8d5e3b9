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
