"""`status` never shows a cohort as up when the embedded emulator that held it is gone: exit 5,
one line, and what to run; a torn-down cohort shows as torn down."""

from __future__ import annotations

import json

import pytest

from labctl.aws import emulator as emu
from labctl.errors import ExitCode
from labctl.meta import CohortMeta
from labctl.state import StateDir


def _cohort(state, status="up", boot="boot-old"):
    cs = StateDir(state).cohort("c1")
    cs.write_meta(CohortMeta.from_dict({"cohort": "c1", "target": "embedded", "region": "us-east-1", "status": status,
                   "emulator_boot_id": boot, "window_end": "2030-01-01T00:00:00+00:00", "all_teams": ["a"]}))
    d = cs.team_dir("a")
    d.mkdir(parents=True)
    (d / "terraform.tfstate").write_text(json.dumps({"resources": [
        {"mode": "managed", "type": "aws_vpc", "name": "this", "instances": [{"attributes": {"id": "vpc-1"}}]}]}))
    return cs


def _one_error(res):
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    assert "Traceback" not in res.output
    return errors[0]


def test_status_with_the_emulator_stopped_exits_5(run_cli, tmp_path):
    _cohort(tmp_path / "state")
    res = run_cli("status", "c1")
    assert res.exit_code == ExitCode.EMULATOR, res.output
    line = _one_error(res)
    assert "c1" in line and "not running" in line and " down c1`" in line


@pytest.mark.emulator
def test_status_after_the_emulator_restarted_exits_5(run_cli, tmp_path):
    state = tmp_path / "state"
    _cohort(state, boot="boot-of-an-earlier-emulator")
    with emu.Emulator() as e:
        (state / emu.STATE_FILE).write_text(json.dumps({"url": e.url, "boot_id": e.boot_id, "pid": None}))
        res = run_cli("status", "c1")
    assert res.exit_code == ExitCode.EMULATOR, res.output
    assert "restarted" in _one_error(res)


def test_status_of_a_torn_down_cohort_says_so(run_cli, tmp_path):
    _cohort(tmp_path / "state", status="down")
    res = run_cli("status", "c1", "--output", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "down"
