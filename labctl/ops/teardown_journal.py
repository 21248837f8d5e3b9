"""What a `down` has removed so far, written down as it goes, for the next `down`'s proof.

A teardown proof lists everything removed by any means. A `down` stopped partway (Ctrl-C,
SIGTERM, a kill, a crash) writes no proof, and the next `down` only sees what is left: without this
journal, what the first one had destroyed, swept or drained would be in no proof at all.

``<cohort>/teardown-journal.jsonl``: one JSON line per thing removed, appended the
moment labctl learns of it: ``{"run": <when that down started>, "team", "how", "item"}``, ``how``
being one of :data:`HOW`. The `down` that writes the proofs folds in what earlier runs recorded,
then removes the file. A last line cut off by a kill is skipped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FILE = "teardown-journal.jsonl"
HOW = ("drained", "swept_before", "destroyed", "swept")


@dataclass(frozen=True)
class Entry:
    run: str
    team: str
    how: str
    item: str


class Journal:
    def __init__(self, cohort_root: Path, run: str) -> None:
        self.path = cohort_root / FILE
        self.run = run
        self._lock = threading.Lock()

    def earlier(self) -> list[Entry]:
        """What earlier, unfinished runs recorded (read before this run records anything)."""
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                doc = json.loads(line)
                entry = Entry(str(doc["run"]), str(doc["team"]), str(doc["how"]), str(doc["item"]))
            except (ValueError, KeyError, TypeError):
                continue            # cut off by a kill mid-write, or not ours
            if entry.how in HOW and entry.run != self.run:
                out.append(entry)
        return out

    def record(self, team: str, how: str, items: Iterable[str]) -> None:
        lines = "".join(json.dumps({"run": self.run, "team": team, "how": how, "item": i}) + "\n" for i in items)
        if not lines:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(lines)     # closed at once: a killed process loses nothing written

    def clear(self) -> None:
        """Every proof is written: what the journal held is in them now."""
        self.path.unlink(missing_ok=True)
