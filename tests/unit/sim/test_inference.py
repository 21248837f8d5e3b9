"""The optional inference service on the simulated cluster: its Deployment, Service and HPA are
accepted, the HPA holds minReplicas, and the replicas are scheduled on the pool their knob names
and hold GPUs (so their nodes cost money) like any pod."""

from __future__ import annotations

from labctl.sim.strategies import DEMO_STRATEGIES
from tests.unit.sim.conftest import team_inputs
from tests.unit.sim.test_scenarios import cluster_of

# Training on spot (the demo's spot team); serving on on-demand, which starts at zero nodes.
SERVING = {**DEMO_STRATEGIES["spot"],
           "inference": {"enabled": True, "pool": "on-demand", "replicas": {"min": 1, "max": 2},
                         "cpu": "2", "memory": "8Gi"}}


def _run(tmp_path, knobs, minutes):
    [inputs] = team_inputs(tmp_path, {"s": knobs}, runs=1)
    c, rec = cluster_of(inputs)
    c.start()
    while c.t < minutes * 60:
        c.step(30)
    return c, rec


def test_inference_objects_apply_and_replicas_run_on_the_pool_of_their_knob(tmp_path):
    c, rec = _run(tmp_path, SERVING, 40)
    for kind, api in (("Deployment", "apps/v1"), ("Service", "v1"), ("HorizontalPodAutoscaler", "autoscaling/v2")):
        assert c.get(api, kind, "inference", "team-s") is not None, kind
    serving = [p for p in c.pods.values() if p.owner_kind == "Deployment" and p.owner == "inference"]
    assert len(serving) == 1                                  # HPA min 1 (max 2): no load, held at min
    [pod] = serving
    assert pod.running and pod.requests.gpu == 1
    node = c.nodes[pod.node]
    assert node.pool == "gpu_on_demand" and node.market == "on-demand"
    # the on-demand group started at zero: the pending replica made the autoscaler add a node
    ups = [e for e in rec.events if e.kind == "scale-up" and e.entity == "gpu_on_demand"]
    assert ups and c.stats.serving_gpu_seconds > 0
    # the node it holds is an instance in the ledger's lifecycle rows (so it costs money)
    assert any(lc.attrs.get("node") == node.name and lc.kind == "instance" for lc in rec.lifecycle_rows())
    # training still went to spot
    assert all(n.market == "spot" for n in c.nodes.values() if n.pool == "gpu_spot")


def test_the_hpa_floor_sets_the_replica_count_and_deleting_the_deployment_frees_the_gpus(tmp_path):
    knobs = {**SERVING, "inference": {**SERVING["inference"], "replicas": {"min": 2, "max": 2}}}
    knobs["node_groups"] = {**knobs["node_groups"], "gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0,
                                                                       "desired_size": 0, "max_size": 2}}
    c, _ = _run(tmp_path, knobs, 20)
    serving = [p for p in c.pods.values() if p.owner_kind == "Deployment" and p.owner == "inference"]
    assert len(serving) == 2 and {c.nodes[p.node].pool for p in serving if p.node} <= {"gpu_on_demand"}
    c.delete("apps/v1", "Deployment", "inference", "team-s")
    assert not [p for p in c.pods.values() if p.owner == "inference"]
    assert all(n.used.gpu == 0 for n in c.nodes.values() if n.pool == "gpu_on_demand")


def test_without_inference_nothing_is_applied_for_it(tmp_path):
    c, _ = _run(tmp_path, DEMO_STRATEGIES["spot"], 1)
    assert c.get("apps/v1", "Deployment", "inference", "team-s") is None and not c.hpas


def test_the_class_report_counts_serving_gpu_hours_apart_from_idle_ones(tmp_path):
    from tests.unit.sim.test_scenarios import run

    [with_inf] = team_inputs(tmp_path, {"s": SERVING}, runs=0)
    [without] = team_inputs(tmp_path, {"s": DEMO_STRATEGIES["spot"]}, runs=0)
    a = run([with_inf], hours=1).teams[0]
    b = run([without], hours=1).teams[0]
    assert b.gpu_hours_serving == 0
    assert 0.5 < a.gpu_hours_serving <= 1.0          # one replica, once its node has booted
    assert abs(a.gpu_hours - (a.gpu_hours_used + a.gpu_hours_idle + a.gpu_hours_serving)) < 1e-6
