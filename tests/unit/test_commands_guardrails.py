"""Commands refuse bad input before touching anything, and refuse a restarted emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labctl.errors import EmulatorError, ExitCode
from labctl.ops.common import check_emulator_matches
from labctl.ops.target import Connection, provider_settings
from labctl.meta import CohortMeta
from labctl.state import StateDir


LABS = sorted(p.parent.name for p in (Path(__file__).resolve().parents[2] / "labs").glob("*/lab.yaml"))


@pytest.mark.parametrize("lab", LABS)
def test_init_writes_a_commented_cohort_that_validates(run_cli, tmp_path, lab):
    target = tmp_path / "cohort.yaml"
    res = run_cli("init", "--lab", lab, str(target))
    assert res.exit_code == 0, res.output
    assert "# A labctl cohort" in target.read_text()
    checked = run_cli("validate", str(target))
    assert checked.exit_code == 0, checked.output
    again = run_cli("init", str(target))
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.mark.parametrize("command", ["up", "plan", "render"])
def test_bad_cohort_is_refused_before_anything_is_touched(run_cli, tmp_path, command):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cohort: Bad_Name\nwindow: {start: 2026-12-01T09:00:00Z, duration: 4h}\nlab: gpu-baseline\n"
                   "teams: [{name: a}]\n")
    state = tmp_path / "state"
    args = [command, str(bad)] + (["--out", str(tmp_path / "out")] if command == "render" else [])
    res = run_cli(*args, state_dir=state)
    assert res.exit_code == ExitCode.INVALID_SPEC
    assert "bad.yaml:1: cohort: 'Bad_Name' is not a DNS-1123 label" in res.output
    assert not state.exists() and not (tmp_path / "out").exists()


def test_unknown_team_in_teams_option_is_a_clear_error(run_cli, tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text("cohort: c\nwindow: {start: 2026-12-01T09:00:00Z, duration: 4h}\nlab: gpu-baseline\n"
                    "teams: [{name: a}]\n")
    res = run_cli("up", str(spec), "--teams", "zz", "--dry-run", "--allow-past")
    assert res.exit_code == ExitCode.INVALID_SPEC
    assert "unknown team 'zz'" in res.output


def _cohort_with_resources(tmp_path, boot_id):
    cs = StateDir(tmp_path).cohort("c")
    cs.write_meta(CohortMeta.from_dict({"cohort": "c", "target": "embedded", "emulator_boot_id": boot_id}))
    d = cs.team_dir("a")
    d.mkdir(parents=True)
    (d / "terraform.tfstate").write_text(json.dumps({"resources": [{"mode": "managed", "type": "aws_vpc"}]}))
    return cs


def _conn(boot_id):
    return Connection("embedded", "us-east-1", "http://127.0.0.1:1", provider_settings("embedded"),
                      {}, boot_id)


def test_restarted_emulator_is_refused_when_the_cohort_has_resources(tmp_path):
    cs = _cohort_with_resources(tmp_path, "boot-1")
    check_emulator_matches(cs, _conn("boot-1"))              # same emulator: fine
    with pytest.raises(EmulatorError, match="restarted"):
        check_emulator_matches(cs, _conn("boot-2"))


def test_status_of_unknown_cohort_is_not_found(run_cli):
    res = run_cli("status", "nope")
    assert res.exit_code == ExitCode.NOT_FOUND
    assert "neither a cohort file nor a cohort" in res.output
