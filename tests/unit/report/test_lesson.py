"""The debrief follows what teams did (knob sets applied in class, drills, interruptions) and the
lesson plan (phases, takeaways), and credits only the levers that had an effect."""

from __future__ import annotations

import json
import re
from html import escape
from datetime import timedelta
from decimal import Decimal

import pytest

from labctl.cost.catalog import load_catalog
from labctl.ops.debrief import write_debrief
from labctl.report import lesson
from labctl.resources import labs_dir
from labctl.state import StateDir
from tests.unit.report.synth import T0, write_class

APPLIED = {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0, "desired_size": 1,
                                             "max_size": 1}},
           "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "5m"},
           "job": {"batch_size": 2048}}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _apply(state, cohort, team, at, knobs, result="ok"):
    """The audit line `team apply` writes (labctl.ops.team), with the knobs it applied."""
    StateDir(state).cohort(cohort).audit("team apply", result, team=team, status="changed", knobs=knobs,
                                         applied_at=at.isoformat(), knobs_sha="0" * 12)


@pytest.fixture
def applied(tmp_path, catalog):
    write_class(tmp_path, "c1", 3)
    _apply(tmp_path, "c1", "baseline", T0 + timedelta(minutes=150), APPLIED)
    _apply(tmp_path, "c1", "baseline", T0 + timedelta(minutes=200), {"job": {"gpus": 2}}, result="failed")
    write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    return json.loads((tmp_path / "out" / "debrief.json").read_text()), (tmp_path / "out" / "debrief.html").read_text()


def test_knobs_applied_in_class_are_the_teams_choices_from_their_time(applied):
    data, html = applied
    base = data["teams"]["baseline"]
    kif = base["knobs_in_force"]
    assert [(k["from"], k["source"]) for k in kif] == [("2026-12-01T09:00:00Z", "cohort file"),
                                                       ("2026-12-01T11:30:00Z", "team apply")]
    assert kif[0]["changes"] == [] and kif[1]["to"] == "2026-12-01T13:00:00Z"     # the failed apply changed nothing
    assert {c["knob"] for c in kif[1]["changes"]} >= {"node_groups.gpu_on_demand.instance_types",
                                                      "autoscaler.scale_down_enabled", "job.batch_size"}
    # each part of the class is costed from the ledger: the parts add up to the team's cost
    assert sum(Decimal(k["cost_usd"]) for k in kif) == Decimal(base["cost_usd"]["value"])
    assert {c["knob"] for c in base["choices"]} == {c["knob"] for c in kif[1]["changes"]}
    comp = base["scorecard"]["comprehensiveness"]
    assert comp["passed"] >= 3                                  # right-sizing, auto-scaling, job resources
    section = html.split('id="team-baseline"', 1)[1].split("</section>", 1)[0]
    assert "Kept the lab baseline" not in section and "team apply" in section
    assert any(m["kind"] == "change" and m["team"] == "baseline" and m["at"] == "2026-12-01T11:30:00Z"
               for m in data["lesson"]["markers"])


def test_a_set_applied_before_the_class_is_what_it_starts_with(tmp_path, catalog):
    write_class(tmp_path, "c1", 3)
    _apply(tmp_path, "c1", "baseline", T0 - timedelta(minutes=30), APPLIED)
    write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    kif = json.loads((tmp_path / "out" / "debrief.json").read_text())["teams"]["baseline"]["knobs_in_force"]
    assert len(kif) == 1 and kif[0]["from"] == "2026-12-01T09:00:00Z" and kif[0]["changes"]
    assert kif[0]["source"].startswith("team apply before the class")


def test_phases_of_the_lesson_plan_lie_over_the_window():
    got = lesson.phases(T0, T0 + timedelta(hours=4))
    assert [(p["phase"], p["start"][11:16], p["end"][11:16]) for p in got] == [
        ("Engage", "09:00", "09:30"), ("Explore", "09:30", "10:30"), ("Explain", "10:30", "11:30"),
        ("Elaborate", "11:30", "12:30"), ("Evaluate", "12:30", "13:00")]
    two = lesson.phases(T0, T0 + timedelta(hours=2))
    assert two[0]["end"][11:16] == "09:15" and two[-1]["end"][11:16] == "11:00"


@pytest.mark.parametrize("lab", ["gpu-baseline", "optimise-under-budget", "explore-instances", "runaway-bill"])
def test_every_lab_readme_has_takeaways_for_the_debrief(lab):
    items = lesson.takeaways(labs_dir() / lab / "README.md")
    assert items and all(len(i) > 20 and "**" not in i for i in items)


