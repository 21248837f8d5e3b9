"""The laptop path: a kind cluster per cohort whose workers look like the node groups.

Shells out to the `kind` binary only (never Docker directly). Each worker is labelled and
tainted like one node group (labctl.render.pools via the rendered tfvars) and the GPU ones
advertise fake ``nvidia.com/gpu`` capacity (a node status patch), so the manifests rendered for
EKS schedule unchanged. Nothing runs a GPU: pods that need one are scheduled, not accelerated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl import resources
from labctl.errors import EnvironmentProblem, LabctlError, NotFoundError
from labctl.k8s.interface import Cluster
from labctl.k8s.kubeconfig import write_kubeconfig

FIELD_MANAGER = "labctl-kind"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
GROUP_ORDER = ("system", "gpu_on_demand", "gpu_spot")


def cluster_name(cohort: str) -> str:
    return f"labctl-{cohort}"


def config_path() -> Path:
    return resources.k8s_dir() / "kind" / "cluster.yaml"


def create_argv(kind: str, name: str, config: Path, kubeconfig: Path) -> list[str]:
    return [kind, "create", "cluster", "--name", name, "--config", str(config),
            "--kubeconfig", str(kubeconfig), "--wait", "120s"]


def get_clusters_argv(kind: str) -> list[str]:
    return [kind, "get", "clusters"]


def kubeconfig_argv(kind: str, name: str) -> list[str]:
    return [kind, "get", "kubeconfig", "--name", name]


def find_kind(which: Callable[[str], str | None] = shutil.which) -> str:
    path = which("kind")
    if not path:
        raise EnvironmentProblem("`kind` is not on PATH: install it (https://kind.sigs.k8s.io) and Docker, "
                                 "or use the embedded target's simulated cluster")
    return path


@dataclass(frozen=True)
class KindCluster:
    name: str
    kubeconfig: Path
    created: bool


def ensure_cluster(cohort: str, kubeconfig: Path, *, create: bool = True, run: Callable[..., Any] = subprocess.run,
                   which: Callable[[str], str | None] = shutil.which) -> KindCluster:
    """Create the cohort's kind cluster (unless ``create`` is False), or reuse it when it
    exists; write its kubeconfig (mode 0600)."""
    kind = find_kind(which)
    name = cluster_name(cohort)
    listed = run(get_clusters_argv(kind), capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        raise LabctlError(f"kind get clusters failed: {(listed.stderr or '').strip()[:300]}")
    if name in listed.stdout.split():
        got = run(kubeconfig_argv(kind, name), capture_output=True, text=True, check=False)
        if got.returncode != 0:
            raise LabctlError(f"kind get kubeconfig failed: {(got.stderr or '').strip()[:300]}")
        write_kubeconfig(kubeconfig, got.stdout)
        return KindCluster(name, kubeconfig, created=False)
    if not create:
        raise NotFoundError(f"no kind cluster {name} (run `labctl up --k8s kind` first)")
    made = run(create_argv(kind, name, config_path(), kubeconfig), capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise LabctlError(f"kind create cluster {name} failed: {(made.stderr or '').strip()[-300:]}")
    kubeconfig.chmod(0o600)
    return KindCluster(name, kubeconfig, created=True)


@dataclass(frozen=True)
class NodePlan:
    node: str
    group: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    gpus: int


def plan_nodes(workers: Sequence[str], tfvars: Mapping[str, Any]) -> list[NodePlan]:
    """One worker per node group that Terraform would create, in a fixed order; extra workers
    join the system group. Pure, so it is tested without a cluster."""
    groups = [g for g in GROUP_ORDER if g in (tfvars.get("node_groups") or {})]
    workers = sorted(workers)
    if len(workers) < len(groups):
        raise LabctlError(f"the kind cluster has {len(workers)} workers, the node groups need {len(groups)} "
                          f"({', '.join(groups)}); recreate it from {config_path()}")
    plans = []
    for i, node in enumerate(workers):
        g = groups[i] if i < len(groups) else "system"
        ng = tfvars["node_groups"].get(g) or {}
        plans.append(NodePlan(node, g, dict(ng.get("labels") or {}), list(ng.get("taints") or []),
                              int(ng.get("gpus_per_node") or 0)))
    return plans


def prepare_nodes(cluster: Cluster, tfvars: Mapping[str, Any]) -> list[NodePlan]:
    """Label, taint and (for GPU groups) advertise nvidia.com/gpu on the kind workers."""
    nodes = cluster.list("v1", "Node")
    workers = [n["metadata"]["name"] for n in nodes
               if CONTROL_PLANE_LABEL not in (n["metadata"].get("labels") or {})]
    plans = plan_nodes(workers, tfvars)
    for p in plans:
        cluster.apply([{"apiVersion": "v1", "kind": "Node",
                        "metadata": {"name": p.node, "labels": p.labels},
                        "spec": {"taints": p.taints}}], field_manager=FIELD_MANAGER, force=True)
        if p.gpus:
            gpus = str(p.gpus)
            cluster.patch_status("v1", "Node", p.node, {"capacity": {"nvidia.com/gpu": gpus},
                                                        "allocatable": {"nvidia.com/gpu": gpus}},
                                 field_manager=FIELD_MANAGER)
    return plans


def cohort_node_groups(team_tfvars: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One kind cluster serves the whole cohort (a namespace per team), so its workers stand for
    the union of the teams' node groups; per group, the largest GPU count any team renders."""
    merged: dict[str, Any] = {}
    for tv in team_tfvars:
        for g, ng in (tv.get("node_groups") or {}).items():
            if g not in merged or int(ng.get("gpus_per_node") or 0) > int(merged[g].get("gpus_per_node") or 0):
                merged[g] = ng
    return {"node_groups": merged}


def bring_up(cohort: str, team_tfvars: Sequence[Mapping[str, Any]], kubeconfig: Path) -> tuple[KindCluster, list[NodePlan]]:
    """`labctl up --k8s kind`: create or reuse the cohort's cluster and shape its workers."""
    # Here, not at the top: the official client takes about half a second to import, and only
    # a command that talks to a cluster needs it.
    from labctl.k8s.real import RealCluster

    kc = ensure_cluster(cohort, kubeconfig)
    cluster = RealCluster.from_kubeconfig(kc.kubeconfig)
    return kc, prepare_nodes(cluster, cohort_node_groups(team_tfvars))


def delete_argv(kind: str, name: str) -> list[str]:
    return [kind, "delete", "cluster", "--name", name]


def delete_cluster(cohort: str, *, run: Callable[..., Any] = subprocess.run,
                   which: Callable[[str], str | None] = shutil.which) -> bool:
    """Delete the cohort's kind cluster; False when there was none (already gone is fine)."""
    kind = find_kind(which)
    name = cluster_name(cohort)
    listed = run(get_clusters_argv(kind), capture_output=True, text=True, check=False)
    if listed.returncode != 0 or name not in listed.stdout.split():
        return False
    done = run(delete_argv(kind, name), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabctlError(f"kind delete cluster {name} failed: {(done.stderr or '').strip()[-300:]}")
    return True
