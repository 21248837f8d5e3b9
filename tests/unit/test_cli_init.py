"""`labctl init`: never overwrites by accident, names the labs there are, and writes an example
whose comments agree with its values."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from labctl.errors import ExitCode
from labctl.ops.scaffold import available_labs


@pytest.fixture
def run(tmp_path):
    from labctl.cli.main import _register, cli

    _register()

    def _run(*args):
        return CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "state"), *args])
    return _run


def test_init_onto_an_existing_file_refuses_with_the_documented_code(run, tmp_path):
    f = tmp_path / "cohort.yaml"
    f.write_text("my edited cohort\n")
    r = run("init", str(f))
    assert r.exit_code == ExitCode.USAGE
    assert "already exists" in r.output and "--force" in r.output
    assert f.read_text() == "my edited cohort\n"
    r = run("init", str(f), "--force")
    assert r.exit_code == 0 and f.read_text().startswith("# A labctl cohort")


def test_an_unknown_lab_lists_the_labs(run, tmp_path):
    f = tmp_path / "cohort.yaml"
    r = run("init", str(f), "--lab", "gpu-basline")
    assert r.exit_code == ExitCode.INVALID_SPEC
    for lab in available_labs():
        assert lab in r.output
    assert not f.exists()
    assert "gpu-baseline" in available_labs() and "workload" not in available_labs()


@pytest.mark.parametrize("lab", available_labs())
def test_the_example_comments_agree_with_its_window_and_it_validates(run, tmp_path, lab):
    f = tmp_path / f"{lab}.yaml"
    assert run("init", str(f), "--lab", lab).exit_code == 0
    text = f.read_text()
    start = datetime.fromisoformat(re.search(r"^\s*start: (\S+)", text, re.M).group(1).replace("Z", "+00:00"))
    end = datetime.fromisoformat(re.search(r"end: (\S+)", text).group(1).replace("Z", "+00:00"))
    duration = re.search(r"^\s*duration: (\d+)h", text, re.M).group(1)
    assert end - start == timedelta(hours=int(duration))           # the alternative names the same window
    assert f"labctl validate {f}" in text                           # the comment names the file written
    r = run("validate", str(f))
    assert r.exit_code == 0, r.output


def test_init_follow_up_names_the_state_dir_when_it_is_not_the_default(tmp_path):
    from labctl.cli.main import _register, cli

    _register()
    f = tmp_path / "c.yaml"
    r = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "st"), "init", str(f)])
    assert f"labctl --state-dir {tmp_path / 'st'} validate {f}" in r.output
    r = CliRunner().invoke(cli, ["init", str(f), "--force"], env={"LABCTL_STATE_DIR": ""})
    assert f"then: labctl validate {f}" in r.output
