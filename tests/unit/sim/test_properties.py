"""Invariants of the simulated cluster over generated knobs, seeds and drills (hypothesis)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labctl.cost.ledger import build_ledger
from labctl.sim.scheduler import tolerates
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.sim.usage import lifecycle_to_usage
from labctl.telemetry.store import Store
from tests.unit.sim.conftest import START, catalog, estimates, team_inputs  # noqa: F401 - fixtures
from tests.unit.sim.test_scenarios import cluster_of, run

knobs = st.fixed_dictionaries({
    "types": st.sampled_from([["g5.xlarge"], ["g6.xlarge", "g5.xlarge"], ["g4dn.xlarge"], ["g5.12xlarge"]]),
    "max": st.integers(1, 2), "min": st.integers(0, 1), "pool": st.sampled_from(["spot", "on-demand"]),
    "checkpoint": st.sampled_from([0, 500]), "seed": st.integers(0, 2**16),
    "mult": st.sampled_from([0.0, 500.0]), "expander": st.sampled_from(["random", "least-waste", "priority", "most-pods"]),
})


def _team(tmp_path, k):
    group = "gpu_spot" if k["pool"] == "spot" else "gpu_on_demand"
    other = "gpu_on_demand" if group == "gpu_spot" else "gpu_spot"
    ng = {group: {"instance_types": k["types"], "min_size": k["min"], "desired_size": k["min"], "max_size": k["max"]},
          other: {"min_size": 0, "desired_size": 0, "max_size": 0}}
    if other == "gpu_on_demand":
        ng[other]["instance_types"] = ["g5.xlarge"]
    knob = {"node_groups": ng, "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "5m",
                                              "expander": k["expander"]},
            "job": {"pool": k["pool"], "cpu": "3", "memory": "12Gi",
                    "checkpoint_every_steps": k["checkpoint"]}}
    spot = {"interruption_multiplier": k["mult"]}
    return team_inputs(tmp_path, {"p": knob}, tick="60s", sample_every="5m", spot=spot)[0]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=knobs)
def test_invariants_hold_every_tick(tmp_path, k):
    inputs = _team(tmp_path, k)
    c, _ = cluster_of(inputs, seed=k["seed"])
    c.start()
    bounds = {p.pool: (p.min_size, p.max_size) for p in inputs.pools}
    while c.t < 2 * 3600:
        before = {key: dict(j.progress) for key, j in c.jobs.items()}
        unscheduled = {(p.namespace, p.owner, p.index) for p in c.pods.values() if p.node is None or not p.running}
        scheduled = {(p.namespace, p.owner, p.index) for p in c.pods.values() if p.node and p.running}
        c.step(60)
        for n in c.nodes.values():
            used = [p.requests for p in c.pods.values() if p.node == n.name]
            total = sum((r.cpu_m for r in used), 0), sum((r.mem for r in used), 0), sum((r.gpu for r in used), 0)
            assert total[0] <= n.alloc.cpu_m and total[1] <= n.alloc.mem and total[2] <= n.alloc.gpu, n.name
        for p in c.pods.values():
            if p.node:
                assert tolerates(p.tolerations, c.nodes[p.node].taints)
        for pool, (lo, hi) in bounds.items():
            live = sum(1 for n in c.nodes.values() if n.pool == pool and n.reclaim_at is None)
            assert lo <= c.target[pool] <= hi and live <= hi
        for (ns, name), job in c.jobs.items():
            for idx, steps in job.progress.items():
                if (ns, name, idx) in unscheduled and (ns, name, idx) not in scheduled:
                    assert steps <= before.get((ns, name), {}).get(idx, steps), "progress while unscheduled"


def _dump(path):
    db = sqlite3.connect(path)
    return [list(db.execute(f"SELECT * FROM {t} ORDER BY 1,2,3,4,5")) for t in ("lifecycle", "samples", "events")]


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path):
    teams = team_inputs(tmp_path, DEMO_STRATEGIES, spot={"interruption_multiplier": 300.0})
    dumps, reports = [], []
    for i, seed in enumerate((7, 7, 8)):
        with Store(tmp_path / f"s{i}.sqlite", "simtest") as store:
            reports.append(run(teams, seed=seed, store=store).as_dict())
        dumps.append(_dump(tmp_path / f"s{i}.sqlite"))
    assert dumps[0] == dumps[1] and reports[0] == reports[1]
    assert dumps[0] != dumps[2]


def test_ledger_of_a_steady_hour_is_catalog_price_times_node_hours(tmp_path):
    teams = team_inputs(tmp_path, {"baseline": {}}, runs=0)
    with Store(tmp_path / "t.sqlite", "simtest") as store:
        run(teams, hours=1, store=store)
        rows = [r for r in store.lifecycle() if r.kind == "instance"]
        clusters = [r for r in store.lifecycle() if r.kind == "cluster"]
    assert {r.source for r in rows} == {"simulator"}
    ledger = build_ledger(lifecycle_to_usage(rows + clusters), catalog(), as_of=START + timedelta(hours=1))
    expected = Decimal(0)
    for r in rows:
        hours = Decimal(((r.end or START + timedelta(hours=1)) - r.start).total_seconds()) / 3600
        expected += catalog().instance("us-east-1", r.instance_type).on_demand.usd_per_hour * hours
    assert expected == Decimal("2") * Decimal("5.672") + Decimal("0.096")
    assert ledger.total() == expected + Decimal("0.10") and not ledger.warnings   # + the EKS control plane