def test_the_page_shows_phases_markers_budget_takeaways_and_one_colour_per_team(applied):
    data, html = applied
    assert data["lesson"]["takeaways"] == lesson.takeaways(labs_dir() / "gpu-baseline" / "README.md")
    assert 'id="takeaways"' in html and escape(data["lesson"]["takeaways"][0]) in html
    charts = re.findall(r'<svg [^>]*data-chart="([^"]+)"(.*?)</svg>', html, re.S)
    line_charts = [(cid, body) for cid, body in charts if "<polyline" in body]
    assert len(line_charts) >= 7
    for cid, body in line_charts:
        assert body.count('class="phase"') == 5, cid
    cost = dict(charts)["cohort-cost"]
    assert 'data-marker="drill"' in cost and 'data-marker="change"' in cost and 'class="hline"' in cost
    # the budget on each team's cumulative cost: a line, or named at the top when far above the spend
    assert 'class="hline"' in dict(charts)["baseline-cost"]
    assert 'class="hline-off" data-line="budget $150"' in dict(charts)["spot-cost"]
    colour = {}
    for cid, body in line_charts:
        team = cid.rsplit("-", 2)[0] if cid.endswith("gpu-util") else cid.rsplit("-", 1)[0]
        for series, stroke in re.findall(r'data-series="([^"]+)"[^>]*stroke="(#[0-9a-f]{6})"', body):
            key = series if cid == "cohort-cost" else team
            colour.setdefault(key, set()).add(stroke)
    assert all(len(v) == 1 for v in colour.values()) and len({min(v) for v in colour.values()}) == 3


def test_axis_labels_fit_inside_their_chart():
    from labctl.report import svg

    start = T0.timestamp()
    body = svg.line_chart([("x", [(start, 0.0), (start + 3600, 12345.6)])], title="t", y_label="USD",
                          y_fmt=lambda v: f"${v:,.2f}", width=400, height=160)
    width = 400
    for x, anchor, text in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="tk" text-anchor="(\w+)">([^<]*)<', body):
        w = len(text) * svg.CHAR_W
        lo = float(x) - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
        hi = lo + w
        assert lo >= 0 and hi <= width, (text, lo, hi)


def test_no_leader_without_a_completed_run_and_the_page_says_why(tmp_path, catalog):
    write_class(tmp_path, "c1", 3, no_run=["baseline", "rightsized", "spot"])
    out = write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    data = json.loads((tmp_path / "out" / "debrief.json").read_text())
    assert out["summary"]["leader"] is None
    assert all(r["rank"] is None and r["why_no_completed_run"] for r in data["leaderboard"])
    html = (tmp_path / "out" / "debrief.html").read_text()
    assert 'class="top"' not in html and html.count("No completed run, so not ranked") == 3


def test_choices_credit_only_levers_that_had_an_effect(tmp_path, catalog):
    write_class(tmp_path, "c1", 3)
    write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    data = json.loads((tmp_path / "out" / "debrief.json").read_text())
    spot = {c["knob"]: c["effect"] for c in data["teams"]["spot"]["choices"]}
    # the spot team's on-demand pool never ran: its instance type gets no credit for spot's spend
    assert spot["node_groups.gpu_on_demand.instance_types"]["credited"] is False
    assert "gpu_on_demand pool never ran" in spot["node_groups.gpu_on_demand.instance_types"]["note"]
    # spot savings appear once; the other spot knobs point at that row
    spot_rows = [k for k in spot if k.startswith("node_groups.gpu_spot") or k == "job.pool"]
    shown = [k for k in spot_rows if spot[k]["credited"] and not spot[k]["same_as"]]
    assert len(shown) == 1 and spot[shown[0]]["figure"] == "spot_savings_usd"
    assert all(spot[k]["same_as"] == shown[0] for k in spot_rows if k != shown[0])
    # the drill hit the spot team's job: checkpointing is credited with the work it kept
    ck = spot["job.checkpoint_every_steps"]
    assert ck["credited"] and ck["figure"] == "checkpoint_saved_usd" and Decimal(ck["team"]) > 0
    assert (ck["baseline_team"], ck["baseline"]) == ("baseline", "0.000000")
    # the rightsized team's on-demand pool ran: its instance type is credited
    right = {c["knob"]: c["effect"] for c in data["teams"]["rightsized"]["choices"]}
    assert right["node_groups.gpu_on_demand.instance_types"]["credited"] is True
    t = data["teams"]["spot"]
    assert t["interruption_drills"]["value"] == 1 and t["resumed_from_checkpoint"]["value"] == 1
    # what the interruption cost: 0.1 s redone + 7 min waiting, at the team's GPU cost per GPU-hour (1-GPU nodes)
    per_gpu_hour = Decimal(t["gpu_cost_usd"]["value"]) / Decimal(t["gpu_node_hours"]["value"])
    assert Decimal(t["interruption_cost_usd"]["value"]) == pytest.approx(per_gpu_hour * Decimal("420.1") / 3600, rel=Decimal("0.01"))
    assert Decimal(t["checkpoint_saved_usd"]["value"]) == pytest.approx(per_gpu_hour / 2, rel=Decimal("0.01"))   # 1800 s kept
    [row] = t["interruption_log"]
    assert row["waited_minutes"] == 7.0 and row["resume_from_step"] == 9000
