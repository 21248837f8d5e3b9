"""What a terraform run leaves in its working directory's ``.labctl-runs/``, read afterwards.

The runner (labctl.tf.runner) has terraform write its ``-json`` events to ``<command>.stdout``
there, and holds a BSD ``flock`` on that file that terraform inherits: the lock lives as long as
the terraform that writes the file, whoever started it (labctl killed alone leaves terraform
running and the file locked; terraform killed with it frees it). This module answers two
questions a later command asks of a killed run:

- ``ended``: is the terraform that wrote ``<command>.stdout`` gone? (its flock is free)
- ``last_locked_event_at``: when did it last report work that terraform only does while it holds
  the state lock (refreshing, planning or applying a resource, summing up a plan)? With state in S3, a lock object
  created no later than that, by this machine, can only be that run's own (labctl.ops.state_lock).
"""

from __future__ import annotations

import fcntl
import json
import re
from datetime import datetime
from pathlib import Path

RUNS_DIR = ".labctl-runs"

# Event types terraform emits only inside an operation, that is while it holds the state lock
# (terraform takes the lock before it refreshes or plans and releases it after the last apply).
_UNDER_LOCK = frozenset({"refresh_start", "refresh_complete", "planned_change", "resource_drift",
                         "apply_start", "apply_progress", "apply_complete", "apply_errored"})
# A plan's summary is rendered by the operation itself, before it releases the lock: the one event
# a plan with nothing to change and no refresh (`team plan` on an emulator) emits under the lock.
# An apply's summary ("operation": "apply" or "destroy") comes after the release, so it is not one.
# Checked with terraform 1.11.4: its output blocked at a plan's summary line finds the lock held,
# blocked at an apply's final summary line finds it released.
_UNDER_LOCK_SUMMARY = "plan"


def _under_lock(ev: dict[str, object]) -> bool:
    if ev.get("type") in _UNDER_LOCK:
        return True
    changes = ev.get("changes")
    return ev.get("type") == "change_summary" and isinstance(changes, dict) and changes.get("operation") == _UNDER_LOCK_SUMMARY


def output_file(workdir: Path, command: str) -> Path:
    """Where the runner has terraform ``command`` (``apply``, ``plan``, ...) write its events."""
    return workdir / RUNS_DIR / f"{command}.stdout"


def hold(fh: object) -> None:
    """Lock the run's output file for the terraform about to inherit it (best effort: a terraform
    of an earlier run that still holds it keeps it, and this run is then simply not provable)."""
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[arg-type]
    except OSError:
        pass


def ended(path: Path) -> bool:
    """True when no live process holds ``path``'s flock: the terraform that wrote it is gone (or
    the file was never written)."""
    try:
        fh = open(path)
    except FileNotFoundError:
        return True
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as terraform writes it (``...57.123456789Z`` in a lock, ``...57.123456Z``
    in an event), aware; None when it is not one. Fractions past microseconds are dropped."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text.strip())
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    try:
        return datetime.fromisoformat(m.group(1) + frac + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    except ValueError:
        return None


def last_locked_event_at(path: Path) -> datetime | None:
    """The time of the last event in ``path`` that terraform emits only while it holds the state
    lock; None when the run never got that far (or the file is gone)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return None
    last = None
    for line in text.splitlines():
        if '"type"' not in line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue                # the last line of a killed run may be cut off
        if isinstance(ev, dict) and _under_lock(ev) and isinstance(ev.get("@timestamp"), str):
            last = parse_time(ev["@timestamp"]) or last
    return last
