"""Scenarios a facilitator relies on, each on the bundled lab in pure mode."""

from __future__ import annotations

import pytest

from labctl.k8s.interface import ClusterError
from labctl.sim.cluster import SimulatedCluster
from labctl.sim.clock import SimClock
from labctl.sim.cloud import PureNodes
from labctl.sim.record import Recorder
from labctl.sim.runner import run_class
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.sim.workload import WorkModel, resolve_rates
from tests.unit.sim.conftest import START, catalog, estimates, team_inputs


def run(teams, hours=4.0, seed=0, **kw):
    return run_class(teams, start=START, hours=hours, catalog=catalog(), estimates=estimates(), seed=seed, **kw)


def cluster_of(inputs, seed=0):
    rec = Recorder()
    c = SimulatedCluster(inputs, clock=SimClock(START), catalog=catalog(),
                         work=WorkModel(inputs.simulation, resolve_rates(inputs.simulation, estimates(), catalog())),
                         nodes=PureNodes(), seed=seed, recorder=rec)
    return c, rec


def test_the_three_demo_strategies_have_clearly_different_outcomes(demo_teams):
    r = run(demo_teams)
    base, right, spot = r.team("baseline"), r.team("rightsized"), r.team("spot")
    assert base.jobs_completed == right.jobs_completed == spot.jobs_completed == 2
    assert base.gpu_hours == 32.0 and base.gpu_hours_idle > 29      # 2 x 4-GPU nodes all session
    assert right.gpu_hours < 3 and right.gpu_utilization_pct > 80
    assert set(spot.node_hours) == {"g6.xlarge", "m5.large"}         # capacity-optimized, then cheapest
    assert r.strategies["spot"]["job"]["pool"] == "spot"


def test_a_job_that_fits_no_node_group_stays_pending_and_is_reported(tmp_path):
    knobs = {**DEMO_STRATEGIES["rightsized"], "job": {"cpu": "4", "memory": "16Gi"}}   # > g5.xlarge allocatable
    r = run(team_inputs(tmp_path, {"t": knobs}), hours=1)
    t = r.team("t")
    assert t.jobs_completed == 0 and t.gpu_hours_used == 0
    [(pod, why)] = t.unschedulable.items()
    assert pod.startswith("team-t/train-") and "Insufficient cpu, memory" in why


def test_scale_from_zero_launches_a_spot_node_for_the_pending_job(tmp_path):
    [inputs] = team_inputs(tmp_path, {"s": DEMO_STRATEGIES["spot"]})
    assert {p.pool: p.desired_size for p in inputs.pools}["gpu_spot"] == 0
    c, rec = cluster_of(inputs)
    c.start()
    while c.t < 2 * 3600:
        c.step(30)
    ups = [e for e in rec.events if e.kind == "scale-up"]
    assert ups and ups[0].entity == "gpu_spot"
    launched = [e for e in rec.events if e.kind == "node-launched" and e.payload["pool"] == "gpu_spot"]
    assert launched and launched[0].payload["market"] == "spot" and launched[0].payload["spot_price"]
    assert any(e.kind == "job-completed" for e in rec.events)


def _interrupted(tmp_path, checkpoint_every):
    knobs = {**DEMO_STRATEGIES["spot"], "job": {**DEMO_STRATEGIES["spot"]["job"], "checkpoint_every_steps": checkpoint_every}}
    teams = team_inputs(tmp_path, {"s": knobs}, runs=1,
                        drills=[{"kind": "interrupt", "at": "45m", "pool": "gpu_spot"}])
    c, rec = cluster_of(teams[0])
    c.start()
    while c.t < 4 * 3600:
        c.step(30)
    return c, [e for e in rec.events if e.kind == "job-restarted"]


def test_an_interruption_without_checkpointing_loses_all_progress(tmp_path):
    c, [restart] = _interrupted(tmp_path, 0)
    assert restart.payload["from_zero"] is True and restart.payload["lost_steps"] > 0
    assert c.stats.interruptions == 1 and c.stats.jobs_completed == 1


