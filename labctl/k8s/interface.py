"""The one cluster interface every part of labctl talks to, and its small typed error family.

Objects travel as plain Kubernetes JSON dicts (what `kubectl get -o json` shows); quantities are
strings. Implementations: :class:`labctl.k8s.real.RealCluster` (the official client; the only
module importing ``kubernetes``), :class:`labctl.k8s.fake.FakeCluster` (in memory, for tests),
and the simulated cluster of the embedded target (its own issue) behind the same Protocol.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import (
    Any,
    Literal,
    Protocol,
    runtime_checkable,
)

from labctl.errors import ClusterConflict, ClusterError, ClusterNotFound, ClusterUnreachable  # noqa: F401 - re-exported

FIELD_MANAGER = "labctl"
Propagation = Literal["Foreground", "Background", "Orphan"]
Obj = dict[str, Any]


# The cluster's errors live in labctl.errors (one tree); the names the adapters use:
NotFound = ClusterNotFound
Conflict = ClusterConflict
Unreachable = ClusterUnreachable


@dataclass(frozen=True)
class WatchEvent:
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    object: Obj


@dataclass(frozen=True)
class Usage:
    """One node's or pod's usage from metrics.k8s.io; quantities as the API gives them."""

    name: str
    namespace: str | None
    cpu: str
    memory: str


def key_of(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    md = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(md.get("namespace") or ""), str(md.get("name")))


@runtime_checkable
class Cluster(Protocol):
    def apply(self, objects: Sequence[Mapping[str, Any]], *, field_manager: str = FIELD_MANAGER,
              force: bool = False) -> list[Obj]:
        """Server-side apply each object in order; returns the objects as stored."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist."""

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[Obj]:
        """Objects of a kind (all namespaces when namespace is None), filtered by label selector."""

    def watch(self, api_version: str, kind: str, namespace: str | None = None,
              label_selector: str | None = None, resource_version: str | None = None,
              timeout_s: int = 5) -> Iterator[WatchEvent]:
        """Changes after ``resource_version``, until ``timeout_s`` passes."""

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
               propagation: Propagation = "Foreground") -> bool:
        """Ask for deletion; False when it was already gone. Finalizers may keep it a while."""

    def patch_status(self, api_version: str, kind: str, name: str, status: Mapping[str, Any],
                     namespace: str | None = None, *, field_manager: str = FIELD_MANAGER) -> Obj:
        """Server-side apply to the status subresource (kind uses it for fake GPU capacity)."""

    def node_usage(self) -> list[Usage] | None:
        """Per-node usage, or None when metrics.k8s.io is not served."""

    def pod_usage(self, namespace: str | None = None) -> list[Usage] | None:
        """Per-pod usage (containers summed), or None when metrics.k8s.io is not served."""
