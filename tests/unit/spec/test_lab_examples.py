"""What a lab hands a facilitator works: every lab's `labctl init` example and every configuration a
lab's README recommends passes `validate` and, simulated for the whole window, completes every
run the lab asks for (a job that is never scheduled completes none and crowns a "leader" with 0).

Each recommendation below quotes the README text it comes from; the test checks the quote is
still there, so a README edit that changes the advice has to change this table too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from labctl.cost.catalog import load_catalog
from labctl.ops.scaffold import example_cohort
from labctl.ops.validate import validate_cohort
from labctl.sim.inputs import render_team
from labctl.sim.runner import run_class
from labctl.state import now
from labctl.workload import load_estimates

LABS_DIR = Path(__file__).resolve().parents[3] / "labs"
LABS = sorted(p.parent.name for p in LABS_DIR.glob("*/lab.yaml"))

_XLARGE_SPOT = {"instance_types": ["g5.xlarge", "g6.xlarge"], "min_size": 0, "desired_size": 0, "max_size": 2}

# lab -> [(README quote, team name, knobs)]
RECOMMENDED = {
    "gpu-baseline": [
        ("change `gpu_on_demand.instance_types` to `[g5.xlarge]`", "rightsized",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"]}}}),
        ("`gpu_spot: {max_size: 2, instance_types: [g5.xlarge, g6.xlarge]}`, `job.pool: spot`", "spot",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"]},
                          "gpu_spot": {"max_size": 2, "instance_types": ["g5.xlarge", "g6.xlarge"]}},
          "job": {"pool": "spot", "checkpoint_every_steps": 500}}),
        ("`scale_down_enabled: true`, GPU pools `min_size: 0`", "scale-to-zero",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0},
                          "gpu_spot": {"max_size": 2, "min_size": 0, "instance_types": ["g5.xlarge", "g6.xlarge"]}},
          "job": {"pool": "spot", "checkpoint_every_steps": 500}, "autoscaler": {"scale_down_enabled": True}}),
    ],
    "runaway-bill": [
        ("Fix: `g5.xlarge` or `g6.xlarge`", "g5",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0}},
          "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "5m"}}),
        ("Fix: `min_size: 0`", "g6",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g6.xlarge"], "min_size": 0}},
          "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "10m"}}),
    ],
    "explore-instances": [
        ("the lab's default (g5.xlarge on-demand)", "a10g", {}),
        ("knobs: {node_groups: {gpu_on_demand: {instance_types: [g6.xlarge]}}}", "l4",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g6.xlarge"]}}}),
        ("knobs: {job: {pool: spot}}", "a10g-spot", {"job": {"pool": "spot"}}),
    ],
    "optimise-under-budget": [
        ("`g5.xlarge`/`g6.xlarge` spot with checkpoints every few hundred steps", "winning",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0, "desired_size": 0,
                                            "max_size": 1},
                          "gpu_spot": _XLARGE_SPOT},
          "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "5m"},
          "job": {"pool": "spot", "checkpoint_every_steps": 300}}),
        ("only right-sized to `g5.xlarge` on-demand meets the deadline", "rightsized",
         {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"]}}}),
    ],
}


@lru_cache(maxsize=1)
def _catalog():
    return load_catalog()


def _completed_runs(path: Path, seed: int = 0) -> dict[str, tuple[int, int]]:
    """team -> (runs completed, runs the lab asks for), over the cohort's whole window."""
    cohort = validate_cohort(path, now=now())
    window = cohort.cohort.window
    report = run_class([render_team(cohort, t.name) for t in cohort.teams], start=window.start,
                       hours=float(window.hours), catalog=_catalog(), estimates=load_estimates(), seed=seed)
    return {t.name: (report.team(t.name).jobs_completed, t.lab.simulation.runs) for t in cohort.teams}


def test_every_lab_has_its_readme_recommendations_here():
    assert sorted(RECOMMENDED) == LABS


@pytest.mark.parametrize("lab", LABS)
def test_the_init_example_validates_and_completes_every_run(tmp_path, lab):
    path = tmp_path / "cohort.yaml"
    path.write_text(example_cohort(lab))
    runs = _completed_runs(path)
    assert runs and all(done == wanted for done, wanted in runs.values()), runs


@pytest.mark.parametrize("lab", sorted(RECOMMENDED))
def test_every_configuration_the_readme_recommends_completes_every_run(tmp_path, lab):
    readme = (LABS_DIR / lab / "README.md").read_text()
    for quote, _, _ in RECOMMENDED[lab]:
        assert quote in readme, f"labs/{lab}/README.md no longer says {quote!r}; update this table"
    doc = {"cohort": "rec", "window": {"start": "2030-01-01T09:00:00Z", "duration": "4h"}, "lab": lab,
           "teams": [{"name": name, **({"knobs": knobs} if knobs else {})} for _, name, knobs in RECOMMENDED[lab]]}
    path = tmp_path / "cohort.yaml"
    path.write_text(yaml.safe_dump(doc))
    for seed in (0, 1):
        runs = _completed_runs(path, seed)
        assert all(done == wanted for done, wanted in runs.values()), (seed, runs)
