"""Ordered drain before `terraform destroy`: delete the cluster objects that own cloud resources
Terraform does not know (Services of type LoadBalancer -> ELBs, PersistentVolumeClaims -> EBS
volumes) and wait until they are gone, so their controllers release those resources while the
cluster still runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labctl.k8s.interface import Cluster, Obj


@dataclass
class DrainReport:
    deleted: list[str] = field(default_factory=list)     # "Service ns/name" as asked to delete
    remaining: list[str] = field(default_factory=list)   # still present when the timeout passed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.remaining


def _ref(o: Obj) -> str:
    md = o["metadata"]
    return f"{o['kind']} {md.get('namespace', '')}/{md['name']}"


def cloud_backed(cluster: Cluster, namespace: str | None) -> list[Obj]:
    """LoadBalancer Services first (their ELBs), then PVCs; namespace None means all."""
    services = [s for s in cluster.list("v1", "Service", namespace)
                if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    services = [{"apiVersion": "v1", "kind": "Service", **s} for s in services]
    pvcs = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", **p}
            for p in cluster.list("v1", "PersistentVolumeClaim", namespace)]
    return services + pvcs


def drain_cloud_backed(cluster: Cluster, namespace: str | None, timeout: float, *, poll_s: float = 2.0,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> DrainReport:
    """Delete LoadBalancer Services and PVCs in ``namespace`` and wait up to ``timeout`` seconds.

    Returns what was deleted and what is still there; the caller (``down``) decides whether to
    go on to `terraform destroy` (the sweep by tags finds what a stuck controller left).
    A PVC still mounted by a running pod stays (pvc-protection) until that pod is gone.
    """
    start = clock()
    report = DrainReport()
    targets = cloud_backed(cluster, namespace)
    for o in targets:
        md = o["metadata"]
        cluster.delete(o["apiVersion"], o["kind"], md["name"], md.get("namespace"), propagation="Foreground")
        report.deleted.append(_ref(o))
    pending = list(targets)
    while True:
        pending = [o for o in pending if cluster.get(o["apiVersion"], o["kind"], o["metadata"]["name"],
                                                     o["metadata"].get("namespace")) is not None]
        if not pending or clock() - start >= timeout:
            break
        sleep(poll_s)
    report.remaining = [_ref(o) for o in pending]
    report.seconds = clock() - start
    return report
