"""`labctl simulate`: run a provisioned cohort's class on the simulated clusters.

Reads what `up` left in the state dir (meta.json, teams/<team>/terraform.tfvars.json, outputs,
k8s/*.yaml), launches and terminates nodes as EC2 instances in the cohort's emulator (target
``embedded``; other targets and ``pure=True`` simulate without any AWS call), writes lifecycle,
samples and events with source "simulator" into the cohort's telemetry store, and returns a
:class:`~labctl.sim.runner.SimReport`. Cost is the ledger's job (from the store).

``strategies`` (team -> knobs) simulates knobs other than the provisioned ones ("what if"): the
team's manifests and node groups are rendered in memory from the cohort file with those knobs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from labctl.aws import emulator
from labctl.aws.session import AwsTarget
from labctl.aws.walker import Walker, cohort_instances
from labctl.cost.catalog import load_catalog
from labctl.errors import LabctlError, NotFoundError
from labctl.sim.cloud import Ec2Nodes, NodeSource
from labctl.sim.inputs import TeamInputs, read_team, render_team
from labctl.sim.runner import SimReport, run_class
from labctl.spec.load import ResolvedCohort, load_cohort
from labctl.state import StateDir
from labctl.telemetry.provisioned import items_of_state, read_state
from labctl.telemetry.store import Store
from labctl.workload import load_estimates
from labctl.ops.common import refuse_if_torn_down
from labctl.tf import state as tfstate


def _cohort(spec_path: Path, strategies: Mapping[str, Mapping[str, Any]] | None, tmp: Path) -> ResolvedCohort:
    if not strategies:
        return load_cohort(spec_path)
    doc = yaml.safe_load(spec_path.read_text())
    names = {t["name"] for t in doc.get("teams", [])}
    unknown = sorted(set(strategies) - names)
    if unknown:
        raise LabctlError(f"strategies name team(s) not in the cohort: {', '.join(unknown)}")
    for t in doc["teams"]:
        if t["name"] in strategies:
            t["knobs"] = copy.deepcopy(dict(strategies[t["name"]]))
            if not t["knobs"]:
                t.pop("knobs")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_cohort(tmp)


def simulate_class(state_dir: Path, cohort_id: str, *, hours: float | None = None, seed: int = 0,
                   speed: float | None = None, strategies: Mapping[str, Mapping[str, Any]] | None = None,
                   pure: bool = False, teams: list[str] | None = None) -> SimReport:
    """Simulate the class of a provisioned cohort (default: the whole session window)."""
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    refuse_if_torn_down(cs, "simulating a class")
    if meta.status != "up" or meta.window_start is None or meta.window_end is None:
        raise NotFoundError(f"cohort {cohort_id} is not up (status {meta.status!r}); run `labctl up` first")
    cohort = _cohort(cs.spec_copy, strategies, cs.root / "simulate-cohort.yaml")
    names = teams or [t.name for t in cohort.teams]
    inputs: list[TeamInputs] = []
    for name in names:
        spec = cohort.team(name)
        d = cs.team_dir(name)
        if strategies and name in strategies:
            inputs.append(render_team(cohort, name, tfstate.team_outputs(d) or None))
        else:
            inputs.append(read_team(d, spec.lab.simulation, spec.knobs))
    start = meta.window_start
    length = (meta.window_end - start).total_seconds() / 3600
    nodes_for = None
    mode = "pure"
    if not pure and meta.target == "embedded" and meta.endpoint_url:
        aws = AwsTarget("embedded", meta.region, meta.endpoint_url)
        _seed_emulator(aws, cohort_id, seed)
        source: NodeSource = Ec2Nodes(aws)
        nodes_for = lambda _t: source  # noqa: E731 - one EC2 client set for the cohort
        mode = "emulator"
    # Each team's priced line items (cluster, bucket, public IPv4 per node) from its Terraform state.
    items = {name: found for name in names
             if (found := items_of_state(read_state(cs.team_dir(name)))).standing}
    with Store.for_cohort(cs.root) as store:
        report = run_class(inputs, start=start, hours=hours if hours is not None else length, catalog=load_catalog(),
                           estimates=load_estimates(), seed=seed, speed=speed, nodes=nodes_for, store=store,
                           mode=mode, items=items)
    cs.audit("simulate", "ok", seed=seed, hours=report.hours, mode=mode, teams=names)
    return report


def _seed_emulator(aws: Any, cohort_id: str, seed: int) -> None:
    """Same seed, same instance ids (so the debrief is byte-identical). The stream is offset by
    how many instances the cohort already launched, so a second simulation on the same emulator
    is not handed ids that already exist."""
    launched = len(cohort_instances(Walker(aws, cohort_id)))
    emulator.seed_ids(aws.endpoint_url, seed * 1_000_003 + launched)
