"""One cohort, one writer: a second state-changing command waits for the first (saying for whom)
or is refused with --no-wait; a lock left by a killed process is taken over, and said so; the
reaper never waits behind a facilitator's command; relative paths never reach terraform."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from labctl.errors import ExitCode, RefusedError
from labctl.meta import CohortMeta
from labctl.state import CohortState, StateDir

HOLDER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from labctl.state import CohortState
    cs = CohortState(Path(sys.argv[1]))
    with cs.exclusive(sys.argv[2]):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
        if sys.argv[4] == "die":
            import os, signal
            os.kill(os.getpid(), signal.SIGKILL)
    print("released", flush=True)
""")


def _hold(root: Path, command: str, seconds: float, mode: str = "release") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), command, str(seconds), mode],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_no_wait_is_refused_naming_the_holder(tmp_path):
    cs = StateDir(tmp_path).cohort("c1")
    holder = _hold(cs.root, "up", 30)
    try:
        with pytest.raises(RefusedError) as err:
            with cs.exclusive("down", wait=False):
                pass
        msg = str(err.value)
        assert "cohort c1 is busy" in msg and "'up' (pid" in msg and f"pid {holder.pid}" in msg
        assert err.value.exit_code == ExitCode.REFUSED
    finally:
        holder.kill()
        holder.wait()


def test_a_second_command_waits_says_for_whom_and_then_runs(tmp_path):
    cs = StateDir(tmp_path).cohort("c1")
    holder = _hold(cs.root, "up", 1.5)
    said: list[str] = []
    t0 = time.monotonic()
    with cs.exclusive("down", say=said.append):
        waited = time.monotonic() - t0
        assert holder.poll() is not None or holder.wait(5) == 0      # the first one finished first
        assert cs.lock_holder().command == "down" and cs.lock_holder().pid == os.getpid()
    assert waited >= 1.0
    assert len(said) == 1 and said[0].startswith("waiting for cohort c1: 'up' (pid ")
    assert cs.lock_holder() is None                 # released: no stale record behind


def test_a_lock_left_by_a_killed_process_is_detected_and_taken_over(tmp_path):
    cs = StateDir(tmp_path).cohort("c1")
    holder = _hold(cs.root, "up", 0.1, mode="die")
    holder.wait(10)
    assert holder.returncode == -signal.SIGKILL
    assert cs.lock_holder().pid == holder.pid      # the record survives its holder
    said: list[str] = []
    with cs.exclusive("up", wait=False, say=said.append):   # free at once: the kernel released it
        pass
    assert len(said) == 1 and f"pid {holder.pid}" in said[0] and "killed?" in said[0]


def test_a_damaged_lock_record_is_shown_with_question_marks_and_taken_over(tmp_path):
    """A record cut short, or naming pid 0 on this host (which os.kill would take for this
    process's group, alive), reads as a holder that is gone."""
    cs = StateDir(tmp_path).cohort("c1")
    cs.root.mkdir(parents=True)
    cs.lock_file.write_text(json.dumps({"command": "up", "pid": 0, "host": socket.gethostname()}))
    assert cs.lock_holder().describe() == f"'up' (pid 0 on {socket.gethostname()}, user ?, since ?)"
    said: list[str] = []
    with cs.exclusive("down", wait=False, say=said.append):
        assert cs.lock_holder().command == "down"
    assert len(said) == 1 and "killed?" in said[0]
    cs.lock_file.write_text(json.dumps({"pid": "not a number"}))
    assert cs.lock_holder().pid is None and cs.lock_holder().describe().startswith("'?' (pid ? on ?")


def test_the_lock_is_reentrant_within_one_command(tmp_path):
    """`demo` runs `up` and `down` under its own lock; a team apply's threads share it."""
    cs = StateDir(tmp_path).cohort("c1")
    with cs.exclusive("demo", wait=False):
        with cs.exclusive("up", wait=False):
            assert cs.lock_holder().command == "demo"
        results = []
        t = threading.Thread(target=lambda: results.append(cs.lock_holder().command))
        t.start()
        t.join()
        assert results == ["demo"]
    assert cs.lock_holder() is None


def test_cli_no_wait_refuses_a_busy_cohort_with_exit_9(run_cli, tmp_path):
    cs = StateDir(tmp_path / "state").cohort("c1")
    cs.write_meta(CohortMeta.from_dict({"cohort": "c1", "target": "embedded", "status": "up"}))
    holder = _hold(cs.root, "up", 30)
    try:
        res = run_cli("sweep", "c1", "--no-wait")
        assert res.exit_code == ExitCode.REFUSED, res.output
        errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "busy" in errors[0] and "'up' (pid" in errors[0]
    finally:
        holder.kill()
        holder.wait()


def test_reaper_skips_a_busy_cohort_and_goes_on(tmp_path):
    from labctl.ops import reaper

    sd = StateDir(tmp_path)
    sd.cohort("busy").write_meta(CohortMeta.from_dict({"cohort": "busy", "target": "embedded", "status": "up",
                                  "window_end": "2020-01-01T00:00:00+00:00"}))
    # A second expired cohort whose record is broken: its failure is recorded, not fatal.
    sd.cohort("other").write_meta(CohortMeta.from_dict({"status": "up", "window_end": "2020-01-01T00:00:00+00:00"}))
    holder = _hold(sd.cohort("busy").root, "up", 30)
    lines: list[str] = []
    try:
        t0 = time.monotonic()
        results = reaper.reap_once(tmp_path, log=lines.append)
        assert time.monotonic() - t0 < 20                 # it did not wait behind `up`
    finally:
        holder.kill()
        holder.wait()
    assert "busy" in str(results["busy"]) and "'up' (pid" in str(results["busy"])
    assert "names no cohort" in str(results["other"])   # the next cohort was still attempted
    assert any("other" in ln and "next pass" in ln for ln in lines)


def test_paths_handed_to_terraform_are_absolute_whatever_the_working_directory(tmp_path, monkeypatch):
    from labctl.tf.config import detect_mirror
    from labctl.tf.runner import Terraform

    monkeypatch.chdir(tmp_path)
    assert StateDir(Path(".labctl")).root == tmp_path / ".labctl"
    assert CohortState(Path("x")).root == tmp_path / "x"
    tf = Terraform(workdir=tmp_path / "team", cli_config=Path(".labctl/terraformrc"), env={})
    assert tf._environ()["TF_CLI_CONFIG_FILE"] == str(tmp_path / ".labctl" / "terraformrc")
    assert detect_mirror(environ={"LABCTL_TF_MIRROR": "mirror"}) == tmp_path / "mirror"


def test_cli_resolves_a_relative_state_dir_once(run_cli, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from labctl.cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABCTL_STATE_DIR", raising=False)
    res = CliRunner().invoke(cli, ["status", "nope"], catch_exceptions=False)
    assert res.exit_code == ExitCode.NOT_FOUND
    assert f"in {tmp_path / '.labctl'}" in res.output, res.output
