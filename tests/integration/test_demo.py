"""`labctl demo`: the README's main command, end to end on the embedded default, exactly as a
newcomer runs it: from a directory of their own, with no --state-dir and no $LABCTL_STATE_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def _newcomer_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABCTL_")}
    env.update(extra)
    return env


def test_demo_from_any_directory_with_the_default_state_dir(tmp_path):
    """The default state directory is relative (./.labctl); terraform runs in each team's own
    directory, so every path labctl hands it must have been made absolute first. With a relative
    TF_CLI_CONFIG_FILE terraform ignores the mirror, goes online and every team fails."""
    terraform_or_skip()
    mirror_or_skip()
    cwd = tmp_path / "somewhere" / "else"
    cwd.mkdir(parents=True)
    res = subprocess.run([sys.executable, "-m", "labctl", "--output", "json", "demo", "--teams", "2"],
                         cwd=cwd, env=_newcomer_env(), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    assert [t["status"] for t in summary["up"]["teams"]] == ["created", "created"]
    pools = {t["team"]: {ng["pool"] for ng in t["node_groups"]} for t in summary["status"]["teams"]}
    assert pools == {"baseline": {"system", "gpu_on_demand"}, "rightsized": {"system", "gpu_on_demand"}}
    assert summary["teardown"]["clean"] is True and summary["teardown"]["left"] == []
    for team in ("baseline", "rightsized"):
        assert summary["teardown"]["teams"][team]["destroy"] == "destroyed"
    state = cwd / ".labctl"
    assert summary["state_dir"] == str(state)
    assert (state / "cohorts" / summary["cohort"] / "reports" / "teardown-baseline.json").exists()
    assert "HTTP/1.1" not in res.stderr          # the emulator's request log stays out of the user's way


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
