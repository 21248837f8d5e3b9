"""Typed reading of terraform's -json machine-readable UI stream (one JSON object per line)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    type: str
    level: str
    message: str
    address: str | None = None
    action: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def plans_a_change(self) -> bool:
        """A planned_change for a resource that will change (not a no-op, not a data source read)."""
        return self.type == "planned_change" and self.action not in ("noop", "read")


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str
    address: str | None

    def one_line(self) -> str:
        text = self.summary
        if self.detail:
            text += f": {self.detail.splitlines()[0]}"
        if self.address:
            text += f" ({self.address})"
        return text


def parse_line(line: str) -> Event | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    hook = obj.get("hook") or {}
    change = obj.get("change") or {}
    resource = (hook.get("resource") or change.get("resource") or {})
    return Event(
        type=obj.get("type", ""),
        level=obj.get("@level", ""),
        message=obj.get("@message", ""),
        address=resource.get("addr"),
        action=hook.get("action") or change.get("action"),
        raw=obj,
    )


@dataclass
class Progress:
    """Counts for a live display: resources done out of planned, from the event stream."""

    planned: int = 0
    done: int = 0
    errored: int = 0
    summary: dict[str, int] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    current: str | None = None

    def feed(self, ev: Event) -> bool:
        """Take one event in; True if it moved the planned or done count (what a display shows)."""
        before = (self.planned, self.done)
        self._feed(ev)
        return (self.planned, self.done) != before

    def _feed(self, ev: Event) -> None:
        if ev.plans_a_change:
            self.planned += 1
        elif ev.type == "apply_start":
            self.current = ev.address
        elif ev.type == "apply_complete" and ev.action != "read":
            self.done += 1
        elif ev.type == "apply_errored":
            self.errored += 1
        elif ev.type == "change_summary":
            ch = ev.raw.get("changes") or {}
            self.summary = {k: int(ch.get(k, 0)) for k in ("add", "change", "remove", "import")}
            self.summary["operation"] = ch.get("operation")  # type: ignore[assignment]
        elif ev.type == "diagnostic":
            d = ev.raw.get("diagnostic") or {}
            self.diagnostics.append(Diagnostic(
                severity=d.get("severity", ev.level),
                summary=d.get("summary", ev.message),
                detail=d.get("detail", ""),
                address=d.get("address"),
            ))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
