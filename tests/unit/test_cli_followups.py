"""Next steps a command prints are commands a facilitator can copy: they carry the --state-dir in
use when it is not the default, COHORT may be the file everywhere, and counts read as English."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from labctl.errors import ExitCode
from labctl.text import plural


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent("""\
        cohort: follow
        window: {start: 2030-01-01T09:00:00Z, duration: 4h}
        lab: explore-instances
        teams: [{name: alpha}]
    """))
    return p


def _cli(*args, env=None):
    from labctl.cli.main import _register, cli

    _register()
    return CliRunner().invoke(cli, list(args), env=env or {"LABCTL_STATE_DIR": ""})


def test_an_errors_next_step_names_the_state_dir_in_use(tmp_path, spec):
    sd = tmp_path / "my state"
    r = _cli("--state-dir", str(sd), "team", "apply", "alpha", "--cohort", str(spec))
    assert r.exit_code == ExitCode.NOT_FOUND
    assert f"labctl --state-dir '{sd}' up" in r.output
    r = _cli("--state-dir", str(sd), "-o", "json", "team", "apply", "alpha", "--cohort", str(spec))
    assert f"labctl --state-dir '{sd}' up" in json.loads(r.stdout)["error"]


def test_with_the_default_state_dir_the_next_step_is_plain(tmp_path, spec, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _cli("team", "apply", "alpha", "--cohort", str(spec))
    assert r.exit_code == ExitCode.NOT_FOUND
    assert "`labctl up`" in r.output and "--state-dir" not in r.output


def test_team_knobs_next_step_names_the_state_dir(tmp_path, spec):
    sd = tmp_path / "st"
    r = _cli("--state-dir", str(sd), "team", "knobs", "alpha", "--cohort", str(spec))
    assert r.exit_code == 0, r.output
    assert f"labctl --state-dir {sd} team plan alpha --cohort {spec}" in r.output
    r = _cli("team", "knobs", "alpha", "--cohort", str(spec), env={"LABCTL_STATE_DIR": str(sd)})
    assert f"labctl --state-dir {sd} team plan" in r.output            # the environment's, too


def test_simulate_accepts_the_cohort_file(tmp_path, spec, monkeypatch):
    from labctl.state import StateDir

    sd = tmp_path / "st"
    StateDir(sd).cohort("follow").root.mkdir(parents=True)
    seen = {}

    class Report:
        hours, cohort, seed, mode, teams = 4.0, "follow", 0, "pure", []
        rows = {"lifecycle": 1, "samples": 2, "events": 0}

    def fake(state_dir, cohort_id, **kw):
        seen["id"] = cohort_id
        return Report()
    monkeypatch.setattr("labctl.cli.sim.simulate_class", fake)
    r = _cli("--state-dir", str(sd), "simulate", str(spec))
    assert r.exit_code == 0, r.output
    assert seen["id"] == "follow"
    assert "1 lifecycle row, 2 samples, 0 events" in r.output


def test_counts_read_as_english(tmp_path, monkeypatch):
    from labctl.ops.down import DownReport

    assert [plural(n, "team") for n in (0, 1, 2)] == ["0 teams", "1 team", "2 teams"]
    monkeypatch.setattr("labctl.ops.down.down", lambda *a, **k: DownReport("c", False, [], ["i-1"], [], 0.1))
    r = _cli("--state-dir", str(tmp_path), "down", "c")
    assert r.exit_code == ExitCode.LEFTOVERS
    assert "1 resource left" in r.output and "(s)" not in r.output
