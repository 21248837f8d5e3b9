"""A provisioned team as the simulator reads it: what Terraform created and what labctl rendered.

From the state dir (after `up`): ``teams/<team>/terraform.tfvars.json`` (node groups: types,
capacity type, min/desired/max, labels, taints, disk; the tags' cohort/team/lab/expires-at),
``terraform.tfstate`` outputs (cluster, node group and ASG names) and ``k8s/*.yaml`` (applied in
file order, as `labctl` applies them). Without a state dir (bench, unit tests) the same two
inputs are rendered in memory from a resolved cohort by labctl's own renderers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import ProviderSettings, read_tfvars, tfvars
from labctl.sim.scheduler import Taint
from labctl.spec.load import ResolvedCohort
from labctl.spec.models import Simulation
from labctl.tf import state as tfstate


@dataclass(frozen=True)
class PoolSpec:
    pool: str                      # system | gpu_on_demand | gpu_spot
    nodegroup: str                 # EKS node group name
    asg_name: str
    capacity_type: str             # ON_DEMAND | SPOT
    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    desired_size: int
    disk_gib: int
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    launch_template: str | None = None


@dataclass(frozen=True)
class TeamInputs:
    cohort: str
    team: str
    lab: str
    region: str
    expires_at: str
    cluster_name: str
    pools: tuple[PoolSpec, ...]
    manifests: tuple[dict[str, Any], ...]
    simulation: Simulation
    knobs: dict[str, Any] = field(default_factory=dict)

    @property
    def tags(self) -> dict[str, str]:
        return {"labctl:cohort": self.cohort, "labctl:team": self.team, "labctl:lab": self.lab,
                "labctl:expires-at": self.expires_at}


def _pools(variables: dict[str, Any], outputs: dict[str, Any] | None, cluster: str) -> tuple[PoolSpec, ...]:
    ng_out = (outputs or {}).get("node_groups") or {}
    out = []
    for pool in sorted(variables.get("node_groups") or {}):
        g = variables["node_groups"][pool]
        o = ng_out.get(pool) or {}
        name = o.get("name") or f"{cluster}-{pool.replace('_', '-')}"
        asg = (o.get("asg_names") or [f"eks-{name}"])[0]
        out.append(PoolSpec(pool, name, asg, g["capacity_type"], tuple(g["instance_types"]), int(g["min_size"]),
                            int(g["max_size"]), int(g["desired_size"]), int(g.get("disk_gib", 20)),
                            dict(g.get("labels") or {}),
                            tuple(Taint(t["key"], t.get("value", ""), t["effect"]) for t in g.get("taints") or []),
                            o.get("launch_tpl")))
    return tuple(out)


def _docs(texts: list[str]) -> tuple[dict[str, Any], ...]:
    return tuple(d for text in texts for d in yaml.safe_load_all(text) if isinstance(d, dict))


def read_team(team_dir: Path, simulation: Simulation, knobs: dict[str, Any] | None = None) -> TeamInputs:
    """A provisioned team from its directory in the state dir."""
    variables = read_tfvars(team_dir)
    outputs = _outputs(team_dir)
    cluster = (outputs or {}).get("cluster_name") or f"{variables['cohort']}-{variables['team']}"
    manifests = _docs([p.read_text() for p in sorted((team_dir / "k8s").glob("*.yaml"))])
    return TeamInputs(variables["cohort"], variables["team"], variables["lab"], variables["region"],
                      variables["expires_at"], cluster, _pools(variables, outputs, cluster), manifests,
                      simulation, dict(knobs or {}))


def _outputs(team_dir: Path) -> dict[str, Any] | None:
    return tfstate.team_outputs(team_dir) or None


def render_team(cohort: ResolvedCohort, team: str, outputs: dict[str, Any] | None = None) -> TeamInputs:
    """The same inputs rendered in memory (no terraform, no state dir): pure mode."""
    spec = cohort.team(team)
    variables = tfvars(cohort, spec, ProviderSettings(True, 3))
    cluster = (outputs or {}).get("cluster_name") or f"{variables['cohort']}-{variables['team']}"
    files = render_team_manifests(cohort, spec, outputs)
    return TeamInputs(variables["cohort"], variables["team"], variables["lab"], variables["region"],
                      variables["expires_at"], cluster, _pools(variables, outputs, cluster),
                      _docs([files[k] for k in sorted(files)]), spec.lab.simulation, dict(spec.knobs))
