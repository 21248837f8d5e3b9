"""SIGTERM is taken like Ctrl-C while `up` or `down` runs: the cancel event every terraform run
watches is set, the block's own cleanup (the cohort lock's release) runs, and the command ends
with exit 130 and the command that carries on. The real processes: tests/integration/
test_interrupt_and_teardown.py."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from labctl.errors import ExitCode
from labctl.ops.interrupt import Interrupted, interruptible


def test_sigterm_sets_cancel_runs_cleanup_and_names_the_command_that_resumes():
    cancel = threading.Event()
    cleaned = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as err:
        with interruptible(cancel, "labctl down c1"):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                threading.Event().wait(5)      # the handler raises here, in the main thread
            finally:
                cleaned.append("lock released")
    assert cancel.is_set() and cleaned == ["lock released"]
    assert err.value.exit_code == ExitCode.CANCELLED == 130
    assert "interrupted (SIGTERM)" in str(err.value) and "run `labctl down c1` to carry on" in str(err.value)
    assert signal.getsignal(signal.SIGTERM) == before          # the previous handler is back


def test_ctrl_c_is_the_same():
    cancel = threading.Event()
    with pytest.raises(Interrupted, match=r"interrupted \(SIGINT\).*`labctl up cohort.yaml`"):
        with interruptible(cancel, "labctl up cohort.yaml"):
            raise KeyboardInterrupt
    assert cancel.is_set()
