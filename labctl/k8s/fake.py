"""FakeCluster: an in-memory stand-in for a Kubernetes API server, for unit tests. It is a FAKE.

It schedules nothing, runs no controllers and checks no schemas. What it does model, because
callers depend on it and tests/contract holds it to the real API's behaviour:

- server-side apply with field managers: each manager owns the leaf fields it applied; a field
  it stops applying is removed unless another manager owns it; applying a different value to a
  field another manager owns is a Conflict unless forced (then ownership moves). Approximation:
  lists are atomic (the API merges lists marked x-kubernetes-list-type=map by key).
- namespaced objects need an existing namespace; resourceVersion grows with every change and a
  no-op apply does not change it; uid, generation, managedFields (manager names only).
- delete with propagation through ownerReferences; finalizers keep an object (with a
  deletionTimestamp) until they are removed; deleting a namespace deletes what is in it.
- watch replays recorded events after a resourceVersion and ends (it never blocks).
- metrics.k8s.io usage only when ``metrics=True`` (set figures with :meth:`set_usage`).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from labctl.k8s.interface import (
    FIELD_MANAGER,
    ClusterError,
    Conflict,
    NotFound,
    Obj,
    Propagation,
    Usage,
    WatchEvent,
    key_of,
)
from labctl.k8s.selectors import compile_selector

CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "PriorityClass", "ClusterRole", "ClusterRoleBinding",
    "StorageClass", "CustomResourceDefinition", "APIService", "CSIDriver", "CSINode",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "IngressClass", "RuntimeClass",
})
_SERVER_FIELDS = {"resourceVersion", "uid", "managedFields", "creationTimestamp", "generation",
                  "deletionTimestamp", "name", "namespace"}

Path = tuple[str, ...]


def _leaves(body: Mapping[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    out: dict[Path, Any] = {}
    for k, v in body.items():
        if not prefix and k in ("apiVersion", "kind", "status"):
            continue
        if prefix == ("metadata",) and k in _SERVER_FIELDS:
            continue
        p = (*prefix, k)
        if isinstance(v, dict) and v:
            out.update(_leaves(v, p))
        else:
            out[p] = v
    return out


_MISSING = object()


def _lookup(obj: Mapping[str, Any], path: Path) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _set(obj: dict[str, Any], path: Path, value: Any) -> None:
    cur = obj
    for part in path[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: Path) -> None:
    chain = [obj]
    for part in path[:-1]:
        nxt = chain[-1].get(part)
        if not isinstance(nxt, dict):
            return
        chain.append(nxt)
    chain[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):   # prune maps the removal left empty
        if chain[depth] or path[:depth] == ("metadata",):
            break
        chain[depth - 1].pop(path[depth - 1], None)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    """In-memory fake of the cluster interface (see the module docstring for what it models)."""

    is_fake = True

    def __init__(self, *, metrics: bool = False) -> None:
        self._objects: dict[tuple[str, str, str, str], Obj] = {}
        self._managed: dict[tuple[str, str, str, str], dict[str, set[Path]]] = {}
        self._events: list[tuple[int, str, Obj]] = []
        self._rv = itertools.count(1000)
        self._uids = itertools.count(1)
        self._metrics = metrics
        self._node_usage: list[Usage] = []
        self._pod_usage: list[Usage] = []

    # -- helpers --------------------------------------------------------------------------------

    def _record(self, kind: str, obj: Obj) -> None:
        rv = next(self._rv)
        obj["metadata"]["resourceVersion"] = str(rv)
        self._events.append((rv, kind, copy.deepcopy(obj)))

    def _managed_fields(self, key: tuple[str, str, str, str]) -> list[dict[str, str]]:
        return [{"manager": m, "operation": "Apply", "fieldsType": "FieldsV1"}
                for m, paths in sorted(self._managed.get(key, {}).items()) if paths]

    def _out(self, key: tuple[str, str, str, str]) -> Obj:
        obj = copy.deepcopy(self._objects[key])
        obj["metadata"]["managedFields"] = self._managed_fields(key)
        return obj

    def _key(self, api_version: str, kind: str, name: str, namespace: str | None) -> tuple[str, str, str, str]:
        return (api_version, kind, "" if kind in CLUSTER_SCOPED else (namespace or ""), name)

    # -- the interface --------------------------------------------------------------------------

    def apply(self, objects: Sequence[Mapping[str, Any]], *, field_manager: str = FIELD_MANAGER,
              force: bool = False) -> list[Obj]:
        return [self._apply_one(o, field_manager, force) for o in objects]

    def _apply_one(self, body: Mapping[str, Any], manager: str, force: bool) -> Obj:
        md = body.get("metadata") or {}
        kind, name, ns = body.get("kind"), md.get("name"), md.get("namespace")
        if not body.get("apiVersion") or not kind or not name:
            raise ClusterError("apply needs apiVersion, kind and metadata.name")
        if kind in CLUSTER_SCOPED:
            ns = None
        elif not ns:
            raise ClusterError(f"{kind}/{name}: a namespaced object needs metadata.namespace")
        elif ("v1", "Namespace", "", ns) not in self._objects:
            raise NotFound(f'namespaces "{ns}" not found')
        key = self._key(str(body["apiVersion"]), str(kind), str(name), ns)
        new = _leaves(dict(body))
        current = self._objects.get(key)
        owners = self._managed.setdefault(key, {})
        if current is None:
            current = {"apiVersion": body["apiVersion"], "kind": kind,
                       "metadata": {"name": name, **({"namespace": ns} if ns else {}),
                                    "uid": f"00000000-0000-4000-8000-{next(self._uids):012d}",
                                    "creationTimestamp": _now(), "generation": 1}}
            created = True
        else:
            created = False
        conflicts = sorted((m, p) for p, v in new.items() for m, paths in owners.items()
                           if m != manager and p in paths and _lookup(current, p) != v)
        if conflicts and not force:
            detail = "; ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in conflicts)
            raise Conflict(f"Apply failed with {len(conflicts)} conflict(s): {detail}")
        for m, p in conflicts:
            owners[m].discard(p)
        before = copy.deepcopy(current)
        for p in owners.get(manager, set()) - set(new):
            if not any(p in paths for m, paths in owners.items() if m != manager):
                _remove(current, p)
        for p, v in new.items():
            _set(current, p, v)
        owners[manager] = set(new)
        if created:
            self._objects[key] = current
            self._record("ADDED", current)
        elif current != before:
            if current.get("spec") != before.get("spec"):
                current["metadata"]["generation"] = int(before["metadata"].get("generation", 1)) + 1
            self._record("MODIFIED", current)
            self._finish_if_released(key)
            if key not in self._objects:
                return copy.deepcopy(current)
        return self._out(key)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        key = self._key(api_version, kind, name, namespace)
        return self._out(key) if key in self._objects else None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[Obj]:
        match = compile_selector(label_selector)
        out = [self._out(k) for k, o in sorted(self._objects.items())
               if k[0] == api_version and k[1] == kind and (namespace is None or k[2] == namespace)
               and match(o["metadata"].get("labels") or {})]
        return out

    def watch(self, api_version: str, kind: str, namespace: str | None = None,
              label_selector: str | None = None, resource_version: str | None = None,
              timeout_s: int = 5) -> Iterator[WatchEvent]:
        match = compile_selector(label_selector)

        def wanted(o: Obj) -> bool:
            k = key_of(o)
            return (k[0] == api_version and k[1] == kind and (namespace is None or k[2] == namespace)
                    and match(o["metadata"].get("labels") or {}))

        if resource_version is None:   # like the API: the current state as ADDED events first
            for o in self.list(api_version, kind, namespace, label_selector):
                yield WatchEvent("ADDED", o)
            return
        since = int(resource_version)
        for rv, etype, obj in list(self._events):
            if rv > since and wanted(obj):
                yield WatchEvent(etype, copy.deepcopy(obj))  # type: ignore[arg-type]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
               propagation: Propagation = "Foreground") -> bool:
        key = self._key(api_version, kind, name, namespace)
        obj = self._objects.get(key)
        if obj is None:
            return False
        uid = obj["metadata"]["uid"]
        for dkey, dep in list(self._objects.items()):
            refs = dep["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                if propagation == "Orphan":
                    dep["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    self._record("MODIFIED", dep)
                else:
                    self.delete(dkey[0], dkey[1], dkey[3], dkey[2] or None, propagation)
        if kind == "Namespace":
            for dkey in [k for k in self._objects if k[2] == name]:
                self.delete(dkey[0], dkey[1], dkey[3], dkey[2], "Background")
        if "deletionTimestamp" not in obj["metadata"]:
            obj["metadata"]["deletionTimestamp"] = _now()
            if obj["metadata"].get("finalizers") or (kind == "Namespace" and any(k[2] == name for k in self._objects)):
                self._record("MODIFIED", obj)
        self._finish_if_released(key)
        return True

    def patch_status(self, api_version: str, kind: str, name: str, status: Mapping[str, Any],
                     namespace: str | None = None, *, field_manager: str = FIELD_MANAGER) -> Obj:
        key = self._key(api_version, kind, name, namespace)
        obj = self._objects.get(key)
        if obj is None:
            raise NotFound(f'{kind.lower()}s "{name}" not found')
        for p, v in _leaves(dict(status), ("status",)).items():
            _set(obj, p, v)
        self._record("MODIFIED", obj)
        return self._out(key)

    def node_usage(self) -> list[Usage] | None:
        return list(self._node_usage) if self._metrics else None

    def pod_usage(self, namespace: str | None = None) -> list[Usage] | None:
        if not self._metrics:
            return None
        return [u for u in self._pod_usage if namespace is None or u.namespace == namespace]

    # -- test controls (what controllers and kubelets would do) ----------------------------------

    def set_usage(self, nodes: Sequence[Usage] = (), pods: Sequence[Usage] = ()) -> None:
        self._metrics = True
        self._node_usage, self._pod_usage = list(nodes), list(pods)

    def remove_finalizers(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """What the controller owning a finalizer does when its cleanup is done."""
        key = self._key(api_version, kind, name, namespace)
        if key in self._objects:
            self._objects[key]["metadata"].pop("finalizers", None)
            self._finish_if_released(key)

    def _finish_if_released(self, key: tuple[str, str, str, str]) -> None:
        obj = self._objects.get(key)
        if obj is None or "deletionTimestamp" not in obj["metadata"] or obj["metadata"].get("finalizers"):
            return
        if key[1] == "Namespace" and any(k[2] == key[3] for k in self._objects):
            return
        del self._objects[key]
        self._managed.pop(key, None)
        self._record("DELETED", obj)
        if key[2]:   # the last object of a terminating namespace lets it go
            ns_key = ("v1", "Namespace", "", key[2])
            if ns_key in self._objects:
                self._finish_if_released(ns_key)
