"""The lesson the debrief serves: its phases on the class's time axis, the lab's takeaways, and the
knobs each team had in force over the class (from the cohort file, then every `team apply`).

Phases: the 5E structure of the lesson plan (shared reference lesson-plan.md, "Lesson Structure"):
Engage 30 min, Explore 60, Explain 60, Elaborate 60, Evaluate 30; four hours. A window of another
length keeps the order and the proportions (a two-hour class has a 15-minute Engage).

Takeaways: the "What to look for in the debrief" section of the lab's README (labs/<lab>/README.md),
one item per list entry or paragraph, Markdown emphasis removed.

Knob history: `team apply` writes the knobs it applied into the cohort's audit log, with the time
they took effect (labctl.ops.team); :func:`knob_sets` reads them back. :func:`with_history` turns
them into segments of the class, each with the choices (knobs that differ from the lab) in force.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from labctl import resources
from labctl.errors import LabctlError
from labctl.report.choices import Choice, KnobSegment, choices
from labctl.spec.models import Lab
from labctl.spec.yamlsrc import load_yaml


PHASES: tuple[tuple[str, int, str], ...] = (
    ("Engage", 30, "a real-world scenario; what do teams expect a GPU cluster to cost?"),
    ("Explore", 60, "instance types, pricing models and the cost tools, hands on"),
    ("Explain", 60, "right-sizing, spot, auto-scaling, checkpointing; FinOps principles"),
    ("Elaborate", 60, "teams apply the strategies to their own cluster under a budget"),
    ("Evaluate", 30, "teams present their plans; this debrief"),
)
PHASES_SOURCE = "lesson plan, Lesson Structure: Engage 30, Explore 60, Explain 60, Elaborate 60, Evaluate 30 min"
TAKEAWAYS_HEADING = "what to look for in the debrief"
KNOB_SECTIONS = ("node_groups", "autoscaler", "job", "inference")


def phases(start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """The five phases laid over the window, in proportion to the plan's minutes."""
    if start is None or end is None or end <= start:
        return []
    total = sum(m for _, m, _ in PHASES)
    span = end - start
    out, at = [], 0
    for name, minutes, what in PHASES:
        a, b = start + span * at / total, start + span * (at + minutes) / total
        out.append({"phase": name, "start": _iso(a), "end": _iso(b), "planned_minutes": minutes, "what": what})
        at += minutes
    return out


def takeaways(readme: Path) -> list[str]:
    """The README's "What to look for in the debrief" items; [] when the section is missing."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return []
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().lower() == TAKEAWAYS_HEADING
            continue
        if inside:
            lines.append(line)
    items: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            items.append("")
        elif re.match(r"^([-*]|\d+\.)\s+", stripped):
            items.append(re.sub(r"^([-*]|\d+\.)\s+", "", stripped))
        elif items and items[-1]:
            items[-1] += " " + stripped
        else:
            items.append(stripped)
    return [_plain(i) for i in items if i.strip()]


def _plain(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"\1", text).replace("`", "")


def knob_sets(audit_log: Path) -> dict[str, list[tuple[datetime, dict[str, Any]]]]:
    """team -> [(when, knobs)] of every successful `team apply` that recorded its knobs, in order."""
    out: dict[str, list[tuple[datetime, dict[str, Any]]]] = {}
    try:
        lines = audit_log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (not isinstance(entry, dict) or entry.get("command") != "team apply" or entry.get("result") != "ok"
                or not isinstance(entry.get("knobs"), dict) or not entry.get("team")):
            continue
        try:
            at = datetime.fromisoformat(str(entry.get("applied_at") or entry["at"]))
        except (KeyError, ValueError):
            continue
        out.setdefault(str(entry["team"]), []).append((at, entry["knobs"]))
    for sets in out.values():
        sets.sort(key=lambda x: x[0])
    return out


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def with_history(plans: Sequence[Any], applied: Mapping[str, Sequence[tuple[datetime, Mapping[str, Any]]]],
                 lab_data: Mapping[str, Any], window_start: datetime | None) -> list[Any]:
    """Each plan with its segments: the cohort file's knobs from the start, then each applied set
    from its time (a set applied before the window opens is what the class starts with). A team's
    ``choices`` become every knob it had changed at any time (the last value of each)."""
    base = Lab.model_validate(dict(lab_data)).model_dump(mode="json")
    out = []
    for plan in plans:
        segs = [KnobSegment(window_start, "cohort file", plan.choices)]
        for at, knobs in applied.get(plan.name, ()):
            try:
                mine = Lab.model_validate(_merge(lab_data, dict(knobs))).model_dump(mode="json")
            except ValueError:
                continue     # `team apply` validated it; a lab changed since cannot take it: left out
            diff = tuple(choices({k: base[k] for k in KNOB_SECTIONS}, {k: mine[k] for k in KNOB_SECTIONS}))
            seg = KnobSegment(at, "team apply", diff)
            if window_start is not None and at <= window_start:
                segs = [replace(seg, start=window_start, source=f"team apply before the class ({_iso(at)})")]
            else:
                segs.append(seg)
        latest: dict[str, Choice] = {}
        for s in segs:
            for c in s.choices:
                latest[c.path] = c
        out.append(replace(plan, choices=tuple(latest[k] for k in sorted(latest)), segments=tuple(segs)))
    return out


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")



def with_lesson(inp: Any, audit_log: Path, labs: Path | None = None) -> Any:
    """``inp`` (DebriefInputs) with the lab's takeaways and each team's knob history from the
    cohort's audit log (the knob sets `team apply` recorded)."""
    labs = labs or resources.labs_dir()
    teams = inp.teams
    applied = knob_sets(audit_log)
    if applied:
        try:
            lab_data = load_yaml(labs / inp.lab / "lab.yaml").data
        except (LabctlError, OSError):
            lab_data = None
        if isinstance(lab_data, Mapping):
            teams = tuple(with_history(inp.teams, applied, lab_data, inp.window_start))
    return replace(inp, teams=teams, takeaways=tuple(takeaways(labs / inp.lab / "README.md")))
