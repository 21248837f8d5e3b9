"""The debrief's money, recomputed independently (tests/unit/cost/recompute.py: the store's rows,
the catalog's CSV files and the published formulas, no labctl.cost code): each team's cost to the
cent with the EKS control plane in it, FOCUS's totals equal to the debrief's, and the idle GPU
cost of every node, for a demo-like simulated class whose runs move between nodes."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest

from labctl.cost.allocation import allocate, nodes_from_ledger
from labctl.cost.focus import FocusContext, focus_rows
from labctl.report.model import DebriefInputs, TeamPlan, build_debrief, ledger_for
from labctl.sim.runner import run_class
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.telemetry import usage as tu
from labctl.telemetry.store import Store
from tests.unit.sim.conftest import START, catalog, estimates, team_inputs

from . import recompute as audit

HOURS = 4
CENT = Decimal("0.01")


def _lab_teams(tmp, lab: str, knobs: dict) -> list:
    """team_inputs for another lab than the bundled demo's."""
    import yaml

    from labctl.sim.inputs import render_team
    from labctl.spec.load import load_cohort

    doc = {"cohort": "simtest", "target": "embedded", "region": "us-east-1", "lab": lab,
           "window": {"start": "2026-12-01T09:00:00Z", "duration": f"{HOURS}h"},
           "teams": [{"name": n, **({"knobs": k} if k else {})} for n, k in knobs.items()]}
    (tmp / "cohort.yaml").write_text(yaml.safe_dump(doc))
    cohort = load_cohort(tmp / "cohort.yaml")
    return [render_team(cohort, t.name) for t in cohort.teams]


CLASSES = {
    # the demo: lab gpu-baseline, its three strategies; rightsized and spot runs move between nodes
    "demo": lambda tmp: team_inputs(tmp, DEMO_STRATEGIES),
    # a second lab, as the audit did: its default, and spot with checkpoints and scale-to-zero
    "optimise-under-budget": lambda tmp: _lab_teams(tmp, "optimise-under-budget",
                                                    {"baseline": {}, "rightsized": DEMO_STRATEGIES["rightsized"],
                                                     "spot": DEMO_STRATEGIES["spot"]}),
}


@pytest.fixture(scope="module", params=sorted(CLASSES))
def demo_class(request, tmp_path_factory):
    """A 4 h class (seed 7), pure mode, and its debrief: the demo's, and one of another lab."""
    tmp = tmp_path_factory.mktemp(request.param)
    teams = CLASSES[request.param](tmp)
    with Store(tmp / "simtest" / "telemetry.sqlite", "simtest") as store:
        run_class(teams, start=START, hours=HOURS, catalog=catalog(), estimates=estimates(), seed=7, store=store)
        rows, samples, events = store.lifecycle(), store.samples_bulk(tu.REPORT_METRICS), store.events()
    end = START + timedelta(hours=HOURS)
    inp = DebriefInputs("simtest", teams[0].lab, end, tuple(TeamPlan(t.team) for t in teams), rows, samples,
                        events, catalog(), START, end)
    ledger = ledger_for(inp, session_only=True)
    return inp, ledger, build_debrief(inp, ledger=ledger)


