"""Live per-team progress (rich) for long terraform runs; plain lines when not a terminal."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table


@dataclass
class TeamLine:
    phase: str = "waiting"
    done: int = 0
    planned: int = 0
    note: str = ""


@dataclass
class Board:
    title: str
    teams: list[str]
    quiet: bool = False
    lines: dict[str, TeamLine] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = {t: TeamLine() for t in self.teams}
        self._lock = threading.Lock()
        self._console = Console(stderr=True)
        self._live: Live | None = None
        self._tty = self._console.is_terminal and not self.quiet

    def __enter__(self) -> Board:
        if self._tty:
            self._live = Live(self._table(), console=self._console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)

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
            if self._live is not None:
                self._live.update(self._table())
            elif changed_phase and not self.quiet:
                extra = f" ({line.note})" if line.note else ""
                print(f"[{self.title}] {team}: {line.phase}{extra}", file=sys.stderr, flush=True)

    def _table(self) -> Table:
        t = Table(title=self.title, expand=False)
        t.add_column("team")
        t.add_column("phase")
        t.add_column("resources", justify="right")
        t.add_column("note", overflow="fold")
        for name, line in self.lines.items():
            res = f"{line.done}/{line.planned}" if line.planned else "-"
            t.add_row(name, line.phase, res, line.note[:80])
        return t
