"""Fixtures shared by the unit tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labctl.meta import CohortMeta
from labctl.state import CohortState, StateDir


@pytest.fixture
def aws(monkeypatch):
    """moto in-process; the target labctl would build for a real account (moto answers instead)."""
    moto = pytest.importorskip("moto")
    from labctl.aws.session import AwsTarget

    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    with moto.mock_aws():
        yield AwsTarget("aws", "us-east-1")


@contextmanager
def cohort_up_on_emulator(state: Path, cohort: str, teams: list[str]) -> Iterator[tuple[CohortState, object]]:
    """An in-process emulator registered in ``state`` (as `labctl demo` registers its own) and a
    cohort recorded as up on it, with its window over: what `down` and the reaper act on."""
    from labctl.aws import emulator as emu

    with emu.Emulator() as e:
        state.mkdir(parents=True, exist_ok=True)
        (state / emu.STATE_FILE).write_text(json.dumps({"url": e.url, "boot_id": e.boot_id, "pid": None}))
        cs = StateDir(state).cohort(cohort)
        cs.write_meta(CohortMeta.from_dict({"cohort": cohort, "target": "embedded", "region": "us-east-1", "status": "up",
                       "emulator_boot_id": e.boot_id, "endpoint_url": e.url, "all_teams": list(teams),
                       "window_end": "2020-01-01T00:00:00+00:00"}))
        yield cs, e