def test_each_team_cost_recomputed_from_the_lifecycle_and_catalog_to_the_cent(demo_class):
    inp, ledger, debrief = demo_class
    costs = audit.team_costs(inp.lifecycle, START, inp.as_of)
    assert set(costs) == set(debrief["teams"]) == {"baseline", "rightsized", "spot"}
    for team, by_kind in costs.items():
        shown = debrief["teams"][team]
        mine = sum(by_kind.values(), Decimal(0))
        assert abs(mine - Decimal(shown["cost_usd"]["value"])) < Decimal("0.0001"), team
        assert mine.quantize(CENT) == Decimal(shown["cost_usd"]["value"]).quantize(CENT), team
        # the control plane, $0.10/h for the whole class, in every team's cost
        assert by_kind["cluster"] == Decimal("0.10") * HOURS
        assert Decimal(shown["cost_by_resource_usd"]["EKS control plane"]) == Decimal("0.400000")
        # a public IPv4 address per node while it ran, as `plan` counts it
        assert by_kind["ipv4"] > 0
    # checkpoint storage: the spot team checkpoints (the trainer keeps its 3 newest bodies), the baseline does not
    assert costs["spot"]["bucket"] > 0 and costs["baseline"]["bucket"] == 0
    sizes = sorted({r.gb for r in inp.lifecycle if r.team == "spot" and r.kind == "bucket"})
    assert sizes == [0, sizes[1], 2 * sizes[1], 3 * sizes[1]] and Decimal("0.3") < sizes[1] < Decimal("0.5")  # ~416 MB each
    assert debrief["warnings"] == []


def test_focus_rows_add_up_to_the_debrief_per_team(demo_class):
    inp, ledger, debrief = demo_class
    per_team: dict[str, int] = defaultdict(int)
    bases: dict[str, set[str]] = defaultdict(set)
    for r in focus_rows(ledger, FocusContext(cohort="simtest"), inp.catalog):
        per_team[r["x_Team"]] += int(r["x_CostMicroUSD"])
        bases[r["x_Team"]].add(r["x_CostBasis"])
        assert r["SkuId"] and r["SkuPriceId"]
    for team, t in debrief["teams"].items():
        assert Decimal(per_team[team]).scaleb(-6) == Decimal(t["cost_usd"]["value"])
        assert bases[team] == {t["cost_usd"]["basis"]} == {"simulated"}


def _runs_by_team(inp):
    ws = tu.workloads(inp.samples, inp.events, node_ids=tu.node_ids(inp.lifecycle))
    out = defaultdict(list)
    for w in ws:
        if w.gpu_request:
            out[w.team].append(w)
    return out


def test_the_class_has_teams_whose_runs_move_between_nodes(demo_class):
    inp, _, _ = demo_class
    runs = _runs_by_team(inp)
    moved = {team for team, ws in runs.items() if len({w.node_id for w in ws}) > 1}
    assert {"rightsized", "spot"} <= moved and len(runs["rightsized"]) >= 2


def test_idle_gpu_cost_per_node_recomputed_independently(demo_class):
    inp, ledger, debrief = demo_class
    mine = audit.idle_gpu_per_node(inp.lifecycle, inp.samples, START, inp.as_of)
    # labctl's figures per node: the OpenCost allocation of the ledger the debrief shows
    nodes, _ = nodes_from_ledger(ledger, inp.catalog)
    workloads = tu.workloads(inp.samples, inp.events, node_ids=tu.node_ids(inp.lifecycle))
    alloc = allocate(nodes, workloads)
    theirs: dict[str, int] = {}
    for n in alloc.nodes:
        if n.node.gpus:
            unused = sum(int(w.gpu_micros * (1 - w.workload.gpu_engine_active)) for w in alloc.workloads
                         if w.workload.node_id == n.node.node_id and w.gpu_micros and w.workload.gpu_engine_active is not None)
            theirs[n.node.node_id] = n.idle.gpu + unused
    assert set(mine) == set(theirs) and len(mine) >= 6
    for node, dollars in mine.items():
        assert abs(dollars - Decimal(theirs[node]).scaleb(-6)) < CENT, node
    # and per team, the debrief's idle GPU cost is the sum over the team's nodes
    team_of = {r.resource_id: r.team for r in inp.lifecycle}
    per_team: dict[str, Decimal] = defaultdict(Decimal)
    for node, dollars in mine.items():
        per_team[team_of[node]] += dollars
    for team, t in debrief["teams"].items():
        assert abs(per_team[team] - Decimal(t["idle_gpu_cost_usd"]["value"])) < CENT, team


