"""`labctl status --watch`: what a facilitator reads all class, on an 80-column terminal or piped.

A cohort's state directory with telemetry rows written directly (no emulator, no terraform)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from labctl.errors import ExitCode
from labctl.meta import CohortMeta
from labctl.state import StateDir, now
from labctl.telemetry.store import Lifecycle, Sample, Store

COHORT = "watch-c"
LONG = "a-twenty-char-team-x"      # the longest team name a cohort may have


@pytest.fixture
def state(tmp_path):
    cs = StateDir(tmp_path).cohort(COHORT)
    cs.root.mkdir(parents=True)
    cs.write_meta(CohortMeta.from_dict({"cohort": COHORT, "target": "embedded", "region": "us-east-1", "all_teams": [LONG, "b"],
                   "window_start": (now() - timedelta(hours=1)).isoformat(),
                   "window_end": (now() + timedelta(hours=3)).isoformat(), "status": "up"}))
    return tmp_path, cs


def _telemetry(cs):
    start = now() - timedelta(hours=1)
    with Store.for_cohort(cs.root) as st:
        st.put_lifecycle([Lifecycle(LONG, "i-big", "instance", "us-east-1", start, None, "aws-api", "g5.12xlarge"),
                          Lifecycle("b", "i-small", "instance", "us-east-1", start, None, "aws-api", "g5.xlarge")])
        st.put_samples([Sample(LONG, start, "budget_limit_usd", 5.0, "aws-api", f"{COHORT}-x-budget"),
                        Sample("b", start, "budget_limit_usd", 1000.0, "aws-api", f"{COHORT}-b-budget")])


def _run(state_dir, *args, default_state_dir=False):
    from labctl.cli.main import _register, cli

    _register()
    pre = [] if default_state_dir else ["--state-dir", str(state_dir)]
    return CliRunner().invoke(cli, [*pre, "status", COHORT, "--watch", "--interval", "1", *args],
                              env={"LABCTL_STATE_DIR": str(state_dir)} if default_state_dir else {})


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr("labctl.cli.telemetry.time.sleep", lambda _s: None)


def test_piped_watch_writes_one_plain_snapshot_per_interval_within_80_columns(state):
    tmp, cs = state
    _telemetry(cs)
    r = _run(tmp, "--count", "2")
    assert r.exit_code == 0, r.output
    assert r.output.count(f"cohort {COHORT}, as of") == 2          # a snapshot per interval
    assert "\x1b[" not in r.output                                  # plain text, no terminal codes
    lines = r.output.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    # nothing cut: the whole team name and whole amounts are there
    assert LONG in r.output
    assert "$5 " in r.output or "budget $5" in r.output
    over = next(line for line in lines if LONG in line)
    assert over.startswith("!!")                                    # over its $5 budget
    assert any(line.lstrip().startswith("!! over budget") for line in lines)   # the legend says what !! means
    assert any(line.lstrip().startswith("!  at risk") for line in lines)


def test_wide_terminal_gets_one_row_per_team():
    from labctl.ops.live import LiveStatus, TeamLive, render_lines

    t = TeamLive(LONG, "1234.567891", "12.3456", "150", "82.3", "1300.000000", {"on-demand": 1, "spot": 2},
                 0.45, 0.3, "at-risk", "metered")
    st = LiveStatus(COHORT, now().isoformat(), None, 3600, [t])
    wide = [line for line, _ in render_lines(st, width=120)]
    narrow = [line for line, _ in render_lines(st, width=80)]
    assert sum(LONG in line for line in wide) == 1
    row = next(line for line in wide if LONG in line)
    assert "$1,234.57" in row and "$1,300.00" in row and "82.3%" in row
    assert max(map(len, narrow)) <= 80 and "$1,234.57 so far" in "\n".join(narrow)


def test_watch_json_is_json_lines_with_amounts_as_decimal_strings(state):
    tmp, cs = state
    _telemetry(cs)
    r = _run(tmp, "--count", "3", "-o", "json")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3
    docs = [json.loads(line) for line in lines]                     # each line one object
    team = next(t for t in docs[0]["teams"] if t["team"] == LONG)
    for key in ("cost_usd", "burn_usd_per_hour", "budget_usd", "projected_usd"):
        assert isinstance(team[key], str)
        float(team[key])                                            # a decimal number as text


def test_watch_without_telemetry_says_what_to_run(state):
    tmp, _ = state
    r = _run(tmp, "--count", "1")
    assert r.exit_code == 0
    assert "no telemetry yet" in r.output
    assert f"labctl --state-dir {tmp} simulate {COHORT}" in r.output
    assert f"collect {COHORT} --every 60s" in r.output


def test_ctrl_c_exits_130(state, monkeypatch):
    tmp, cs = state
    _telemetry(cs)

    def interrupt(_s):
        raise KeyboardInterrupt
    monkeypatch.setattr("labctl.cli.telemetry.time.sleep", interrupt)
    r = _run(tmp)
    assert r.exit_code == ExitCode.CANCELLED
    assert r.output.count(f"cohort {COHORT}, as of") == 1


def test_on_an_80_column_terminal_the_live_view_fits_and_explains_its_marks(state, monkeypatch):
    import io
    import re

    import rich.console

    from labctl.cli.context import AppContext
    from labctl.cli.telemetry import watch_status

    tmp, cs = state
    _telemetry(cs)
    screen = io.StringIO()
    real = rich.console.Console
    monkeypatch.setattr(rich.console, "Console",
                        lambda **kw: real(file=screen, width=80, force_terminal=True, color_system="standard"))
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    watch_status(AppContext(tmp), COHORT, 1, iterations=2)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())   # drop colours and cursor moves
    lines = [line for line in text.splitlines() if line.strip()]
    assert LONG in text and "!! over budget" in text
    assert max(len(line) for line in lines) <= 80
