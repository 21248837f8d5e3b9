"""The README's exit-code table is what the commands do: each documented code is produced by a
command, in text and with ``--output json`` (then stdout is one JSON object naming the error and
its code). Codes that need a failing cloud (4, 5, 6) come from the real command with its use case
replaced by one that reports that failure; the others are real runs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from labctl.errors import EmulatorError, ExitCode

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_exit_codes() -> dict[int, str]:
    text = README.read_text()
    section = text.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", section, flags=re.M)
    assert rows, "no exit-code table under '### Exit codes' in README.md"
    return {int(code): meaning for code, meaning in rows}


GOOD = """\
cohort: codes
target: {target}
window: {{start: 2030-01-01T09:00:00Z, duration: 4h}}
lab: explore-instances
teams: [{{name: alpha}}, {{name: beta}}]
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    from labctl.cli.main import _register, cli

    _register()
    good = tmp_path / "good.yaml"
    good.write_text(GOOD.format(target="embedded"))
    local = tmp_path / "local.yaml"
    local.write_text(GOOD.format(target="localstack"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("cohort: Not_A_Label\nteams: 3\n")

    def run(*args: str, path_env: str | None = None):
        env = {"PATH": path_env} if path_env is not None else {}
        return CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "state"), *args], env=env)

    return run, {"good": good, "local": local, "bad": bad, "tmp": tmp_path}, monkeypatch


def _bug(*_a, **_k):
    raise ZeroDivisionError("injected bug")


def _interrupt(*_a, **_k):
    raise KeyboardInterrupt


def drive(code: int, run, files, mp, json_out: bool):
    """Run the command that must end with ``code``; returns the click Result."""
    o = ["-o", "json"] if json_out else []
    if code == 0:
        return run(*o, "validate", str(files["good"]))
    if code == 1:
        mp.setattr("labctl.ops.validate.validate_cohort", _bug)
        return run(*o, "validate", str(files["good"]))
    if code == 2:
        return run(*o, "validate", "--no-such-option", str(files["good"]))
    if code == 3:
        return run(*o, "validate", str(files["bad"]))
    if code == 4:
        from labctl.ops.plan import PlanReport, TeamPlan

        mp.setattr("labctl.ops.plan.plan", lambda *a, **k: PlanReport(
            "codes", Decimal(4), [TeamPlan("alpha", "failed", error="Error: creating EKS Cluster: boom")], 0.1))
        return run(*o, "plan", str(files["good"]))
    if code == 5:
        def stale(*_a, **_k):
            raise EmulatorError("cohort codes was provisioned on an emulator that is no longer running")
        mp.setattr("labctl.ops.status.status", stale)
        return run(*o, "status", str(files["good"]))
    if code == 6:
        from labctl.ops.down import DownReport

        mp.setattr("labctl.ops.down.down", lambda *a, **k: DownReport(
            "codes", False, [], ["ec2 instance i-0abc (alpha)"], [], 0.1))
        return run(*o, "down", "codes")
    if code == 7:
        return run(*o, "status", "no-such-cohort")
    if code == 8:
        # localstack: nothing is started before terraform is looked for
        return run(*o, "up", str(files["local"]), path_env="/nonexistent")
    if code == 9:
        from labctl.errors import RefusedError

        def torn_down(*_a, **_k):
            raise RefusedError("cohort codes was torn down; team plan would provision it again")
        mp.setattr("labctl.ops.team.team_plan", torn_down)
        return run(*o, "team", "plan", "alpha", "--cohort", str(files["good"]))
    if code == 10:
        from labctl.errors import ClusterUnreachable

        def unreachable(*_a, **_k):
            raise ClusterUnreachable("cluster codes-alpha: connection refused (https://127.0.0.1:1)")
        mp.setattr("labctl.ops.status.status", unreachable)
        return run(*o, "status", str(files["good"]))
    if code == 130:
        mp.setattr("labctl.ops.validate.validate_cohort", _interrupt)
        return run(*o, "validate", str(files["good"]))
    raise AssertionError(f"README documents exit code {code}, but this test has no command that produces it")


def test_readme_table_lists_every_exit_code_labctl_has():
    assert set(readme_exit_codes()) == {int(c) for c in ExitCode}


@pytest.mark.parametrize("code", sorted(readme_exit_codes()))
def test_each_documented_exit_code_is_what_a_command_returns(code, env):
    run, files, mp = env
    result = drive(code, run, files, mp, json_out=False)
    assert result.exit_code == code, result.output
    if code not in (0, 2):
        assert "Traceback" not in result.output


@pytest.mark.parametrize("code", sorted(c for c in readme_exit_codes() if c != 0))
def test_with_output_json_a_failure_is_one_json_object_with_its_code(code, env):
    run, files, mp = env
    result = drive(code, run, files, mp, json_out=True)
    assert result.exit_code == code
    doc = json.loads(result.stdout)            # exactly one JSON document on stdout
    if "error" in doc:
        assert doc["exit_code"] == code
        assert doc["error"]
    else:                                      # the command's own result, naming the failure
        assert code in (4, 6)
        assert "failed" in json.dumps(doc) or doc.get("clean") is False


def test_json_spec_error_lists_every_problem_with_file_line_and_field(env):
    run, files, _ = env
    result = run("validate", str(files["bad"]), "-o", "json")
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 3 and doc["kind"] == "SpecError"
    fields = {p["field"] for p in doc["problems"]}
    assert {"cohort", "teams"} <= fields
    assert all(p["file"].endswith("bad.yaml") for p in doc["problems"])


def test_a_usage_error_with_output_json_after_the_command_is_json_too(tmp_path):
    # click stops parsing at the unknown option, before `-o json` given after it is applied
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "labctl", "--state-dir", str(tmp_path), "validate", "--bogus",
                        "x.yaml", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == ExitCode.USAGE
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 2 and "--bogus" in doc["error"]
