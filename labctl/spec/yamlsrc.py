"""Load YAML while remembering where each value came from (file and line).

Validation errors must name the file, line and field; PyYAML's composed node tree carries the
marks, so we build plain Python data and, beside it, a map from field path to line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labctl.errors import Problem, SpecError

PathKey = tuple[str | int, ...]


@dataclass
class Located:
    data: Any
    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """Line of the field at ``path`` or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], problems: list[Problem], file: str) -> Any:
    loader = _UniqueKeyLoader("")
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, ".".join(map(str, child)), "duplicate key"))
            lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, child, lines, problems, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            items.append(_walk(item, child, lines, problems, file))
        return items
    return loader.construct_object(node, deep=True)  # type: ignore[no-untyped-call]


def load_yaml(path: Path, display_name: str | None = None) -> Located:
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(name, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(name, None, "", f"cannot read: {exc}")]) from None
    return load_yaml_text(text, name)


def load_yaml_text(text: str, name: str) -> Located:
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(name, line, "", f"invalid YAML: {problem}")]) from None
    if node is None:
        raise SpecError([Problem(name, None, "", "file is empty")])
    lines: dict[PathKey, int] = {(): node.start_mark.line + 1}
    problems: list[Problem] = []
    data = _walk(node, (), lines, problems, name)
    if problems:
        raise SpecError(problems)
    return Located(data=data, file=name, lines=lines)
