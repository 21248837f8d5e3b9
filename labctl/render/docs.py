"""One parsed object of a rendered manifest file, with the line of every path in it: what the
schema check (k8s_validate) and the Terraform consistency check (consistency) both report
problems against. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml

from labctl.errors import Problem

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Doc:
    """One parsed object of a rendered file, with the line of every path in it."""

    file: str
    obj: dict
    text: str = field(repr=False, default="")
    index: int = 0               # position among the file's documents

    @cached_property
    def lines(self) -> Mapping[tuple, int]:
        """Line of every path; composed again only when a problem needs a line (rarely)."""
        out: dict[tuple, int] = {}
        nodes = [n for n in yaml.compose_all(self.text, Loader=_LOADER) if n is not None]
        if self.index < len(nodes):
            _line_map(nodes[self.index], (), out)
        return out

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace", ""))

    @property
    def ref(self) -> str:
        return f"{self.kind or '?'}/{self.name or '?'}"

    def line(self, path: tuple) -> int | None:
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def problem(self, path: tuple, message: str) -> Problem:
        return Problem(self.file, self.line(tuple(path)), f"{self.ref} {format_path(path)}".rstrip(), message)


def format_path(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_map(node: yaml.Node, path: tuple, out: dict[tuple, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*path, k.value)
            out[key] = k.start_mark.line + 1
            _line_map(v, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)
