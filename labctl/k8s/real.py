"""RealCluster: the cluster interface over the official ``kubernetes`` client (dynamic client).

The only module that imports ``kubernetes``. Objects go in and come out as plain JSON dicts;
quantities are whatever strings the caller wrote (the client 37 rejects numeric quantities in
typed models; the dynamic client sends our dicts as they are, and the renderer writes strings).
API errors become the typed family in labctl.k8s.interface, with bodies truncated so that a
Secret's content cannot reach a log line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from kubernetes import config as k8s_config
from kubernetes.client import ApiClient, VersionApi
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
from urllib3.exceptions import HTTPError

from labctl.k8s.interface import (
    FIELD_MANAGER,
    ClusterError,
    Conflict,
    NotFound,
    Obj,
    Propagation,
    Unreachable,
    Usage,
    WatchEvent,
)
from labctl.spec.quantity import parse_quantity

_MAX_BODY = 300
METRICS = "metrics.k8s.io/v1beta1"


def _error(exc: Exception, what: str) -> ClusterError:
    status = getattr(exc, "status", None)
    body = str(getattr(exc, "body", None) or exc)
    body = body if len(body) <= _MAX_BODY else body[:_MAX_BODY] + "..."
    if status == 404:
        return NotFound(f"{what}: not found")
    if status == 409:
        return Conflict(f"{what}: {body}")
    return ClusterError(f"{what}: HTTP {status}: {body}")


class RealCluster:
    is_fake = False

    def __init__(self, api_client: ApiClient) -> None:
        self._api = api_client
        try:
            self._dyn = DynamicClient(api_client)
        except (HTTPError, OSError) as exc:
            raise Unreachable(f"cannot reach the cluster at {api_client.configuration.host}: {type(exc).__name__}") from exc
        except (ApiException, DynamicApiError) as exc:
            raise _error(exc, "discovery") from exc

    @classmethod
    def from_kubeconfig(cls, path: str | Path | None = None, context: str | None = None,
                        timeout_s: float = 5) -> RealCluster:
        try:
            api = k8s_config.new_client_from_config(config_file=str(path) if path else None, context=context)
        except (k8s_config.ConfigException, OSError) as exc:
            raise Unreachable(f"no usable kubeconfig ({exc})") from exc
        try:
            VersionApi(api).get_code(_request_timeout=timeout_s)
        except (HTTPError, OSError, ApiException) as exc:
            raise Unreachable(f"cannot reach the cluster at {api.configuration.host}: {type(exc).__name__}") from exc
        return cls(api)

    def _res(self, api_version: str, kind: str):  # type: ignore[no-untyped-def]
        try:
            return self._dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            raise NotFound(f"the cluster serves no {kind} in {api_version}") from exc

    def _call(self, what: str, fn, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (DynamicApiError, ApiException) as exc:
            raise _error(exc, what) from exc
        except (HTTPError, OSError) as exc:
            raise Unreachable(f"{what}: {type(exc).__name__}") from exc

    def apply(self, objects: Sequence[Mapping[str, Any]], *, field_manager: str = FIELD_MANAGER,
              force: bool = False) -> list[Obj]:
        out = []
        for obj in objects:
            res = self._res(obj["apiVersion"], obj["kind"])
            md = obj.get("metadata") or {}
            what = f"apply {obj['kind']}/{md.get('name')}"
            r = self._call(what, self._dyn.server_side_apply, res, body=dict(obj),
                           namespace=md.get("namespace") if res.namespaced else None,
                           field_manager=field_manager, force_conflicts=force)
            out.append(r.to_dict())
        return out

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        res = self._res(api_version, kind)
        try:
            return self._call(f"get {kind}/{name}", res.get, name=name,
                              namespace=namespace if res.namespaced else None).to_dict()
        except NotFound:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[Obj]:
        res = self._res(api_version, kind)
        r = self._call(f"list {kind}", res.get, namespace=namespace if res.namespaced else None,
                       label_selector=label_selector)
        items = [{"apiVersion": api_version, "kind": kind, **i} for i in r.to_dict().get("items", [])]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def watch(self, api_version: str, kind: str, namespace: str | None = None,
              label_selector: str | None = None, resource_version: str | None = None,
              timeout_s: int = 5) -> Iterator[WatchEvent]:
        res = self._res(api_version, kind)
        stream = self._call(f"watch {kind}", self._dyn.watch, res, namespace=namespace if res.namespaced else None,
                            label_selector=label_selector, resource_version=resource_version, timeout=timeout_s)
        try:
            for event in stream:
                if event["type"] == "ERROR":
                    raise ClusterError(f"watch {kind}: {str(event.get('raw_object'))[:_MAX_BODY]}")
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    yield WatchEvent(event["type"], dict(event["raw_object"]))
        except (DynamicApiError, ApiException) as exc:
            raise _error(exc, f"watch {kind}") from exc

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
               propagation: Propagation = "Foreground") -> bool:
        res = self._res(api_version, kind)
        try:
            self._call(f"delete {kind}/{name}", res.delete, name=name,
                       namespace=namespace if res.namespaced else None,
                       body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation})
        except NotFound:
            return False
        return True

    def patch_status(self, api_version: str, kind: str, name: str, status: Mapping[str, Any],
                     namespace: str | None = None, *, field_manager: str = FIELD_MANAGER) -> Obj:
        res = self._res(api_version, kind)
        body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "status": dict(status)}
        path = res.path(name=name, namespace=namespace if res.namespaced else None) + "/status"
        r = self._call(f"patch {kind}/{name}/status", self._dyn.request, "patch", path, body=body,
                       content_type="application/apply-patch+yaml", field_manager=field_manager,
                       force_conflicts=True)
        return r.to_dict()

    def node_usage(self) -> list[Usage] | None:
        try:
            items = self.list(METRICS, "NodeMetrics")
        except NotFound:
            return None
        return [Usage(i["metadata"]["name"], None, str(i["usage"]["cpu"]), str(i["usage"]["memory"])) for i in items]

    def pod_usage(self, namespace: str | None = None) -> list[Usage] | None:
        try:
            items = self.list(METRICS, "PodMetrics", namespace)
        except NotFound:
            return None
        out = []
        for i in items:
            cpu = sum((parse_quantity(c["usage"]["cpu"]) for c in i.get("containers", [])), Decimal(0))
            mem = sum((parse_quantity(c["usage"]["memory"]) for c in i.get("containers", [])), Decimal(0))
            out.append(Usage(i["metadata"]["name"], i["metadata"].get("namespace"),
                             f"{int(cpu * 1000)}m", str(int(mem))))
        return out
