"""`labctl demo --teams 3 --seed 7` end to end (real terraform, the emulator, the simulated class):
its debrief tells the strategies apart by GPU efficiency, shows the drill the spot team survived
thanks to its checkpoints, and puts the lesson's phases on the page."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from labctl.ops.demo import demo
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture(scope="module")
def debrief(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    state = tmp_path_factory.mktemp("demo-lesson")
    summary = demo(state, n_teams=3, seed=7, log=lambda _line: None, quiet=True)
    data = json.loads(open(summary["debrief"]["json"]).read())
    html = open(summary["debrief"]["html"]).read()
    return summary, data, html


def test_the_baseline_and_the_optimised_teams_have_different_gpu_efficiencies(debrief):
    _, data, _ = debrief
    eff = {n: Decimal(t["gpu_efficiency"]["value"]) for n, t in data["teams"].items()}
    assert eff["baseline"] < Decimal("0.1")            # one busy GPU of the eight it pays for
    assert eff["rightsized"] > Decimal("0.5") and eff["spot"] > Decimal("0.5")
    checks = {n: {c["check"]: c["passed"] for c in t["scorecard"]["finops_alignment"]["checks"]}
              for n, t in data["teams"].items()}
    assert checks["baseline"]["GPU efficiency at least 50%"] is False
    assert checks["rightsized"]["GPU efficiency at least 50%"] is True


def test_the_spot_team_survives_the_labs_drill_thanks_to_a_checkpoint(debrief):
    summary, data, html = debrief
    spot = data["teams"]["spot"]
    assert spot["interruption_drills"]["value"] >= 1 and spot["interruptions_survived"]["value"] >= 1
    assert spot["resumed_from_checkpoint"]["value"] >= 1 and spot["completed_runs"]["value"] == 2
    assert Decimal(spot["checkpoint_saved_usd"]["value"]) > 0 and Decimal(spot["interruption_cost_usd"]["value"]) > 0
    ck = next(c for c in spot["choices"] if c["knob"] == "job.checkpoint_every_steps")["effect"]
    assert ck["credited"] and Decimal(ck["team"]) > Decimal(ck["baseline"]) == 0
    assert summary["simulation"]["teams"]["spot"]["interruptions"] >= 1
    assert [m["kind"] for m in data["lesson"]["markers"]].count("drill") == 1
    assert html.count('class="phase" data-phase="Explain"') >= 7 and 'id="takeaways"' in html
