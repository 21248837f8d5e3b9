"""Progress of long terraform runs, as state and events: what phase each team is in, how many of
its planned resources are done. The use cases update a Board; they never draw. Drawing is the
CLI's (labctl/cli/progress.py registers a renderer: a live table on a terminal, plain lines
otherwise); with no renderer registered (a library caller, a test) nothing is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class TeamLine:
    phase: str = "waiting"
    done: int = 0
    planned: int = 0
    note: str = ""


class Renderer(Protocol):
    """What shows a Board: told when it opens, after every change, and when it closes."""

    def open(self, board: Board) -> None: ...

    def changed(self, board: Board, team: str, phase_changed: bool) -> None: ...

    def close(self, board: Board) -> None: ...


# Set by the CLI for the command it runs: makes a Renderer for each Board.
RENDERER: ContextVar[Callable[[Board], Renderer] | None] = ContextVar("RENDERER", default=None)


@dataclass
class Board:
    title: str
    teams: list[str]
    quiet: bool = False
    lines: dict[str, TeamLine] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = {t: TeamLine() for t in self.teams}
        self._lock = threading.Lock()
        factory = RENDERER.get()
        self._renderer: Renderer | None = None if self.quiet or factory is None else factory(self)

    def __enter__(self) -> Board:
        if self._renderer is not None:
            self._renderer.open(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._renderer is not None:
            self._renderer.close(self)

    def update(self, team: str, *, phase: str | None = None, done: int | None = None,
               planned: int | None = None, note: str | None = None) -> None:
        with self._lock:
            line = self.lines[team]
            changed_phase = phase is not None and phase != line.phase
            if phase is not None:
                line.phase = phase
            if done is not None:
                line.done = done
            if planned is not None:
                line.planned = planned
            if note is not None:
                line.note = note
            if self._renderer is not None:
                self._renderer.changed(self, team, changed_phase)
