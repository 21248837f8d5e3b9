from datetime import datetime, timedelta, timezone
from decimal import Decimal

from labctl.telemetry import usage as tu
from labctl.telemetry.store import Event, Lifecycle, Sample, Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_store_round_trip_to_usage_and_one_source_per_resource(tmp_path):
    with Store(tmp_path / "t.sqlite", "c1") as st:
        st.put_lifecycle([
            Lifecycle("a", "i-1", "instance", "us-east-1", T0, T0 + timedelta(hours=1), "simulator", "g5.xlarge",
                      "spot", Decimal("0.43"), pool="gpu_spot"),
            Lifecycle("a", "i-1", "instance", "us-east-1", T0 + timedelta(seconds=3), None, "aws-api", "g5.xlarge", "spot"),
            Lifecycle("a", "ng-1", "nodegroup", "us-east-1", T0, None, "aws-api"),
        ])
        rows = st.lifecycle()
    usages, notes = tu.usages(rows)
    assert len(usages) == 1
    u = usages[0]
    assert (u.market, u.spot_price_usd_per_hour, u.source) == ("spot", Decimal("0.43"), "simulator")
    assert "counted once" in notes[0]


def test_samples_bulk_equals_samples(tmp_path):
    with Store(tmp_path / "t.sqlite", "c1") as st:
        st.put_samples([Sample("a", T0 + timedelta(minutes=i), m, float(i), "dcgm", "n1", {"kind": "node"})
                        for i in range(5) for m in (tu.ENGINE_ACTIVE, tu.FB_USED)])
        assert st.samples_bulk() == st.samples()
        assert st.samples_bulk([tu.ENGINE_ACTIVE]) == st.samples(tu.ENGINE_ACTIVE)


def test_workloads_from_pod_samples_and_completion():
    attrs = {"kind": "pod", "node": "i-1", "job": "run-1"}
    samples = [Sample("a", T0 + timedelta(minutes=m), metric, v, "simulator", "team-a/p", attrs)
               for m in range(3) for metric, v in ((tu.POD_GPU_REQUEST, 1), (tu.POD_CPU_REQUEST, 4),
                                                   (tu.ENGINE_ACTIVE, 0.5))]
    ws = tu.workloads(samples, [Event("a", T0 + timedelta(minutes=5), tu.JOB_COMPLETED, "simulator", "run-1")])
    assert len(ws) == 1
    w = ws[0]
    assert (w.node_id, w.gpu_request, w.cpu_request, w.gpu_engine_active, w.completed) == ("i-1", 1, Decimal(4), Decimal("0.5"), True)
    assert w.end - w.start == timedelta(minutes=3)


def test_utilisation_prefers_node_engine_active():
    s = [Sample("a", T0, tu.ENGINE_ACTIVE, 0.2, "dcgm", "n1", {"kind": "node"}),
         Sample("a", T0, tu.ENGINE_ACTIVE, 0.9, "dcgm", "a/p", {"kind": "pod"}),
         Sample("a", T0, tu.GPU_UTIL, 100, "dcgm", "n1", {"kind": "node"}),
         Sample("b", T0, tu.GPU_UTIL, 40, "dcgm", "n2", {})]
    u = tu.gpu_utilisation(s)
    assert u["a"][T0] == 0.2 and u["b"][T0] == 0.4


def test_basis_of():
    assert tu.basis_of(["simulator"]) == "simulated"
    assert tu.basis_of(["aws-api", "dcgm"]) == "metered"
    assert tu.basis_of(["aws-api", "simulator"]) == "metered + simulated"
    assert tu.basis_of([]) == "none"


def _pod_run(node: str, minutes: range, entity: str = "team-a/train-0-001") -> list[Sample]:
    attrs = {"node": node, "job": "train", "gpus": 1}
    return [Sample("a", T0 + timedelta(minutes=m), metric, v, "simulator", entity, attrs)
            for m in minutes for metric, v in ((tu.ENGINE_ACTIVE, 0.8), (tu.GPU_UTIL, 80.0))]


def test_a_pod_name_that_returns_on_another_node_is_a_workload_per_run_on_its_own_node():
    # The Job is recreated for its second run under the same pod name; the run lands elsewhere.
    samples = _pod_run("n1", range(0, 10)) + _pod_run("n2", range(20, 30))
    ws = sorted(tu.workloads(samples, [], node_ids={"n1": "i-1", "n2": "i-2"}), key=lambda w: w.start)
    assert [(w.node_id, w.start, w.end) for w in ws] == [
        ("i-1", T0, T0 + timedelta(minutes=10)),
        ("i-2", T0 + timedelta(minutes=20), T0 + timedelta(minutes=30))]
    assert len({w.workload_id for w in ws}) == 2            # each run its own identity
    assert all(w.gpu_request == 1 and w.gpu_engine_active == Decimal("0.8") for w in ws)


def test_a_pod_name_that_returns_on_the_same_node_after_a_gap_leaves_the_gap_unrequested():
    ws = tu.workloads(_pod_run("n1", range(0, 10)) + _pod_run("n1", range(30, 40)), [])
    assert sorted(w.duration for w in ws) == [timedelta(minutes=10)] * 2


def test_a_pod_that_moves_without_a_gap_is_split_where_its_node_changes():
    ws = tu.workloads(_pod_run("n1", range(0, 5)) + _pod_run("n2", range(5, 10)), [])
    assert sorted((w.node_id, w.duration) for w in ws) == [("n1", timedelta(minutes=5)), ("n2", timedelta(minutes=5))]


def test_a_resource_up_recorded_and_a_collector_saw_counts_once_with_one_summary_note():
    rows = [Lifecycle("a", "cohort-a", "cluster", "us-east-1", T0, None, source)
            for source in ("terraform", "aws-api")]
    rows.append(Lifecycle("a", "i-1", "instance", "us-east-1", T0, None, "aws-api", "m5.large"))
    rows += [Lifecycle("a", "i-1", "instance", "us-east-1", T0, None, "cluster", "m5.large")]
    out, notes = tu.usages(rows)
    assert sorted((u.resource_id, u.source) for u in out) == [("cohort-a", "aws-api"), ("i-1", "aws-api")]
    assert notes == ["a/i-1: also recorded by cluster; counted once, from aws-api",
                     "1 resource(s) recorded by `up` from the Terraform state and by aws-api: counted once, from aws-api"]


def test_runs_that_follow_each_other_on_one_node_are_told_apart_by_the_run_they_name():
    def run(n: int, minutes: range) -> list[Sample]:
        attrs = {"node": "n1", "job": "train", "gpus": 1, "run": n}
        return [Sample("a", T0 + timedelta(minutes=m), tu.ENGINE_ACTIVE, 0.5, "simulator", "team-a/train-0-001", attrs)
                for m in minutes]
    done = [Event("a", T0 + timedelta(minutes=5), tu.JOB_COMPLETED, "simulator", "team-a/train", {"run": 1})]
    ws = sorted(tu.workloads(run(1, range(0, 5)) + run(2, range(5, 10)), done), key=lambda w: w.start)
    assert [(w.run_id, w.completed, w.duration) for w in ws] == [("1", True, timedelta(minutes=5)),
                                                                 ("2", False, timedelta(minutes=5))]
