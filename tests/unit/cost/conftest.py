"""Shared fixtures of the cost engine tests: the shipped catalog, fixed instants, fixture paths."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from labctl.cost.catalog import Catalog, load_catalog

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def plan_doc():
    def _load(name: str) -> dict:
        return json.loads((FIXTURES / name).read_text())

    return _load
