"""A read-only view of a ``terraform show -json`` plan document, for the estimate.

Owns walking ``planned_values`` (root and child modules), ``resource_changes`` (actions and
values unknown until apply) and ``configuration`` (which resource an expression refers to, e.g.
a node group's launch template whose id is not known at plan time). Values are deep-frozen so
nothing downstream can change the document it was given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class PlannedResource:
    address: str
    module_address: str          # "" for the root module
    type: str
    name: str
    index: Any
    values: Mapping[str, Any]
    actions: tuple[str, ...]     # from resource_changes, e.g. ("create",) or ("no-op",)
    unknown: frozenset[str]      # top-level attributes known only after apply

    def get(self, *path: Any, default: Any = None) -> Any:
        """values[path[0]][path[1]]...; ``default`` when any step is missing or null."""
        cur: Any = self.values
        for step in path:
            try:
                cur = cur[step]
            except (KeyError, IndexError, TypeError):
                return default
            if cur is None:
                return default
        return cur

    def is_unknown(self, attribute: str) -> bool:
        return attribute in self.unknown

    @property
    def config_address(self) -> str:
        """The address inside its module, without index: what ``configuration`` uses."""
        return f"{self.type}.{self.name}"


class Plan:
    """``plan.resources['module.team.aws_eks_cluster.this']`` and friends."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if not isinstance(document, Mapping) or "planned_values" not in document and "resource_changes" not in document:
            raise ValueError("not a terraform plan document (no planned_values or resource_changes)")
        self._doc = document
        changes: dict[str, Mapping[str, Any]] = {}
        for rc in document.get("resource_changes") or ():
            changes[rc.get("address", "")] = rc
        self._changes = changes
        resources: dict[str, PlannedResource] = {}
        root = (document.get("planned_values") or {}).get("root_module") or {}
        for module_address, raw in _walk_module(root, ""):
            if raw.get("mode", "managed") != "managed":
                continue
            addr = raw["address"]
            rc = changes.get(addr, {})
            change = rc.get("change") or {}
            after_unknown = change.get("after_unknown") or {}
            unknown = frozenset(k for k, v in after_unknown.items() if v is True) if isinstance(after_unknown, Mapping) else frozenset()
            resources[addr] = PlannedResource(
                address=addr, module_address=raw.get("module_address", module_address) or module_address,
                type=raw["type"], name=raw["name"], index=raw.get("index"),
                values=_freeze(raw.get("values") or {}),
                actions=tuple(change.get("actions") or ("no-op",)), unknown=unknown,
            )
        self.resources: Mapping[str, PlannedResource] = MappingProxyType(dict(sorted(resources.items())))

    def __iter__(self) -> Iterator[PlannedResource]:
        return iter(self.resources.values())

    def of_type(self, *types: str) -> list[PlannedResource]:
        return [r for r in self.resources.values() if r.type in types]

    def deleted(self) -> list[str]:
        """Addresses the plan destroys without replacing (they will cost nothing after apply)."""
        return sorted(a for a, rc in self._changes.items()
                      if tuple((rc.get("change") or {}).get("actions") or ()) == ("delete",))

    def references(self, resource: PlannedResource, *path: str) -> tuple[str, ...]:
        """Addresses (within the resource's module) an expression in its configuration refers to.

        ``plan.references(node_group, "launch_template", "id")`` -> ("aws_launch_template.gpu.id",
        "aws_launch_template.gpu"). Empty when the configuration section is absent.
        """
        module = (self._doc.get("configuration") or {}).get("root_module") or {}
        for part in _module_call_names(resource.module_address):
            module = ((module.get("module_calls") or {}).get(part) or {}).get("module") or {}
        for cfg in module.get("resources") or ():
            if cfg.get("address") != resource.config_address:
                continue
            expr: Any = cfg.get("expressions") or {}
            for step in path:
                if isinstance(expr, list):
                    expr = expr[0] if expr else {}
                expr = expr.get(step) if isinstance(expr, Mapping) else None
                if expr is None:
                    return ()
            if isinstance(expr, list):
                expr = expr[0] if expr else {}
            return tuple((expr or {}).get("references") or ())
        return ()


def state_values(tfstate: Mapping[str, Any]) -> dict[str, Any]:
    """A terraform.tfstate (format v4) as the ``values`` document `terraform show -json` prints.

    Lets a caller price what exists without starting terraform and the provider (~3 s here):
    the state file carries every attribute; only the layout differs.
    """
    resources = []
    for r in tfstate.get("resources") or ():
        module = r.get("module") or ""
        base = (module + "." if module else "") + ("data." if r.get("mode") == "data" else "") + f"{r['type']}.{r['name']}"
        for inst in r.get("instances") or ():
            key = inst.get("index_key")
            resources.append({
                "address": base + (f"[{json.dumps(key)}]" if key is not None else ""),
                "mode": r.get("mode", "managed"), "type": r["type"], "name": r["name"], "index": key,
                "module_address": module, "values": inst.get("attributes") or {},
            })
    return {"root_module": {"resources": resources}}


def _walk_module(module: Mapping[str, Any], address: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for r in module.get("resources") or ():
        yield address, r
    for child in module.get("child_modules") or ():
        yield from _walk_module(child, child.get("address", ""))


def _module_call_names(module_address: str) -> list[str]:
    """'module.team["a"].module.eks' -> ['team', 'eks'] (instance keys dropped)."""
    names: list[str] = []
    parts = module_address.split("module.")[1:] if module_address else []
    for part in parts:
        name = part.rstrip(".")
        bracket = name.find("[")
        names.append(name[:bracket] if bracket >= 0 else name)
    return names
