"""The runner's bounds, with the same stand-in `terraform` as test_runner.py: a run past its time
is stopped the graceful way (SIGINT to its process group; it saves its state) and says so; one
that ignores SIGINT is terminated after STOP_GRACE_S, not waited on for minutes; nothing starts
once the command is being interrupted; and the crash-test fault hook kills the whole tree."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from labctl.tf import runner
from labctl.tf.runner import Cancelled, Terraform
from tests.unit.tf.test_runner import _tf

STUBBORN = r'''#!{python}
import json, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
for i in range(600):
    print(json.dumps({{"type": "apply_complete", "@level": "info", "hook": {{"action": "create", "resource": {{"addr": f"r.{{i}}"}}}}}}), flush=True)
    time.sleep(0.1)
'''


def test_a_run_past_its_time_is_interrupted_gracefully_and_says_timed_out(tmp_path):
    t0 = time.monotonic()
    res = _tf(tmp_path).run(["slow"], timeout_s=1.0)
    assert time.monotonic() - t0 < 6
    assert res.timed_out and not res.cancelled and res.returncode == 1
    assert [d.summary for d in res.progress.errors] == ["interrupted"]   # SIGINT, so its state is saved


def test_a_terraform_that_ignores_sigint_is_terminated_after_the_grace(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "STOP_GRACE_S", 1.0)
    binary = tmp_path / "terraform"
    binary.write_text(STUBBORN.format(python=sys.executable))
    binary.chmod(0o755)
    cancel = threading.Event()
    tf = Terraform(workdir=tmp_path, cli_config=tmp_path / "rc", env={}, binary=str(binary), cancel=cancel)
    threading.Timer(1.0, cancel.set).start()
    t0 = time.monotonic()
    res = tf.run(["apply"])
    assert time.monotonic() - t0 < 8
    assert res.cancelled and res.returncode != 0


def test_ctrl_c_in_the_thread_that_runs_terraform_stops_it_gracefully(tmp_path):
    """`team apply` runs terraform in the main thread: Ctrl-C there reaches labctl, which must give
    terraform SIGINT (it stops and writes its state) before going, not kill it outright."""
    import _thread
    import signal

    # Ctrl-C as from a terminal, even when the tests run as a background job (SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(1.0, _thread.interrupt_main).start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            _tf(tmp_path).run(["slow"])
        assert time.monotonic() - t0 < 8
        assert (tmp_path / "got-sigint").exists()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_nothing_starts_once_the_command_is_being_interrupted(tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        _tf(tmp_path, cancel=cancel).run(["fast"])
    assert not (tmp_path / ".labctl-runs").exists()


def test_the_fault_hook_kills_terraform_and_labctl_together(tmp_path):
    """What the crash tests (tests/integration/test_crash_recovery.py) rely on: after N resources
    the whole tree dies with SIGKILL, labctl included, as when a laptop dies."""
    binary = tmp_path / "terraform"
    binary.write_text(STUBBORN.format(python=sys.executable))
    binary.chmod(0o755)
    code = ("import sys; from pathlib import Path; from labctl.tf.runner import Terraform; "
            f"Terraform(workdir=Path({str(tmp_path)!r}), cli_config=Path('rc'), env={{}}, binary={str(binary)!r})"
            ".run(['apply']); print('survived')")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, runner.KILL_AFTER_ENV: "5"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and "survived" not in proc.stdout
    assert time.monotonic() - t0 < 20
    done = (tmp_path / ".labctl-runs" / "apply.stdout").read_text().count("apply_complete")
    time.sleep(0.5)      # the stand-in was killed too: its output stops growing
    assert (tmp_path / ".labctl-runs" / "apply.stdout").read_text().count("apply_complete") == done < 20
