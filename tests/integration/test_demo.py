"""`labctl demo`: the README's main command, end to end on the embedded default (real terraform,
the emulator, the simulated class), run once for the whole module exactly as a newcomer runs it:
a subprocess started from a directory of their own, with no --state-dir and no $LABCTL_*.

What it must show: every team up and torn down with the zero-leftover proof (issue: the first
hour); a debrief that tells the strategies apart by GPU efficiency, shows the drill the spot team
survived thanks to its checkpoints and puts the lesson's phases on the page; and costs that an
independent recomputation from the store and the catalog files, and focus.csv, agree with to the
cent, the EKS control plane in every team's (issue: the debrief's truth)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from labctl.state import StateDir
from labctl.telemetry.store import Store
from tests.integration.conftest import mirror_or_skip, terraform_or_skip
from tests.unit.cost import recompute as audit

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def _newcomer_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABCTL_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The default state directory is relative (./.labctl); terraform runs in each team's own
    directory, so every path labctl hands it must have been made absolute first. With a relative
    TF_CLI_CONFIG_FILE terraform ignored the mirror, went online and every team failed."""
    terraform_or_skip()
    mirror_or_skip()
    cwd = tmp_path_factory.mktemp("newcomer") / "somewhere" / "else"
    cwd.mkdir(parents=True)
    res = subprocess.run([sys.executable, "-m", "labctl", "--output", "json", "demo", "--teams", "3", "--seed", "7"],
                         cwd=cwd, env=_newcomer_env(), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    data = json.loads(Path(summary["debrief"]["json"]).read_text())
    html = Path(summary["debrief"]["html"]).read_text()
    return {"cwd": cwd, "res": res, "summary": summary, "data": data, "html": html}


def test_demo_from_any_directory_with_the_default_state_dir(run):
    summary, res, cwd = run["summary"], run["res"], run["cwd"]
    assert [t["status"] for t in summary["up"]["teams"]] == ["created", "created", "created"]
    pools = {t["team"]: {ng["pool"] for ng in t["node_groups"]} for t in summary["status"]["teams"]}
    assert pools == {"baseline": {"system", "gpu_on_demand"}, "rightsized": {"system", "gpu_on_demand"},
                     "spot": {"system", "gpu_on_demand", "gpu_spot"}}
    assert summary["teardown"]["clean"] is True and summary["teardown"]["left"] == []
    for team in ("baseline", "rightsized", "spot"):
        proof = summary["teardown"]["teams"][team]
        assert proof["destroy"] == "destroyed"
        # The simulated class started instances; their volumes go with them when the sweep
        # terminates them: swept, not "removed by another command" (nothing else ran).
        assert proof["removed_elsewhere"] == [], proof
        assert any(s.startswith("ec2:volume") and "(with instance i-" in s for s in proof["swept"]), proof["swept"]
    state = cwd / ".labctl"
    assert summary["state_dir"] == str(state)
    assert (state / "cohorts" / summary["cohort"] / "reports" / "teardown-baseline.json").exists()
    assert "HTTP/1.1" not in res.stderr          # the emulator's request log stays out of the user's way


def test_the_baseline_and_the_optimised_teams_have_different_gpu_efficiencies(run):
    data = run["data"]
    eff = {n: Decimal(t["gpu_efficiency"]["value"]) for n, t in data["teams"].items()}
    assert eff["baseline"] < Decimal("0.1")            # one busy GPU of the eight it pays for
    assert eff["rightsized"] > Decimal("0.5") and eff["spot"] > Decimal("0.5")
    checks = {n: {c["check"]: c["passed"] for c in t["scorecard"]["finops_alignment"]["checks"]}
              for n, t in data["teams"].items()}
    assert checks["baseline"]["GPU efficiency at least 50%"] is False
    assert checks["rightsized"]["GPU efficiency at least 50%"] is True


def test_the_spot_team_survives_the_labs_drill_thanks_to_a_checkpoint(run):
    summary, data, html = run["summary"], run["data"], run["html"]
    spot = data["teams"]["spot"]
    assert spot["interruption_drills"]["value"] >= 1 and spot["interruptions_survived"]["value"] >= 1
    assert spot["resumed_from_checkpoint"]["value"] >= 1 and spot["completed_runs"]["value"] == 2
    assert Decimal(spot["checkpoint_saved_usd"]["value"]) > 0 and Decimal(spot["interruption_cost_usd"]["value"]) > 0
    ck = next(c for c in spot["choices"] if c["knob"] == "job.checkpoint_every_steps")["effect"]
    assert ck["credited"] and Decimal(ck["team"]) > Decimal(ck["baseline"]) == 0
    assert summary["simulation"]["teams"]["spot"]["interruptions"] >= 1
    assert [m["kind"] for m in data["lesson"]["markers"]].count("drill") == 1
    assert html.count('class="phase" data-phase="Explain"') >= 7 and 'id="takeaways"' in html


def test_demo_stops_at_the_first_failed_step_and_names_the_team(tmp_path):
    """Every team fails at init (a provider mirror that holds no provider): the demo says which
    team failed and why, exits with up's documented code (4), and never runs the class or the
    debrief on a half-provisioned cohort."""
    terraform_or_skip()
    empty_mirror = tmp_path / "empty-mirror"
    (empty_mirror / "registry.terraform.io" / "hashicorp").mkdir(parents=True)
    res = subprocess.run([sys.executable, "-m", "labctl", "demo", "--teams", "1"], cwd=tmp_path,
                         env=_newcomer_env(LABCTL_TF_MIRROR=str(empty_mirror)),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 4, (res.stdout[-2000:], res.stderr[-2000:])
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.stderr[-2000:]
    assert "baseline" in errors[0] and "init" in errors[0]
    assert "Traceback" not in res.stderr
    out = res.stdout + res.stderr
    assert "simulated" not in out and "debrief" not in out
    assert not (tmp_path / ".labctl" / "cohorts" / "demo-s0" / "reports" / "debrief").exists()


def test_demo_costs_agree_with_an_independent_recomputation_and_focus_to_the_cent(run):
    summary, debrief = run["summary"], run["data"]
    cs = StateDir(Path(summary["state_dir"])).cohort(summary["cohort"])
    start = datetime.fromisoformat(debrief["window"]["start"].replace("Z", "+00:00"))
    as_of = datetime.fromisoformat(debrief["as_of"].replace("Z", "+00:00"))
    hours = Decimal((as_of - start).total_seconds()) / 3600
    with Store.for_cohort(cs.root) as store:
        rows = store.lifecycle()
    costs = audit.team_costs(rows, start, as_of)
    focus: dict[str, int] = defaultdict(int)
    with open(summary["debrief"]["focus_csv"], newline="") as f:
        for r in csv.DictReader(f):
            focus[r["x_Team"]] += int(r["x_CostMicroUSD"])
            assert r["SkuId"] and r["SkuPriceId"]
    assert set(debrief["teams"]) == set(costs) == {"baseline", "rightsized", "spot"}
    for team, t in debrief["teams"].items():
        shown = Decimal(t["cost_usd"]["value"])
        mine = sum(costs[team].values(), Decimal(0))
        assert abs(mine - shown) < Decimal("0.0001") and mine.quantize(Decimal("0.01")) == shown.quantize(Decimal("0.01"))
        assert Decimal(t["cost_by_resource_usd"]["EKS control plane"]) == Decimal("0.10") * hours > 0
        assert Decimal(focus[team]).scaleb(-6) == shown                     # focus.csv: the same totals
    assert (cs.reports_dir / "debrief" / "focus.parquet").exists()
