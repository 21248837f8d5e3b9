"""How the CLI shows a use case's progress Board (labctl.ops.progress): a live rich table on a
terminal, one plain line per phase change otherwise (a log, a pipe, CI)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.table import Table

from labctl.ops.progress import RENDERER, Board


class LiveTable:
    def __init__(self, console: Console) -> None:
        self._console = console
        self._live: Live | None = None

    def open(self, board: Board) -> None:
        self._live = Live(_table(board), console=self._console, refresh_per_second=4, transient=False)
        self._live.__enter__()

    def changed(self, board: Board, team: str, phase_changed: bool) -> None:
        if self._live is not None:
            self._live.update(_table(board))

    def close(self, board: Board) -> None:
        if self._live is not None:
            self._live.update(_table(board))
            self._live.__exit__(None, None, None)
            self._live = None


class PlainLines:
    def open(self, board: Board) -> None:
        pass

    def changed(self, board: Board, team: str, phase_changed: bool) -> None:
        if phase_changed:
            line = board.lines[team]
            extra = f" ({line.note})" if line.note else ""
            print(f"[{board.title}] {team}: {line.phase}{extra}", file=sys.stderr, flush=True)

    def close(self, board: Board) -> None:
        pass


def _renderer(board: Board) -> LiveTable | PlainLines:
    console = Console(stderr=True)
    return LiveTable(console) if console.is_terminal else PlainLines()


def _table(board: Board) -> Table:
    t = Table(title=board.title, expand=False)
    t.add_column("team")
    t.add_column("phase")
    t.add_column("resources", justify="right")
    t.add_column("note", overflow="fold")
    for name, line in board.lines.items():
        res = f"{line.done}/{line.planned}" if line.planned else "-"
        t.add_row(name, line.phase, res, line.note[:80])
    return t


def install() -> None:
    """Show every Board of this command (called once by the CLI's entry point)."""
    RENDERER.set(_renderer)
