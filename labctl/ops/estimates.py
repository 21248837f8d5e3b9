"""One team's estimate, the same in `plan`, `preflight` and `team plan`.

The cost engine (labctl.cost.estimate) prices a Terraform plan document at the node groups' min,
desired and max sizes. Two things are decided here, once, for every command that shows a team's
estimate:

- **Expected use of the job's pool.** A pool the training job runs on is scaled up by the
  cluster autoscaler to fit the job, whatever its desired size says; priced at a desired size of
  0, moving the job to spot would read as "free". So that pool's middle figure is the nodes the
  job needs (its GPUs x parallelism over the GPUs per node, within min and max), never less than
  its desired size.
- **Without terraform** (`preflight`): the plan document is built from the same values the
  Terraform root is given (labctl.render.terraform.tfvars), holding what the estimator reads
  from a real plan (node groups, their launch templates' root volumes, public subnets, the EKS
  cluster, the checkpoint bucket). A test holds it equal to the estimate of a real `terraform plan`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from labctl import resources
from labctl.cost.catalog import Catalog
from labctl.cost.estimate import Estimate, estimate_plan
from labctl.cost.money import fmt_usd
from labctl.render import pools
from labctl.spec.load import ResolvedCohort, TeamSpec
from labctl.spec.offerings import type_info

JOB_POOL = {"spot": "gpu_spot", "on-demand": "gpu_on_demand"}


@dataclass(frozen=True)
class ExpectedUse:
    """The job's pool and the nodes it is priced at (``nodes``) instead of ``desired``."""

    group: str
    nodes: int
    desired: int
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"node_group": self.group, "nodes": self.nodes, "desired_size": self.desired, "why": self.why}

    def text(self) -> str:
        return (f"{self.group} priced at {self.nodes} node{'s' if self.nodes != 1 else ''} while the job runs "
                f"({self.why}), not its desired size {self.desired}")


def nodes_for(gpus: int, parallelism: int, instance_types: list[str] | tuple[str, ...]) -> int:
    """Nodes a job of ``parallelism`` pods with ``gpus`` GPUs each needs on a pool of these types
    (the type with the fewest GPUs: the autoscaler may launch any listed type)."""
    per_node = min([i.gpus for t in instance_types if (i := type_info(t)) and i.gpus > 0] or [0])
    if gpus <= 0 or per_node <= 0:
        return 1
    return math.ceil(gpus * parallelism / per_node)


def expected_use(group: str, gpus: int, parallelism: int, instance_types: list[str] | tuple[str, ...],
                 desired: int, max_size: int) -> ExpectedUse | None:
    """None when the desired size already covers the job (nothing to adjust) or the pool is off."""
    if max_size < 1:
        return None
    need = nodes_for(gpus, parallelism, instance_types)
    nodes = min(max_size, max(desired, need))
    if nodes <= desired:
        return None
    pods = f"{parallelism} pod{'s' if parallelism != 1 else ''}"
    return ExpectedUse(group, nodes, desired, f"the job's {pods} x {gpus} GPU")


def team_expected_use(team: TeamSpec) -> ExpectedUse | None:
    job = team.lab.job
    group = JOB_POOL[job.pool]
    g = getattr(team.lab.node_groups, group)
    return expected_use(group, job.gpus, job.parallelism, g.instance_types, g.desired_size, g.max_size)


def manifests_expected_use(k8s_dir: Path, values: Mapping[str, Any]) -> ExpectedUse | None:
    """The expected use of the job as deployed: its Job manifest in ``k8s_dir`` (pool, GPUs, pods),
    its pool's node group in ``values`` (a state's or plan's planned values). None when either
    is missing."""
    job = _deployed_job(k8s_dir)
    if job is None:
        return None
    spec = job.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    pool_name = (pod.get("nodeSelector") or {}).get(pools.POOL_LABEL)
    group = next((g for g, n in pools.POOL_NAMES.items() if n == pool_name), None)
    if group is None:
        return None
    gpus = 0
    for c in pod.get("containers") or ():
        limits = (c.get("resources") or {}).get("limits") or {}
        gpus += int(limits.get("nvidia.com/gpu", 0) or 0)
    for ng in _node_groups(values, group):
        sc = (ng.get("scaling_config") or [{}])[0] or {}
        return expected_use(group, gpus, int(spec.get("parallelism") or 1), list(ng.get("instance_types") or ()),
                            int(sc.get("desired_size") or 0), int(sc.get("max_size") or 0))
    return None


def _deployed_job(k8s_dir: Path) -> dict[str, Any] | None:
    if not k8s_dir.is_dir():
        return None
    for f in sorted(k8s_dir.rglob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(f.read_text()))
        except (OSError, yaml.YAMLError):
            continue
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "Job":
                return d
    return None