def test_with_checkpointing_the_job_resumes_where_it_was(tmp_path):
    c, [restart] = _interrupted(tmp_path, 500)
    assert restart.payload["resume_from_step"] > 0 and restart.payload["lost_steps"] < 1
    assert c.stats.jobs_completed == 1


def test_a_spot_shortage_holds_the_pinned_job_until_capacity_returns(tmp_path):
    # The Job's nodeSelector pins the spot pool, so there is no on-demand fallback: it waits.
    teams = team_inputs(tmp_path, {"s": DEMO_STRATEGIES["spot"]}, runs=1,
                        drills=[{"kind": "shortage", "at": "0m", "duration": "60m", "capacity_type": "SPOT"}])
    c, rec = cluster_of(teams[0])
    c.start()
    while c.t < 3 * 3600:
        c.step(30)
    kinds = [e.kind for e in rec.events]
    assert "capacity-shortage" in kinds and "scale-up-timeout" in kinds
    spot = [e for e in rec.events if e.kind == "node-launched" and e.payload["pool"] == "gpu_spot"]
    assert spot and (spot[0].ts - START).total_seconds() >= 3600
    assert c.stats.jobs_completed == 1 and c.stats.capacity_failures > 0


def test_the_price_expander_is_refused_before_the_class_rather_than_stalling_it(tmp_path):
    # The simulator showed the autoscaler never starting with --expander=price on AWS (it works
    # only on GCE, GKE and Equinix Metal); validation now refuses it up front.
    from labctl.errors import SpecError

    knobs = {**DEMO_STRATEGIES["spot"], "autoscaler": {**DEMO_STRATEGIES["spot"]["autoscaler"], "expander": "price"}}
    with pytest.raises(SpecError, match="'price' expander works only on GCE"):
        team_inputs(tmp_path, {"s": knobs})


def _gpu_pod(name, gpus, pc=None, cpu="1"):
    spec = {"nodeSelector": {"labctl.io/pool": "gpu-on-demand"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "x", "image": "x",
                            "resources": {"limits": {"nvidia.com/gpu": str(gpus), "cpu": cpu, "memory": "1Gi"}}}]}
    if pc:
        spec["priorityClassName"] = pc
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team-b"}, "spec": spec}


def test_quota_refuses_a_pod_over_the_namespace_gpu_limit(tmp_path):
    [inputs] = team_inputs(tmp_path, {"b": {}}, runs=0)
    c, _ = cluster_of(inputs)
    c.start()
    c.apply([_gpu_pod("a", 4), _gpu_pod("b", 4)])           # the quota is 8 GPUs
    with pytest.raises(ClusterError, match="exceeded quota"):
        c.apply([_gpu_pod("c", 1)])
    with pytest.raises(ClusterError, match="maximum nvidia.com/gpu"):
        c.apply([_gpu_pod("d", 5)])                          # LimitRange: the largest node has 4


def test_priority_preemption_evicts_a_best_effort_pod_for_training(tmp_path):
    [inputs] = team_inputs(tmp_path, {"b": {}}, runs=0)
    c, rec = cluster_of(inputs)
    c.start()
    # Two best-effort pods take nearly all CPU of both g5.12xlarge nodes (quota still has room).
    c.apply([_gpu_pod("filler-a", 3, "labctl-best-effort", "47"), _gpu_pod("filler-b", 3, "labctl-best-effort", "47")])
    c.step(30)
    assert all(p.node for p in c.pods.values() if p.name.startswith("filler"))
    c.apply([_gpu_pod("urgent", 1, "labctl-training", "2")])
    c.step(30)
    assert c.pods[("team-b", "urgent")].node is not None
    [ev] = [e for e in rec.events if e.kind == "pod-preempted"]
    assert ev.entity.startswith("team-b/filler-") and ev.payload["by"] == "team-b/urgent"
