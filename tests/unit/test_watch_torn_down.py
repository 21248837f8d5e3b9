"""`status --watch` after `down`: the cohort shows as torn down, with nothing burning, not a burn
rate at some later (or simulated future) time."""

from __future__ import annotations

import json

from labctl.state import now
from tests.unit.test_cli_watch import COHORT, _run, _telemetry, no_sleep, state  # noqa: F401 - fixtures


def test_watch_after_down_shows_the_cohort_torn_down_and_nothing_burning(state):
    tmp, cs = state
    _telemetry(cs)                       # two instances still "running" as the collector last saw them
    down_at = now().isoformat()
    cs.update_meta(status="down", down_at=down_at)
    r = _run(tmp, "--count", "1")
    assert r.exit_code == 0, r.output
    assert f"cohort {COHORT}: torn down at {down_at[:19]}Z" in r.output
    assert "left in the window" not in r.output
    r = _run(tmp, "--count", "1", "--output", "json")
    live = json.loads(r.output.splitlines()[0])
    assert live["torn_down_at"] == down_at
    assert all(t["burn_usd_per_hour"] == "0.0000" for t in live["teams"])
    assert all(t["nodes"] == {"on-demand": 0, "spot": 0} for t in live["teams"])
    assert all(t["state"] != "at-risk" for t in live["teams"])
