"""Debrief content: figures come from the ledger, the leaderboard follows it, no division errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from labctl.cost.catalog import load_catalog
from labctl.ops.debrief import load_inputs, write_debrief
from labctl.report.model import choices, ledger_for
from labctl.state import StateDir
from tests.unit.report.synth import write_class


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture
def cls(tmp_path, catalog):
    write_class(tmp_path, "c1", 3, no_run=["baseline"], budgets={"baseline": 40})
    out = write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    return tmp_path, out, json.loads((tmp_path / "out" / "debrief.json").read_text())


def test_writes_three_files_and_summary(cls):
    _, out, data = cls
    for key in ("html", "json", "focus_csv"):
        assert out[key].endswith(("debrief.html", "debrief.json", "focus.csv"))
    assert out["summary"]["teams"] == 3 and out["summary"]["basis"] == "simulated"
    assert out["summary"]["over_budget"] == ["baseline"]


def test_team_costs_are_the_ledgers(cls, catalog):
    state, _, data = cls
    inp, _ = load_inputs(StateDir(state).cohort("c1"), catalog=catalog)
    ledger = ledger_for(inp, session_only=True)
    for team, micros in ledger.by_team().items():
        assert Decimal(data["teams"][team]["cost_usd"]["value"]) == Decimal(micros) / 10**6
    assert Decimal(data["totals"]["cost_usd"]["value"]) == ledger.total()
    # the cumulative series ends at the team's cost
    for t in data["teams"].values():
        assert t["series"]["cost_cumulative_micro_usd"]["points"][-1][1] == int(Decimal(t["cost_usd"]["value"]) * 10**6)


def test_leaderboard_follows_the_ledger(cls):
    _, _, data = cls
    board = data["leaderboard"]
    with_runs = [r for r in board if r["cost_per_completed_run_usd"] is not None]
    assert [r["team"] for r in with_runs] == sorted((r["team"] for r in with_runs),
                                                   key=lambda t: Decimal(data["teams"][t]["cost_usd"]["value"]))
    assert board[-1]["team"] == "baseline"           # no completed run: after every team that has one
    assert [r["rank"] for r in board] == [1, 2, None]  # and unranked: no "leader" without a completed run
    assert board[-1]["why_no_completed_run"].startswith("the job was still running when the class ended (60%")
    assert board[0]["why_no_completed_run"] is None


def test_team_without_completed_run_shows_no_cost_per_run(cls):
    state, _, data = cls
    t = data["teams"]["baseline"]
    assert t["completed_runs"]["value"] == 0
    assert t["cost_per_completed_run_usd"]["value"] is None
    html = (state / "out" / "debrief.html").read_text()
    row = html.split('data-team="baseline"', 1)[1].split("</tr>", 1)[0]
    assert "none" in row


def test_every_figure_states_its_basis(cls):
    _, _, data = cls
    for t in data["teams"].values():
        for k, v in t.items():
            if isinstance(v, dict) and "value" in v:
                assert v["basis"] in ("simulated", "metered", "billed", "configured", "none", "metered + simulated"), k
    assert data["teams"]["spot"]["cost_usd"]["basis"] == "simulated"


def test_spot_interruptions_and_savings(cls):
    _, _, data = cls
    spot = data["teams"]["spot"]
    assert spot["interruptions"]["value"] == 1 and spot["interruptions_survived"]["value"] == 1
    assert Decimal(spot["spot_savings_usd"]["value"]) > 0
    assert data["teams"]["baseline"]["spot_savings_usd"]["value"] == "0.000000"


def test_choices_versus_baseline_and_scorecard(cls):
    _, _, data = cls
    spot = data["teams"]["spot"]
    knobs = {c["knob"]: c for c in spot["choices"]}
    assert knobs["job.pool"]["lab_baseline"] == "on-demand" and knobs["job.pool"]["team"] == "spot"
    assert knobs["job.checkpoint_every_steps"]["lever"] == "checkpointing"
    assert knobs["job.pool"]["effect"]["baseline_team"] == "baseline"
    assert data["teams"]["baseline"]["choices"] == []
    sc = spot["scorecard"]
    assert set(sc) == {"comprehensiveness", "feasibility", "finops_alignment"}
    assert all(sc[c]["cannot_measure"] for c in sc)
    assert data["teams"]["baseline"]["scorecard"]["feasibility"]["checks"][0]["passed"] is False


def test_html_is_self_contained(cls):
    state, _, _ = cls
    html = (state / "out" / "debrief.html").read_text()
    assert "default-src 'none'" in html
    assert "<script" not in html
    import re
    loads = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert all(u.startswith(("#", "data:")) for u in loads), loads
    assert html.count("<polyline") >= 7


def test_focus_csv_matches_ledger_total(cls):
    import csv
    state, _, data = cls
    rows = list(csv.DictReader((state / "out" / "focus.csv").open()))
    assert sum(int(r["x_CostMicroUSD"]) for r in rows) == int(Decimal(data["totals"]["cost_usd"]["value"]) * 10**6)


def test_empty_store_does_not_crash(tmp_path, catalog):
    write_class(tmp_path, "c2", 1, hours=1)
    (StateDir(tmp_path).cohort("c2").root / "telemetry.sqlite").unlink()
    out = write_debrief(tmp_path, "c2", tmp_path / "o", catalog=catalog)
    assert out["summary"]["total_cost_usd"] == "0.000000"


def test_choices_diff():
    got = choices({"a": {"b": 1, "c": [1]}}, {"a": {"b": 2, "c": [1]}})
    assert [(c.path, c.baseline, c.value) for c in got] == [("a.b", 1, 2)]
