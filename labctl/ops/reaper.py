"""Automatic teardown: every cohort in the state directory whose window has ended is torn down,
with the same proof as `labctl down`. `labctl reaper` runs this in a loop (a service manager can
keep it running; see deploy/labctl-reaper.service)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from labctl.errors import Interrupted, LabctlError
from labctl.ops.down import DownReport, down
from labctl.state import LOCK_WAIT, StateDir, now
from labctl.text import plural

# A cohort is reaped while it may still hold resources: after `up`, or when a previous
# teardown left something behind (the next pass tries again).
REAPABLE = {"up", "down-with-leftovers"}


def expired(state_dir: Path, at: datetime | None = None) -> list[str]:
    at = at or now()
    out = []
    for cs in StateDir(state_dir).cohorts():
        meta = cs.meta()
        if meta.status in REAPABLE and meta.window_end and meta.window_end <= at:
            out.append(cs.id)
    return out


def reap_once(state_dir: Path, dry_run: bool = False, quiet: bool = True,
              log: Callable[[str], None] = print) -> dict[str, DownReport | str]:
    results: dict[str, DownReport | str] = {}
    for cohort_id in expired(state_dir):
        log(f"reaper: window of cohort {cohort_id} has ended; tearing down{' (dry run)' if dry_run else ''}")
        try:
            # Never wait behind another command (a facilitator's `up` or `down`): the next pass retries.
            token = LOCK_WAIT.set(False)
            try:
                report = down(cohort_id, state_dir, dry_run=dry_run, quiet=quiet, reason="reaper: window ended")
            finally:
                LOCK_WAIT.reset(token)
        except Interrupted:
            raise               # Ctrl-C or SIGTERM stops the reaper too, not just this cohort's pass
        except LabctlError as exc:
            log(f"reaper: {cohort_id}: {exc}; the next pass tries again")
            results[cohort_id] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one cohort's failure must not stop the others' teardown
            log(f"reaper: {cohort_id}: failed ({type(exc).__name__}: {exc}); the next pass tries again")
            results[cohort_id] = f"{type(exc).__name__}: {exc}"
            continue
        results[cohort_id] = report
        if dry_run:
            log(f"reaper: {cohort_id}: {would_tear_down(report)}")
            continue
        verdict = "clean" if report.clean else f"{plural(len(report.left), 'resource')} left"
        log(f"reaper: {cohort_id}: {verdict}")
    return results


def would_tear_down(report: DownReport) -> str:
    """What a real pass would do to a cohort, from `down --dry-run`: per team, how many resources
    its destroy removes and how many the sweep takes. A dry run removed nothing: never "clean"."""
    parts = []
    for t in report.teams:
        if not (t.destroyed or t.swept):
            continue
        what = []
        if t.destroyed:
            what.append(f"destroy {plural(len(t.destroyed), 'resource')}")
        if t.swept:
            what.append(f"sweep {len(t.swept)}")
        parts.append(f"{t.team} ({', '.join(what)})")
    if not parts:
        return "would tear down: nothing found to destroy or sweep (dry run; nothing changed)"
    total = sum(len(t.destroyed) + len(t.swept) for t in report.teams)
    return (f"would tear down {plural(total, 'resource')}: {'; '.join(parts)} "
            "(dry run; nothing changed)")


def run(state_dir: Path, interval_s: float = 60.0, stop: threading.Event | None = None,
        log: Callable[[str], None] = print) -> None:
    stop = stop or threading.Event()
    log(f"reaper: watching {state_dir} every {interval_s:.0f}s")
    while not stop.is_set():
        reap_once(state_dir, log=log)
        stop.wait(interval_s)
