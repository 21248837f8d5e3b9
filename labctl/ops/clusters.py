"""The cohort's live Kubernetes clusters, for `up --k8s kind` and the ordered drain of `down`.

The embedded target's clusters are simulated (labctl.sim) and have nothing to deploy to or drain;
a kind cluster (one per cohort, a namespace per team) and EKS clusters (aws, localstack) do. The
cluster interface is all this module uses, so the fake cluster stands in for a real one in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labctl.errors import EnvironmentProblem
from labctl.k8s import kind
from labctl.k8s.drain import drain_cloud_backed
from labctl.meta import CohortMeta
from labctl.ops.collect import ClusterFactory, cluster_sources, real_cluster, simulated
from labctl.render.manifests import namespace_of
from labctl.render.terraform import read_tfvars
from labctl.state import CohortState

K8S_MODES = ("simulated", "kind")
DRAIN_TIMEOUT_S = 180.0


def check_k8s_mode(mode: str | None, target: str) -> None:
    """Refuse `--k8s kind` where it cannot work, before anything is touched."""
    if mode != "kind":
        return
    if target == "aws":
        raise EnvironmentProblem("--k8s kind: the aws target runs EKS clusters; kind is for the embedded and "
                                 "localstack targets on a laptop")
    kind.find_kind()


def team_objects(team_dir: Path) -> list[dict[str, Any]]:
    """Every rendered object of a team, in file order (namespace first: files are numbered)."""
    out: list[dict[str, Any]] = []
    for f in sorted((team_dir / "k8s").glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
    return out


@dataclass
class KindDeploy:
    cluster: str
    created: bool
    kubeconfig: str
    nodes: dict[str, str] = field(default_factory=dict)          # node -> node group it stands for
    applied: dict[str, int] = field(default_factory=dict)        # team -> objects applied
    failed: dict[str, str] = field(default_factory=dict)         # team -> why

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def deploy_kind(cs: CohortState, teams: Sequence[str], *,
                ensure: Callable[..., kind.KindCluster] = kind.ensure_cluster,
                factory: ClusterFactory = real_cluster) -> KindDeploy:
    """Create or reuse the cohort's kind cluster, shape its workers like the node groups (labels,
    taints, fake nvidia.com/gpu) and server-side apply every team's manifests into it."""
    kc = ensure(cs.id, cs.root / "kind.kubeconfig")
    cluster = factory(kc.kubeconfig)
    tfvars = [read_tfvars(cs.team_dir(t)) for t in teams]
    plans = kind.prepare_nodes(cluster, kind.cohort_node_groups(tfvars))
    out = KindDeploy(kc.name, kc.created, str(kc.kubeconfig), {p.node: p.group for p in plans})
    for t in teams:
        try:
            out.applied[t] = len(cluster.apply(team_objects(cs.team_dir(t)), force=True))
        except Exception as exc:  # noqa: BLE001 - one team's manifests must not stop the others
            out.failed[t] = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    cs.update_meta(k8s="kind", kind_cluster=kc.name)
    return out


@dataclass
class DrainOutcome:
    drained: dict[str, list[str]] = field(default_factory=dict)     # team -> objects deleted
    remaining: dict[str, list[str]] = field(default_factory=dict)   # team -> still there at the timeout
    unreadable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def drain_teams(cs: CohortState, meta: CohortMeta, teams: Sequence[str], *,
                factory: ClusterFactory | None = None, timeout: float = DRAIN_TIMEOUT_S,
                sleep: Callable[[float], None] | None = None) -> DrainOutcome:
    """Before `terraform destroy`: delete each team's LoadBalancer Services and PVCs (the ELBs and
    EBS volumes their controllers made, which Terraform does not know) and wait for them to go.
    A cluster that cannot be reached is reported and the destroy goes on; the sweep by tags is
    the backstop."""
    if simulated(meta):
        return DrainOutcome(notes=["the embedded target's clusters are simulated: nothing to drain"])
    clusters, unreadable, notes = cluster_sources(cs, meta, teams, factory=factory or real_cluster)
    out = DrainOutcome(unreadable=unreadable, notes=notes)
    for team, cluster in sorted(clusters.items()):
        try:
            rep = drain_cloud_backed(cluster, namespace_of(team), timeout, sleep=sleep or time.sleep)
        except Exception as exc:  # noqa: BLE001 - reported; destroy and the sweep still run
            out.unreadable.append(f"cluster of {team}: drain failed: {str(exc)[:200]}")
            continue
        out.drained[team] = rep.deleted
        if rep.remaining:
            out.remaining[team] = rep.remaining
    return out
