"""What a team chose: the knobs it changed against its lab (dotted paths), the lever each belongs
to, and the segments of the class each set of knobs was in force. Pure; the debrief model and the
lesson's history both build on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Choice:
    """One knob a team changed: the dotted path, the lab's value and the team's."""

    path: str
    baseline: Any
    value: Any

    @property
    def lever(self) -> str:
        return lever_of(self.path)


@dataclass(frozen=True)
class KnobSegment:
    """The knobs a team had in force from ``start`` (None: from the beginning) until the next
    segment: the choices that differ from the lab, and where they came from."""

    start: datetime | None
    source: str                     # "cohort file" | "team apply" ...
    choices: tuple[Choice, ...] = ()


def lever_of(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "job":
        if parts[-1] == "checkpoint_every_steps":
            return "checkpointing"
        if parts[-1] == "pool":
            return "spot instances"
        return "job resources"
    if parts[0] == "autoscaler":
        return "auto-scaling"
    if parts[0] == "node_groups":
        if parts[1] == "gpu_spot":
            return "spot instances"
        if parts[-1] in ("instance_types", "disk_gib"):
            return "right-sizing"
        return "auto-scaling"
    return "other"


def choices(baseline: Mapping[str, Any], team: Mapping[str, Any], prefix: str = "") -> list[Choice]:
    """Every leaf where a team's merged lab settings differ from the lab's (dotted paths)."""
    out: list[Choice] = []
    for key in sorted(set(baseline) | set(team)):
        path = f"{prefix}{key}"
        b, t = baseline.get(key), team.get(key)
        if isinstance(b, Mapping) and isinstance(t, Mapping):
            out += choices(b, t, path + ".")
        elif b != t:
            out.append(Choice(path, b, t))
    return out
