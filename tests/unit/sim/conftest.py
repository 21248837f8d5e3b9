"""Builders for simulated classes in memory (pure mode: no terraform, no emulator)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import pytest
import yaml

from labctl.cost.catalog import load_catalog
from labctl.sim.inputs import TeamInputs, render_team
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.spec.load import load_cohort
from labctl.spec.models import Simulation
from labctl.workload import load_estimates

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def catalog():
    return load_catalog()


@lru_cache(maxsize=1)
def estimates():
    return load_estimates()


def team_inputs(tmp_path, knobs: dict[str, dict[str, Any]], **sim: Any) -> list[TeamInputs]:
    """One cohort of the bundled lab with these teams' knobs; ``sim`` overrides simulation fields."""
    doc = {"cohort": "simtest", "target": "embedded", "region": "us-east-1",
           "window": {"start": "2026-12-01T09:00:00Z", "duration": "4h"}, "lab": "gpu-baseline",
           "teams": [{"name": n, **({"knobs": copy.deepcopy(k)} if k else {})} for n, k in knobs.items()]}
    path = tmp_path / f"cohort-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(doc))
    cohort = load_cohort(path)
    out = []
    for t in cohort.teams:
        inputs = render_team(cohort, t.name)
        if sim:
            base = inputs.simulation.model_dump()
            base.update(sim)
            inputs = dataclasses.replace(inputs, simulation=Simulation.model_validate(base))
        out.append(inputs)
    return out


@pytest.fixture
def demo_teams(tmp_path):
    return team_inputs(tmp_path, DEMO_STRATEGIES)
