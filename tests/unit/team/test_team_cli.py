"""`labctl team knobs|plan|apply`: wiring, one-line refusals, JSON output."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from labctl.errors import ExitCode


@pytest.fixture
def labctl(tmp_path):
    from labctl.cli.main import _register, cli
    from labctl.cli.team import ALL

    _register()
    for c in ALL:
        cli.add_command(c)
    state = tmp_path / "state"

    def run(*args):
        return CliRunner().invoke(cli, ["--state-dir", str(state), *args])
    return run


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent("""\
        cohort: cl
        window: {start: 2026-12-01T09:00:00Z, duration: 4h}
        lab: explore-instances
        teams: [{name: alpha}]
    """))
    return p


def test_team_knobs_writes_and_prints(labctl, spec, tmp_path):
    res = labctl("team", "knobs", "alpha", "--cohort", str(spec))
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and "knobs.yaml" in res.output
    res = labctl("--output", "json", "team", "knobs", "alpha", "--cohort", str(spec))
    data = json.loads(res.output)
    assert data["created"] is False and data["content"].startswith("# Knobs of team alpha")
    res = labctl("team", "knobs", "alpha", "--cohort", str(spec), "--print")
    assert res.output.startswith("# Knobs of team alpha")


def test_out_of_limits_knobs_are_refused_in_one_line_per_problem(labctl, spec, tmp_path):
    labctl("team", "knobs", "alpha", "--cohort", str(spec))
    knobs = tmp_path / "state" / "cohorts" / "cl" / "teams" / "alpha" / "knobs.yaml"
    knobs.write_text("node_groups:\n  gpu_on_demand:\n    instance_types: [p4d.24xlarge]\n")
    res = labctl("team", "plan", "alpha", "--cohort", str(spec))
    assert res.exit_code == ExitCode.INVALID_SPEC
    lines = res.output.strip().splitlines()
    assert all(line.startswith(f"error: {knobs}:") for line in lines)
    assert lines[0] == (f"error: {knobs}:3: node_groups.gpu_on_demand.instance_types[0]: instance type "
                                  "'p4d.24xlarge' is not allowed by this lab (allowed: g4dn.xlarge, g5.xlarge, "
                                  "g6.xlarge, g6e.xlarge)")


def test_team_apply_before_up_says_what_to_do(labctl, spec, tmp_path):
    res = labctl("team", "apply", "alpha", "--cohort", str(spec))
    assert res.exit_code == ExitCode.NOT_FOUND
    # the next step acts on the same state directory as the command that failed
    assert f"run `labctl --state-dir {tmp_path / 'state'} up` first" in res.output
