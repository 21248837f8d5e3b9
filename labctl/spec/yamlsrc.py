"""Load YAML while remembering where each value came from (file and line), within bounds.

Validation errors must name the file, line and field; PyYAML's composed node tree carries the
marks, so we build plain Python data and, beside it, a map from field path to line number.

A cohort file comes from whoever wrote it, so loading is bounded before anything is built: the
file's size (read no further than the limit), the nesting depth (checked while composing, so a
file nested 10,000 deep never reaches Python's recursion limit) and the number of values once
aliases are expanded (counted on the composed graph, each anchored node once, so an
alias-expansion bomb is refused without expanding it). Each limit is far above what a real
cohort needs: a 100-team cohort with knobs on every team is about 35 KB, 8 levels deep and
4,000 values.
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
    # Duplicate keys, when the caller asked to go on past them (the later value is kept).
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: PathKey) -> int | None:
        """Line of the field at ``path`` or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


DUPLICATE_KEY = "duplicate key"
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_VALUES = 50_000


class _TooBig(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH as it goes."""

    _depth = 0

    def fetch_flow_collection_start(self, TokenClass):  # type: ignore[no-untyped-def]  # noqa: N803
        # The scanner looks ahead over every open '[' or '{' for a possible key, which is
        # quadratic in their number: stop before the composer would.
        if self.flow_level >= MAX_DEPTH:
            raise _TooBig(self.line + 1, f"nested more than {MAX_DEPTH} levels deep; a cohort file needs about 8")
        super().fetch_flow_collection_start(TokenClass)  # type: ignore[no-untyped-call]

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _TooBig(mark.line + 1, f"nested more than {MAX_DEPTH} levels deep; a cohort file needs about 8")
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a graph that expands past MAX_VALUES values or MAX_DEPTH levels, or that contains
    itself, without expanding it: each node's (values, height) is computed once."""
    done: dict[int, tuple[int, int]] = {}
    open_: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in open_:
            raise _TooBig(node.start_mark.line + 1, "an alias refers to a value that contains it")
        if key in done:
            size, height = done[key]
        else:
            open_.add(key)
            size, height = 1, 1
            children = ([v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode)
                        else node.value if isinstance(node, yaml.SequenceNode) else [])
            for child in children:
                s, h = visit(child, depth + 1)
                size, height = size + s, max(height, h + 1)
                if size > MAX_VALUES:
                    raise _TooBig(node.start_mark.line + 1, f"expands to more than {MAX_VALUES:,} values once its "
                                  "aliases (*name) are expanded; a 100-team cohort has about 4,000")
            open_.discard(key)
            done[key] = (size, height)
        if depth + height > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep once its aliases "
                          "(*name) are expanded; a cohort file needs about 8")
        return size, height

    visit(root, 0)


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], problems: list[Problem], file: str,
          loader: _UniqueKeyLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)   # merge keys (<<: *defaults) as PyYAML's own loader does
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, ".".join(map(str, child)), DUPLICATE_KEY))
            lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, child, lines, problems, file, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            items.append(_walk(item, child, lines, problems, file, loader))
        return items
    try:
        return loader.construct_object(node, deep=True)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        # PyYAML turns what looks like a timestamp into a datetime, which refuses 2026-13-01.
        problems.append(Problem(file, node.start_mark.line + 1, field_name(path), f"{node.value!r} is not a valid date and time ({exc})"))
        return node.value


def field_name(path: PathKey) -> str:
    """('teams', 1, 'knobs', 'job') -> 'teams[1].knobs.job'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(path: Path, display_name: str | None = None, *, keep_going: bool = False) -> Located:
    """The file's data and lines. With ``keep_going``, duplicate keys are returned in
    ``Located.problems`` instead of raised, so a caller can report them with everything else."""
    name = display_name or str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([Problem(name, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(name, None, "", "is a directory, not a cohort file")]) from None
    except PermissionError:
        raise SpecError([Problem(name, None, "", "cannot be read (permission denied)")]) from None
    except OSError as exc:
        raise SpecError([Problem(name, None, "", f"cannot be read ({exc.strerror or exc})")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError([Problem(name, None, "", f"is larger than {MAX_FILE_BYTES // 1024} KiB; a cohort file "
                                                 "of 100 teams is about 35 KB")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SpecError([Problem(name, line, "", "is not UTF-8 text")]) from None
    return load_yaml_text(text, name, keep_going=keep_going)


def load_yaml_text(text: str, name: str, *, keep_going: bool = False) -> Located:
    if len(text) > MAX_FILE_BYTES:
        raise SpecError([Problem(name, None, "", f"is larger than {MAX_FILE_BYTES // 1024} KiB")])
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        if node is not None:
            _check_expansion(node)
    except _TooBig as exc:
        raise SpecError([Problem(name, exc.line, "", exc.message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(name, line, "", f"invalid YAML: {problem}")]) from None
    if node is None:
        raise SpecError([Problem(name, None, "", "file is empty")])
    lines: dict[PathKey, int] = {(): node.start_mark.line + 1}
    problems: list[Problem] = []
    try:
        data = _walk(node, (), lines, problems, name, _UniqueKeyLoader(""))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError([Problem(name, mark.line + 1 if mark else None, "", f"invalid YAML: {exc.problem}")]) from None

    if problems and not (keep_going and all(p.message == DUPLICATE_KEY for p in problems)):
        raise SpecError(problems)
    return Located(data=data, file=name, lines=lines, problems=problems)
