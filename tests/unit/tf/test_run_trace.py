"""What a terraform run leaves in .labctl-runs, read by a later command (labctl.tf.run_trace): its
output file stays locked exactly as long as its terraform lives, even once the labctl that
started it is gone, and the last event terraform emits only under its state lock is found."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

from labctl.tf import run_trace

# A stand-in terraform: one event, then it lives until told to go (a file), as an apply would.
LINGERING = r'''#!{python}
import json, os, time
print(json.dumps({{"type": "apply_start", "@timestamp": "2026-12-04T21:59:01.250000Z"}}), flush=True)
for _ in range(400):
    if os.path.exists("go"):
        break
    time.sleep(0.05)
'''


def _wait(cond, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_output_file_is_locked_while_terraform_lives_even_after_labctl_is_killed(tmp_path):
    binary = tmp_path / "terraform"
    binary.write_text(LINGERING.format(python=sys.executable))
    binary.chmod(0o755)
    out = run_trace.output_file(tmp_path, "apply")
    code = ("from pathlib import Path; from labctl.tf.runner import Terraform; "
            f"Terraform(workdir=Path({str(tmp_path)!r}), cli_config=Path('rc'), env={{}}, binary={str(binary)!r})"
            ".run(['apply'])")
    labctl = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
    try:
        assert _wait(lambda: out.exists() and "apply_start" in out.read_text())
        assert not run_trace.ended(out)
        labctl.send_signal(signal.SIGKILL)          # labctl dies alone; terraform, in its own session, goes on
        labctl.wait(timeout=10)
        time.sleep(0.2)
        assert not run_trace.ended(out), "terraform still runs: its run has not ended"
        (tmp_path / "go").touch()
        assert _wait(lambda: run_trace.ended(out)), "terraform exited, and the lock went with it"
    finally:
        (tmp_path / "go").touch()
        if labctl.poll() is None:
            labctl.kill()


def test_a_run_that_never_wrote_its_file_has_ended(tmp_path):
    assert run_trace.ended(run_trace.output_file(tmp_path, "apply"))


def test_the_last_event_terraform_emits_only_under_its_lock_is_found_and_a_cut_off_line_skipped(tmp_path):
    out = run_trace.output_file(tmp_path, "apply")
    out.parent.mkdir(parents=True)
    events = [{"type": "version", "@timestamp": "2026-12-04T21:58:50.000000Z"},
              {"type": "planned_change", "@timestamp": "2026-12-04T21:58:58.100000Z"},
              {"type": "apply_complete", "@timestamp": "2026-12-04T21:59:03.500000Z"},
              {"type": "diagnostic", "@timestamp": "2026-12-04T21:59:09.000000Z"}]     # an error: not proof of the lock
    out.write_text("".join(json.dumps(e) + "\n" for e in events) + '{"type": "apply_complete", "@timestamp": "2026-12-04T22')
    assert run_trace.last_locked_event_at(out) == datetime(2026, 12, 4, 21, 59, 3, 500000, tzinfo=timezone.utc)
    out.write_text(json.dumps(events[0]) + "\n" + json.dumps(events[3]) + "\n")   # failed before it held the lock
    assert run_trace.last_locked_event_at(out) is None


def test_terraform_times_parse_with_their_nanoseconds_and_offsets():
    assert run_trace.parse_time("2026-12-04T21:58:57.123456789Z") == datetime(2026, 12, 4, 21, 58, 57, 123456,
                                                                               tzinfo=timezone.utc)
    assert run_trace.parse_time("2026-12-04T22:58:57+01:00") == datetime(2026, 12, 4, 21, 58, 57, tzinfo=timezone.utc)
    assert run_trace.parse_time("?") is None and run_trace.parse_time("2026-13-40T00:00:00Z") is None
