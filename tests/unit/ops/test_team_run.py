"""`labctl team run`: what it refuses before starting terraform (the run itself is tested with
real terraform in tests/integration/test_remote_state.py)."""

from __future__ import annotations

import pytest

from labctl.errors import EnvironmentProblem, ExitCode, NotFoundError
from labctl.ops.team_run import run_team


def _root(tmp_path):
    root = tmp_path / "alpha"
    root.mkdir()
    (root / "main.tf").write_text("")
    (root / "terraform.tfvars.json").write_text("{}")
    return root


def test_a_folder_that_is_not_a_rendered_root_is_refused(tmp_path):
    with pytest.raises(NotFoundError, match="not a rendered team root") as err:
        run_team(tmp_path, "plan", environ={"AWS_ACCESS_KEY_ID": "x"})
    assert err.value.exit_code == ExitCode.NOT_FOUND


def test_a_run_without_credentials_in_the_environment_is_refused_before_terraform(tmp_path):
    with pytest.raises(EnvironmentProblem, match="no AWS credentials in the environment"):
        run_team(_root(tmp_path), "apply", environ={"HOME": "/root", "AWS_REGION": "us-east-1"})
    assert not (tmp_path / "alpha" / ".labctl-runs").exists()       # terraform never started


def test_the_cli_exits_with_the_error_code_and_one_line(tmp_path, run_cli):
    res = run_cli("team", "run", "--root", str(tmp_path), "--action", "plan")
    assert res.exit_code == ExitCode.NOT_FOUND
    assert "not a rendered team root" in res.output