def test_a_team_whose_runs_move_is_charged_idle_only_for_what_its_nodes_did_not_do(demo_class):
    # The node a later run moved to did work: its GPUs are not all idle, and the minutes between
    # runs (when no node of the team had a run) are not requested by anyone.
    inp, ledger, debrief = demo_class
    runs = _runs_by_team(inp)["rightsized"]
    mine = audit.idle_gpu_per_node(inp.lifecycle, inp.samples, START, inp.as_of)
    for node in {w.node_id for w in runs}:
        cost = audit.row_cost(next(r for r in inp.lifecycle if r.resource_id == node), START, inp.as_of)
        assert mine[node] < cost / 2, node      # a node that ran a whole run was mostly busy
    gpu = Decimal(debrief["teams"]["rightsized"]["gpu_cost_usd"]["value"])
    idle = Decimal(debrief["teams"]["rightsized"]["idle_gpu_cost_usd"]["value"])
    assert idle / gpu < Decimal("0.3")          # passes the scorecard's idle-GPU check


def test_plan_estimate_and_metered_cost_agree_at_steady_size(tmp_path):
    """The gpu-baseline team at its desired size all class (its GPU group is min = desired = max,
    no scale-down): the estimate `plan` prints for a real team's Terraform state of that lab
    (fixtures/state_team.tfstate.json, written by real terraform) and the ledger of the simulated
    class agree, line item by line item. The integration test does the same with `plan` itself."""
    import json

    from labctl.cost.estimate import estimate_plan
    from labctl.cost.plan import state_values
    from labctl.telemetry.provisioned import items_of_state

    from .conftest import FIXTURES

    tfstate = json.loads((FIXTURES / "state_team.tfstate.json").read_text())
    estimate = estimate_plan({"planned_values": state_values(tfstate)}, "us-east-1", Decimal(HOURS), catalog())
    teams = team_inputs(tmp_path, {"baseline": {}}, runs=0)
    with Store(tmp_path / "t.sqlite", "simtest") as store:
        run_class(teams, start=START, hours=HOURS, catalog=catalog(), estimates=estimates(), seed=1, store=store,
                  items={"baseline": items_of_state(tfstate)})
        rows = store.lifecycle()
    end = START + timedelta(hours=HOURS)
    inp = DebriefInputs("simtest", "gpu-baseline", end, (TeamPlan("baseline"),), rows, [], [], catalog(), START, end)
    debrief = build_debrief(inp, ledger=ledger_for(inp, session_only=True))
    metered = Decimal(debrief["teams"]["baseline"]["cost_usd"]["value"])
    desired = estimate.total()[1]
    assert abs(metered - desired) / desired < Decimal("0.01")
    by_part: dict[str, Decimal] = defaultdict(Decimal)
    for c in estimate.components:
        if c.cost:
            by_part[c.part] += c.cost[1]
    shown = debrief["teams"]["baseline"]["cost_by_resource_usd"]
    assert Decimal(shown["EKS control plane"]) == by_part["fee"]
    assert Decimal(shown["network"]) == by_part["ipv4"]
    assert abs(Decimal(shown["storage"]) - by_part["volumes"]) < CENT
    assert abs(metered - desired) < CENT


def test_a_kms_key_is_its_own_line_in_the_debrief_not_network(tmp_path):
    from labctl.telemetry.store import Lifecycle

    end = START + timedelta(hours=HOURS)
    rows = [Lifecycle("t", "key-1", "kms-key", "us-east-1", START, None, "terraform"),
            Lifecycle("t", "t-cluster", "cluster", "us-east-1", START, None, "terraform")]
    inp = DebriefInputs("c", "gpu-baseline", end, (TeamPlan("t"),), rows, [], [], catalog(), START, end)
    shown = build_debrief(inp, ledger=ledger_for(inp, session_only=True))["teams"]["t"]["cost_by_resource_usd"]
    assert Decimal(shown["encryption keys"]) == audit.row_cost(rows[0], START, end).quantize(Decimal("0.000001"))
    assert Decimal(shown["network"]) == 0