def _resources(module: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources") or ()
    for child in module.get("child_modules") or ():
        yield from _resources(child)


def _node_groups(values: Mapping[str, Any], group: str) -> Iterator[dict[str, Any]]:
    """The aws_eks_node_group values of pool ``group`` in a planned-values document (root_module...)."""
    for r in _resources(values.get("root_module") or {}):
        if r.get("type") == "aws_eks_node_group" and f'["{group}"]' in r.get("address", ""):
            yield r.get("values") or {}


def with_expected_use(doc: Mapping[str, Any], use: ExpectedUse | None, key: str = "planned_values") -> dict[str, Any]:
    """A copy of the plan document with the job's pool at its expected size (the middle figure)."""
    out = copy.deepcopy(dict(doc))
    if use is None:
        return out
    for values in _node_groups(out.get(key) or {}, use.group):
        sc = (values.get("scaling_config") or [None])[0]
        if isinstance(sc, dict):
            sc["desired_size"] = use.nodes
    return out


def estimate_team(doc: Mapping[str, Any], cohort: ResolvedCohort, team: str, hours: Decimal, catalog: Catalog,
                  use: ExpectedUse | None) -> Estimate:
    return estimate_plan(with_expected_use(doc, use), cohort.cohort.region, hours, catalog, team=team)


def spec_plan_doc(cohort: ResolvedCohort, team: TeamSpec) -> dict[str, Any]:
    """What `terraform plan` of a new team would plan, for the estimator, from the team's spec.

    Node groups as labctl.render.terraform.tfvars passes them (a pool with max size 0 gets none),
    each with its launch template's gp3 root volume; the network module's public subnets; the
    cluster and the checkpoint bucket. Resources with no standing charge are left out.
    """
    children = [
        {"address": "module.cluster", "resources": [
            {"address": "module.cluster.aws_eks_cluster.this", "mode": "managed", "type": "aws_eks_cluster",
             "name": "this", "values": {}}]},
        {"address": "module.checkpoints", "resources": [
            {"address": "module.checkpoints.aws_s3_bucket.this", "mode": "managed", "type": "aws_s3_bucket",
             "name": "this", "values": {}}]},
        {"address": "module.network", "resources": [
            {"address": f"module.network.aws_subnet.public[{i}]", "mode": "managed", "type": "aws_subnet",
             "name": "public", "index": i, "values": {"map_public_ip_on_launch": True}} for i in range(2)]},
    ]
    if 'module "team_key"' in (resources.terraform_dir() / "root" / "main.tf").read_text():
        # one customer-managed KMS key per team (EKS secrets, the checkpoint bucket)
        children.append({"address": "module.team_key", "resources": [
            {"address": "module.team_key.aws_kms_key.this", "mode": "managed", "type": "aws_kms_key",
             "name": "this", "values": {}}]})
    for gname, g in team.lab.node_groups.items():
        if g.max_size < 1:
            continue
        mod = f'module.node_group["{gname}"]'
        lt_name = f"{cohort.id}-{team.name}-{gname}"
        children.append({"address": mod, "resources": [
            {"address": f"{mod}.aws_launch_template.this", "mode": "managed", "type": "aws_launch_template",
             "name": "this", "values": {"name": lt_name, "block_device_mappings": [
                 {"ebs": [{"volume_size": g.disk_gib, "volume_type": "gp3"}]}]}},
            {"address": f"{mod}.aws_eks_node_group.this[0]", "mode": "managed", "type": "aws_eks_node_group",
             "name": "this", "index": 0, "values": {
                 "capacity_type": g.capacity_type, "instance_types": list(g.instance_types),
                 "launch_template": [{"name": lt_name}],
                 "scaling_config": [{"min_size": g.min_size, "desired_size": g.desired_size, "max_size": g.max_size}]}},
        ]})
    return {"planned_values": {"root_module": {"child_modules": children}}}


def spec_estimate(cohort: ResolvedCohort, team: TeamSpec, catalog: Catalog) -> tuple[Estimate, ExpectedUse | None]:
    """A new team's estimate over the session, from its spec alone (no terraform)."""
    use = team_expected_use(team)
    return estimate_team(spec_plan_doc(cohort, team), cohort, team.name, cohort.cohort.window.hours, catalog, use), use


def short_address(address: str) -> str:
    """'module.node_group["gpu_spot"].aws_eks_node_group.this[0]' -> 'gpu_spot'; 'module.cluster...' -> 'cluster'."""
    if address.startswith('module.node_group["'):
        return address.split('"')[1]
    if address.startswith("module."):
        return address.split(".")[1].split("[")[0]
    return address


def estimate_lines(est: Estimate, use: ExpectedUse | None = None) -> list[str]:
    """A team's estimate as a table to the cent: one row per priced part, then the total."""
    rows: list[tuple[str, ...]] = []
    for c in est.components:
        name = f"{short_address(c.address)}: {c.label}"
        if c.cost:
            rows.append((name, fmt_usd(c.cost[0]), fmt_usd(c.cost[1]), fmt_usd(c.cost[2])))
        elif c.usage_based and c.basis is not None:
            rows.append((name, f"by use, ${c.basis.unit_price} per {c.unit}"))
        else:
            rows.append((name, "unpriced"))
    lo, mid, hi = est.total()
    rows.append(("total", fmt_usd(lo), fmt_usd(mid), fmt_usd(hi)))
    w = max(len(r[0]) for r in rows)
    cw = max([len(x) for r in rows if len(r) == 4 for x in r[1:]] + [len("expected")])
    out = [f"{'cost over ' + format(est.hours.normalize(), 'f') + ' h':<{w}}  {'min':>{cw}}  {'expected':>{cw}}  {'max':>{cw}}"]
    out += [f"{r[0]:<{w}}  {r[1]:>{cw}}  {r[2]:>{cw}}  {r[3]:>{cw}}" if len(r) == 4 else f"{r[0]:<{w}}  {r[1]}"
            for r in rows]
    if use is not None:
        out.append(f"expected: desired sizes; {use.text()}")
    out += [f"warning: {short_address(wn.address)}: {wn.message}" for wn in est.warnings]
    return out
