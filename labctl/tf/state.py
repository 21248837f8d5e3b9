"""The one reader of Terraform state files (``terraform.tfstate``, version 4).

A state file labctl finds may be missing (nothing applied yet), whole, or unreadable: cut off by a
full disk or a killed writer, or emptied. Unreadable is a known condition, never a crash: the
caller decides, and teardown in particular sets the file aside and sweeps by tag, because a state
that cannot be read must never stand between a cohort and its teardown (docs/runbook.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labctl import errors

STATE_FILE = "terraform.tfstate"


# A state file that exists but is not a Terraform state (invalid JSON, empty, not an object).
StateUnreadable = errors.StateUnreadable


def read(path: Path) -> dict[str, Any] | None:
    """The state at ``path``; None when there is none. Raises StateUnreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise StateUnreadable(path, f"not text: {exc.reason}") from exc
    return parse(text, path)


def parse(text: str | bytes, where: object) -> dict[str, Any]:
    """A state given as its text (a file's, or the S3 object's); ``where`` names it in the error.
    Raises StateUnreadable."""
    if not text.strip():
        raise StateUnreadable(where, "empty file")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise StateUnreadable(where, f"invalid JSON at byte {getattr(exc, 'pos', '?')} of {len(text)}: "
                                     "truncated (disk full? killed mid-write?)") from exc
    if not isinstance(doc, dict):
        raise StateUnreadable(where, "not a JSON object")
    return doc


def lineage_serial(text: str | bytes | None, where: object = "state") -> tuple[str, int] | None:
    """(lineage, serial) of a state given as its text: which history it belongs to and how far
    along it is (what `terraform state push` compares). None when there is none or it is unreadable."""
    try:
        doc = parse(text, where) if text else None
    except StateUnreadable:
        return None
    if doc is None:
        return None
    try:
        return str(doc.get("lineage", "")), int(doc.get("serial") or 0)
    except (TypeError, ValueError):
        return None


def read_or_none(path: Path) -> dict[str, Any] | None:
    """The state, or None when it is missing or unreadable (for readers that only show things)."""
    try:
        return read(path)
    except StateUnreadable:
        return None


def set_aside(path: Path, why: str = "unreadable") -> Path:
    """Rename a state out of terraform's way, keeping it for inspection; returns the new path."""
    dest = path.with_name(f"{path.name}.{why}-{int(time.time())}")
    path.replace(dest)
    return dest


def managed_instances(state: dict[str, Any] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(address, attributes) of every managed resource instance in the state."""
    for _module, address, attrs in instances_of(state):
        yield address, attrs


def instances_of(state: dict[str, Any] | None, resource_type: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(module address, address, attributes) of every managed instance (of ``resource_type``
    only, when given); the module address is "" in the root module."""
    for r in (state or {}).get("resources", []):
        if r.get("mode") != "managed" or resource_type not in (None, r.get("type")):
            continue
        module = r.get("module") or ""
        base = (module + "." if module else "") + f"{r['type']}.{r['name']}"
        for inst in r.get("instances", []):
            key = inst.get("index_key")
            yield module, base + (f"[{json.dumps(key)}]" if key is not None else ""), inst.get("attributes") or {}


def has_resources(state: dict[str, Any] | None) -> bool:
    return bool((state or {}).get("resources"))


def addresses(state: dict[str, Any] | None) -> list[str]:
    return [address for address, _ in managed_instances(state)]


def ids(state: dict[str, Any] | None) -> set[str]:
    """Every id and ARN the state records, and every name as :func:`name_key` (its resource type
    with it: a node group, its launch template and its scale-to-zero schedule share one name, so
    a bare name would let one stand for another): what a destroy of the state removes."""
    out: set[str] = set()
    for r in (state or {}).get("resources", []):
        if r.get("mode") != "managed":
            continue
        for inst in r.get("instances", []):
            attrs = inst.get("attributes") or {}
            out.update(str(attrs[k]) for k in ("id", "arn") if attrs.get(k))
            if attrs.get("name"):
                out.add(name_key(r["type"], str(attrs["name"])))
    return out


def name_key(resource_type: str, name: str) -> str:
    """How :func:`ids` records a resource's name: ``aws_launch_template/c1-t1-gpu_spot``."""
    return f"{resource_type}/{name}"


def outputs(state: dict[str, Any] | None) -> dict[str, Any]:
    """The root module's output values by name."""
    return {k: v.get("value") for k, v in (state or {}).get("outputs", {}).items()}


def team_state(team_dir: Path) -> dict[str, Any] | None:
    """A team root's state; None when it has none or it is unreadable (readers that only show)."""
    return read_or_none(team_dir / STATE_FILE)


def team_outputs(team_dir: Path) -> dict[str, Any]:
    """A team root's output values by name ({} before its first apply)."""
    return outputs(team_state(team_dir))
