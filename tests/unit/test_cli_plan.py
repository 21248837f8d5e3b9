"""`labctl plan` as a facilitator reads it: readable text, money to the cent (exact in JSON), teams
over budget flagged, the job's pool priced by what the job needs, and the same estimate as
`labctl preflight` for the same cohort (the last with real terraform against the emulator)."""

from __future__ import annotations

import json
import re
import textwrap
from decimal import Decimal

import pytest
from click.testing import CliRunner

from labctl.cost.catalog import load_catalog
from labctl.ops.estimates import spec_estimate, team_expected_use
from labctl.ops.plan import PlanReport, TeamPlan
from labctl.text import change_line
from labctl.spec.load import load_cohort

COHORT = textwrap.dedent("""\
    cohort: plan-c
    window: {start: 2030-01-01T09:00:00Z, duration: 4h}
    lab: gpu-baseline
    facilitator_cap_usd: 500
    teams:
      - name: big
        budget_usd: 20
      - name: spotty
        budget_usd: 40
        knobs:
          node_groups:
            gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 0}
            gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], min_size: 0, desired_size: 0, max_size: 2}
          job: {pool: spot, checkpoint_every_steps: 500}
""")


@pytest.fixture
def cohort(tmp_path):
    p = tmp_path / "cohort.yaml"
    p.write_text(COHORT)
    return load_cohort(p), p


def _report(cohort):
    catalog = load_catalog()
    teams = []
    for t in cohort.teams:
        est, use = spec_estimate(cohort, t, catalog)
        changes = [change_line(["create"], "module.cluster.aws_eks_cluster.this")]
        teams.append(TeamPlan(t.name, "would-change", changes, est, budget_usd=t.budget_usd, expected=use))
    return PlanReport(cohort.id, cohort.cohort.window.hours, teams, 1.0)


def test_plan_text_has_no_python_reprs_and_money_to_the_cent(cohort):
    c, _ = cohort
    text = _report(c).text()
    assert "['" not in text and "Decimal(" not in text and "{'" not in text
    # amounts of money, not unit prices ("$0.023 per GB-month", and the catalog's in warnings)
    money = "\n".join(line for line in text.splitlines() if "warning:" not in line)
    amounts = [m.group(0) for m in re.finditer(r"\$[\d,]+(?:\.\d+)?(?![\d.]| per)", money)]
    assert amounts
    assert all(re.fullmatch(r"\$[\d,]+\.\d\d", a) for a in amounts), amounts
    assert "cohort plan-c, 2 teams, 4 h:" in text


def test_change_lines_read_like_terraform():
    assert change_line(["create"], "a.b") == "+ a.b"
    assert change_line(["update"], "a.b") == "~ a.b"
    assert change_line(["delete", "create"], "a.b") == "-/+ a.b (replace)"


def test_plan_flags_teams_whose_estimate_exceeds_their_budget(cohort):
    c, _ = cohort
    report = _report(c)
    text = report.text()
    assert [t.team for t in report.over_budget] == ["big"]          # 2 x g5.12xlarge for 4 h > $20
    assert "! over budget: expected $46.42 over the session, budget $20.00" in text
    assert "! 1 team expected over budget: big" in text
    data = report.as_dict()
    assert data["over_budget"] == ["big"]
    big = next(t for t in data["teams"] if t["team"] == "big")
    assert big["over_budget"] is True and big["budget_usd"] == "20"
    exact = report.teams[0].estimate.total()[1]
    assert Decimal(big["estimate_usd"]["desired"]) == exact                  # exact in JSON, not to the cent
    assert exact != exact.quantize(Decimal("0.01"))


def test_the_jobs_pool_is_priced_by_what_the_job_needs_not_desired_zero(cohort):
    c, _ = cohort
    spotty = c.team("spotty")
    use = team_expected_use(spotty)
    assert use is not None and (use.group, use.nodes, use.desired) == ("gpu_spot", 1, 0)
    est, _ = spec_estimate(c, spotty, load_catalog())
    nodes = next(x for x in est.components if "gpu_spot" in x.address and x.part == "nodes")
    lo, expected, hi = nodes.cost
    assert lo == 0 and expected > 0 and hi == 2 * expected            # 1 node of 2, while the job runs
    text = _report(c).text()
    assert "gpu_spot priced at 1 node while the job runs" in text and "not its desired size 0" in text


@pytest.mark.terraform
@pytest.mark.emulator
def test_plan_and_preflight_give_the_same_estimate_for_the_same_cohort(tmp_path, cohort):
    from labctl.aws import emulator
    from labctl.cli.main import _register, cli

    _register()
    _, path = cohort
    state = tmp_path / "state"
    emulator.start_background(state)
    try:
        def run(*args):
            r = CliRunner().invoke(cli, ["--state-dir", str(state), "-o", "json", *args])
            return r, json.loads(r.stdout)

        r_plan, plan = run("plan", str(path))
        assert r_plan.exit_code == 0, r_plan.output
        _, pre = run("preflight", str(path))
    finally:
        emulator.stop_background(state)
    budget = next(c for c in pre["checks"] if c["name"] == "budget:cap")["details"]
    for t in plan["teams"]:
        est = t["estimate_usd"]
        assert budget["teams"][t["team"]] == {"desired": est["desired"], "max": est["max"]}, t["team"]
    assert budget["estimate_desired_usd"] == plan["cohort_estimate_usd"]["desired"]
    assert budget["estimate_max_usd"] == plan["cohort_estimate_usd"]["max"]
