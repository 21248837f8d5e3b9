"""Load and validate a cohort file and its lab; every problem names file, line and field.

Validation is complete before anything else runs: callers get a ``ResolvedCohort`` or a
``SpecError`` carrying all problems found (not only the first).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from labctl import naming, resources
from labctl.errors import Problem, SpecError
from labctl.spec import accounts, capacity, offerings
from labctl.spec.quantity import parse_quantity
from labctl.spec.messages import clean_loc, user_message
from labctl.spec.models import DNS1123_LABEL, MAX_TEAM_LEN, Cohort, Lab, NodeGroup, Window
from labctl.spec.yamlsrc import Located, PathKey, field_name, load_yaml

# What a team may override; everything else in the lab is the facilitator's.
KNOB_SECTIONS = ("node_groups", "autoscaler", "job", "inference")


@dataclass(frozen=True)
class TeamSpec:
    name: str
    members: tuple[str, ...]
    budget_usd: Decimal
    lab: Lab                     # the lab with this team's knobs applied
    knobs: dict[str, Any]

    @property
    def max_gpus(self) -> int:
        return max_gpus(self.lab)


@dataclass(frozen=True)
class ResolvedCohort:
    cohort: Cohort
    lab: Lab
    lab_dir: Path
    source: Path
    teams: tuple[TeamSpec, ...]

    @property
    def id(self) -> str:
        return self.cohort.cohort

    def team(self, name: str) -> TeamSpec:
        for t in self.teams:
            if t.name == name:
                return t
        raise KeyError(name)


def max_gpus(lab: Lab) -> int:
    total = 0
    for _, group in lab.node_groups.items():
        per_node = max((_gpus(t) for t in group.instance_types), default=0)
        total += per_node * group.max_size
    return total


def _gpus(instance_type: str) -> int:
    info = offerings.type_info(instance_type)
    return info.gpus if info else 0


def _field(path: PathKey) -> str:
    return field_name(path)


_MODELS: dict[str, type[BaseModel]] = {"Lab": Lab, "Cohort": Cohort}


def _pydantic_problems(exc: ValidationError, src: Located, base: PathKey = (), remap=None) -> list[Problem]:
    """pydantic's errors as problems in the user's words, at the file and line of the value."""
    problems = []
    root = _MODELS.get(exc.title)
    for e in exc.errors(include_url=False):
        loc = clean_loc(tuple(e["loc"]))
        msg = user_message(e, root)
        if remap is not None:
            file, line, field = remap(loc)
        else:
            file, line, field = src.file, src.line_of((*base, *loc)), _field((*base, *loc))
        problems.append(Problem(file, line, field, msg))
    return problems


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _has_path(data: Any, path: PathKey) -> bool:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    return True


def load_lab(name: str, labs_dir: Path | None = None) -> tuple[Lab, Located, Path]:
    lab_dir = (labs_dir or resources.labs_dir()) / name
    src = load_yaml(lab_dir / "lab.yaml")
    if not isinstance(src.data, dict):
        raise SpecError([Problem(src.file, 1, "", "a lab file must be a mapping")])
    try:
        lab = Lab.model_validate(src.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, src)) from None
    problems = _lab_rules(lab, lambda path: (src.file, src.line_of(path), _field(path)), region=None)
    if lab.name != name:
        problems.append(Problem(src.file, src.line_of(("name",)), "name", f"lab name {lab.name!r} differs from its folder {name!r}"))
    if problems:
        raise SpecError(problems)
    return lab, src, lab_dir


def _lab_rules(lab: Lab, where, region: str | None, fit: bool = True) -> list[Problem]:
    """Rules that need more than one field (instance types, limits, quota); with ``fit``, also
    that the job's and the inference service's pods fit every instance type of their pool."""
    problems: list[Problem] = []

    def add(path: PathKey, msg: str) -> None:
        file, line, field = where(path)
        problems.append(Problem(file, line, field, msg))

    offered = offerings.offered_types(region) if region else None
    limits = lab.limits
    for gname, group in lab.node_groups.items():
        allowed = limits.gpu_instance_types if gname.startswith("gpu") else limits.system_instance_types
        for i, itype in enumerate(group.instance_types):
            path = ("node_groups", gname, "instance_types", i)
            if offerings.type_info(itype) is None:
                add(path, f"unknown instance type {itype!r}")
                continue
            if offered is not None and itype not in offered:
                add(path, f"instance type {itype!r} is not offered in region {region}")
            if itype not in allowed:
                add(path, f"instance type {itype!r} is not allowed by this lab (allowed: {', '.join(allowed)})")
            if gname.startswith("gpu") and _gpus(itype) == 0:
                add(path, f"instance type {itype!r} has no GPU")
        if group.max_size > limits.max_nodes_per_group:
            add(("node_groups", gname, "max_size"),
                f"max_size {group.max_size} exceeds the lab's limit of {limits.max_nodes_per_group} nodes per group")
    gpus = max_gpus(lab)
    if gpus > limits.max_gpus_per_team:
        add(("node_groups",), f"up to {gpus} GPUs at max size, the lab's quota allows {limits.max_gpus_per_team} per team")
    pool_name, pool = _pool(lab, lab.job.pool)
    if pool.max_size == 0:
        add(("job", "pool"), f"job runs on the {lab.job.pool} pool but node_groups.{pool_name}.max_size is 0")
    elif lab.job.gpus > max((_gpus(t) for t in pool.instance_types), default=0):
        add(("job", "gpus"), f"job asks for {lab.job.gpus} GPUs per pod; no instance type of node_groups.{pool_name} has that many")
    elif fit:
        j = lab.job
        found = _fit(lab, f"job {j.name!r}", j.pool, j.cpu, j.memory, j.gpus)
        if found:
            add(("job", found[0]), found[1])
    inf = lab.inference
    if inf.enabled:
        pool_name, pool = _pool(lab, inf.pool)
        job_gpus = lab.job.gpus * lab.job.parallelism
        need = inf.replicas.max * inf.gpus_per_replica + job_gpus
        # The namespace's ResourceQuota (labctl.render.manifests) holds this many GPUs.
        quota = min(limits.max_gpus_per_team, gpus)
        # One bad value gives one line: the quota is checked only once the replicas fit their pool.
        if pool.max_size == 0:
            add(("inference", "pool"), f"inference runs on the {inf.pool} pool but node_groups.{pool_name}.max_size is 0")
        elif inf.gpus_per_replica > max((_gpus(t) for t in pool.instance_types), default=0):
            add(("inference", "gpus_per_replica"), f"inference asks for {inf.gpus_per_replica} GPUs per replica; "
                                                   f"no instance type of node_groups.{pool_name} has that many")
        elif fit and (found := _fit(lab, f"inference {inf.name!r}", inf.pool, inf.cpu, inf.memory, inf.gpus_per_replica)):
            add(("inference", found[0]), found[1])
        elif need > quota:
            # The HPA may reach max replicas while the job runs, so both must fit at once.
            add(("inference", "replicas", "max"),
                f"inference at {inf.replicas.max} replicas x {inf.gpus_per_replica} GPUs plus the job's {job_gpus} "
                f"need {need} GPUs; the team's GPU quota is {quota}")
    return problems


def _fit(lab: Lab, what: str, pool_key: str, cpu: str, memory: str, gpus: int) -> tuple[str, str] | None:
    """(field, message) when a pod of ``what`` does not fit every instance type of its pool.

    Every type must hold the pod: the cluster-autoscaler sizes a group from its first type, and
    the group may launch any of them (spot capacity decides), so a type the pod does not fit is
    a node billed for nothing while the pod stays pending.
    """
    pool_name, pool = _pool(lab, pool_key)
    need_cpu, need_mem = parse_quantity(cpu) * 1000, parse_quantity(memory)
    max_pods = lab.simulation.max_pods

    def room(itype: str) -> capacity.Allocatable | None:
        info = offerings.type_info(itype)
        return None if info is None else capacity.for_pods(info.vcpu, info.memory_mib, max_pods, gpu_node=True)

    short, rooms = [], []
    for itype in pool.instance_types:
        r = room(itype)
        if r is None:
            continue            # an unknown type is its own problem
        rooms.append(r)
        lacks = [x for x, bad in (("CPU", need_cpu > r.cpu_m), ("memory", need_mem > r.memory),
                                  ("GPUs", gpus > _gpus(itype))) if bad]
        if lacks:
            short.append((itype, r, lacks))
    if not short:
        return None
    field = "cpu" if any("CPU" in lacks for _, _, lacks in short) else "memory"
    offers = "; ".join(f"{t} has {capacity.show_cpu(r.cpu_m)} CPU, {capacity.show_memory(r.memory)} and "
                       f"{_gpus(t)} GPU(s) for it (too little {' and '.join(lacks)})" for t, r, lacks in short)
    fits = [t for t in lab.limits.gpu_instance_types
            if (r := room(t)) is not None and need_cpu <= r.cpu_m and need_mem <= r.memory and gpus <= _gpus(t)]
    hint = []
    if rooms:
        hint.append(f"request at most {capacity.show_cpu(min(r.cpu_m for r in rooms))} CPU and "
                    f"{capacity.show_memory(min(r.memory for r in rooms))} memory")
    if fits:
        hint.append(f"use {', '.join(fits)} in node_groups.{pool_name}")
    never = len(short) == len(rooms)
    return field, (f"{what} requests {cpu} CPU, {memory} memory and {gpus} GPU(s) per pod, more than the "
                   f"{pool_key} pool (node_groups.{pool_name}) has room for after the kubelet's reservations: "
                   f"{offers}; {'the pod would never be scheduled' if never else 'the pod cannot run on those nodes'}. "
                   f"Fits: {' or '.join(hint) if hint else 'no instance type this lab allows'}")


def _pool(lab: Lab, pool: str) -> tuple[str, NodeGroup]:
    """The node group behind a workload's ``pool`` knob (spot | on-demand)."""
    if pool == "spot":
        return "gpu_spot", lab.node_groups.gpu_spot
    return "gpu_on_demand", lab.node_groups.gpu_on_demand


_INHERITED = "\0lab"      # marks a problem in a value a team took from the lab, regrouped below


def apply_knobs(cohort: ResolvedCohort, team: str, src: Located) -> ResolvedCohort:
    """``cohort`` with ``team``'s knobs (``src``: a knobs file as parsed) merged over its cohort
    knobs and its lab, validated as a cohort file's knobs are. Raises SpecError with every problem
    at its file, line and field: the knobs file's, or the cohort file's or the lab's where the
    value came from there. KeyError if the cohort has no such team."""
    idx = next((i for i, t in enumerate(cohort.cohort.teams) if t.name == team), None)
    if idx is None:
        raise KeyError(team)
    if not isinstance(src.data, dict):
        raise SpecError([Problem(src.file, 1, "", f"a knobs file must be a mapping of {', '.join(KNOB_SECTIONS)}")])
    problems = [Problem(src.file, src.line_of((key,)), key,
                        f"not a knob a team may change (a knobs file holds only: {', '.join(KNOB_SECTIONS)})")
                for key in src.data if key not in KNOB_SECTIONS]
    if problems:
        raise SpecError(problems)

    _, lab_src, _ = load_lab(cohort.lab.name, cohort.lab_dir.parent)
    cohort_src = load_yaml(cohort.source)
    cohort_knobs = dict(cohort.cohort.teams[idx].knobs)

    def where(path: PathKey) -> tuple[str, int | None, str]:
        if path and _has_path(src.data, path):
            return src.file, src.line_of(path), _field(path)
        if path and _has_path(cohort_knobs, path):
            full = ("teams", idx, "knobs", *path)
            return cohort_src.file, cohort_src.line_of(full), _field(full)
        return lab_src.file, lab_src.line_of(path), f"{_field(path)} (team {team})"

    knobs = _deep_merge(cohort_knobs, src.data)
    try:
        team_lab = Lab.model_validate(_deep_merge(lab_src.data, knobs))
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, src, remap=where)) from None
    problems = _lab_rules(team_lab, where, cohort.cohort.region)
    if problems:
        raise SpecError(problems)
    new = replace(cohort.team(team), lab=team_lab, knobs=knobs)
    return replace(cohort, teams=tuple(new if t.name == team else t for t in cohort.teams))


def load_cohort(path: Path, labs_dir: Path | None = None, *, strict: bool = False,
                now: datetime | None = None) -> ResolvedCohort:
    """The cohort file, checked completely: every problem it has, at its file, line and field.

    ``strict`` adds what matters before provisioning but not to a cohort already deployed (so
    ``status``, ``down`` and ``simulate`` still read it): pods that fit their pool, and a window
    no longer than the lab allows. With ``now``, a window that is over is refused too.
    """
    src = load_yaml(path, keep_going=True)
    data = src.data
    if not isinstance(data, dict):
        raise SpecError([Problem(src.file, src.line_of(()), "", "a cohort file must be a mapping of keys "
                                 "(cohort:, window:, lab:, teams:)")])
    problems: list[Problem] = list(src.problems)     # duplicate keys hide nothing either

    def at(path: PathKey, msg: str) -> None:
        problems.append(Problem(src.file, src.line_of(path), _field(path), msg))

    cohort: Cohort | None = None
    try:
        cohort = Cohort.model_validate(data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, src))
    # What follows reads the raw data, so a problem above hides none of these.
    region = data.get("region", "us-east-1")
    region_ok: str | None = None
    if isinstance(region, str) and _REGION.fullmatch(region):
        if offerings.known_region(region):
            region_ok = region
        else:
            at(("region",), f"unknown AWS region {region!r}")

    cohort_id = data.get("cohort")
    raw_teams = data.get("teams") if isinstance(data.get("teams"), list) else []
    seen: dict[str, int] = {}
    for i, team in enumerate(raw_teams):
        if not isinstance(team, dict):
            continue
        name = team.get("name")
        if isinstance(name, str):
            if name in seen:
                at(("teams", i, "name"), f"duplicate team {name!r} (first at teams[{seen[name]}])")
            seen.setdefault(name, i)
            if (isinstance(cohort_id, str) and _is_label(cohort_id) and _is_label(name)
                    and len(name) <= MAX_TEAM_LEN):
                for msg in naming.too_long(cohort_id, name):
                    at(("teams", i, "name"), f"team {name!r}: {msg}")
        knobs = team.get("knobs")
        if isinstance(knobs, dict):
            for key in knobs:
                if key not in KNOB_SECTIONS:
                    at(("teams", i, "knobs", key), f"unknown knob section (teams may change: {', '.join(KNOB_SECTIONS)})")

    accounts.check(data, at)

    lab = lab_src = lab_dir = None
    lab_name = data.get("lab")
    if isinstance(lab_name, str) and _is_label(lab_name):
        root = labs_dir or resources.labs_dir()
        if not (root / lab_name / "lab.yaml").is_file():
            known = sorted(p.name for p in root.iterdir() if (p / "lab.yaml").exists())
            at(("lab",), f"unknown lab {lab_name!r} (known: {', '.join(known)})")
        else:
            try:
                lab, lab_src, lab_dir = load_lab(lab_name, labs_dir)
            except SpecError as exc:
                problems.extend(exc.problems)     # the lab itself is broken: its own file and line

    window = cohort.window if cohort is not None else _quietly(Window, data.get("window"))
    if window is not None:
        problems.extend(_window_problems(window, src, lab, strict, now))

    teams: list[TeamSpec] = []
    inherited: list[tuple[Problem, str]] = []
    for i, team in enumerate(raw_teams if lab is not None else []):
        if not isinstance(team, dict) or not isinstance(team.get("knobs", {}), dict):
            continue
        knobs = {k: v for k, v in team.get("knobs", {}).items() if k in KNOB_SECTIONS}
        name = team["name"] if isinstance(team.get("name"), str) else f"teams[{i}]"
        base: PathKey = ("teams", i, "knobs")

        def where(path: PathKey, _base: PathKey = base, _team: dict = knobs) -> tuple[str, int | None, str]:
            # A problem in a value the team set (or in a section it changed) points at that
            # value in the cohort file; one the team took from the lab is regrouped below.
            for n in range(len(path), 0, -1):
                if _has_path(_team, path[:n]):
                    return src.file, src.line_of((*_base, *path[:n])), _field((*_base, *path))
            return _INHERITED, None, _field(path)

        before = len(problems)
        try:
            team_lab = Lab.model_validate(_deep_merge(lab_src.data, knobs))  # type: ignore[union-attr]
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, src, remap=where))
            # The sections that are well formed still get the rules between fields: with the
            # broken ones at the lab's values, and no rule reported about a broken section.
            broken = {clean_loc(tuple(e["loc"]))[:1] for e in exc.errors()}
            rest = {k: v for k, v in knobs.items() if (k,) not in broken}
            # Every rule reads the node groups: with theirs broken, the rest would be judged
            # against groups the team did not ask for.
            retry = (_quietly(Lab, _deep_merge(lab_src.data, rest))  # type: ignore[union-attr]
                     if rest != knobs and ("node_groups",) not in broken else None)
            if retry is not None:
                problems.extend(p for p in _lab_rules(retry, where, region_ok, fit=strict)
                                if not any(p.field.startswith((f"teams[{i}].knobs.{b[0]}", f"{b[0]}"))
                                           for b in broken if b))
        else:
            problems.extend(_lab_rules(team_lab, where, region_ok, fit=strict))
            if cohort is not None:
                spec = cohort.teams[i]
                teams.append(TeamSpec(
                    name=spec.name, members=tuple(spec.members),
                    budget_usd=spec.budget_usd if spec.budget_usd is not None else lab.budget_usd,
                    lab=team_lab, knobs=spec.knobs,
                ))
        for p in problems[before:]:
            if p.file == _INHERITED:
                inherited.append((p, name))
        problems[before:] = [p for p in problems[before:] if p.file != _INHERITED]
    problems.extend(_regroup(inherited, src, lab_name))
    if problems or cohort is None:
        raise SpecError(sorted(problems, key=lambda p: (p.file != src.file, p.line or 0)))
    return ResolvedCohort(cohort=cohort, lab=lab, lab_dir=lab_dir, source=path, teams=tuple(teams))  # type: ignore[arg-type]


_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
_LABEL = re.compile(DNS1123_LABEL)


def _is_label(value: str) -> bool:
    return bool(_LABEL.match(value)) and len(value) <= 63


def _quietly(model: type[BaseModel], value: Any) -> Any:
    """``model`` from ``value`` or None; its errors were reported with the whole file's."""
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _window_problems(window: Window, src: Located, lab: Lab | None, strict: bool,
                     now: datetime | None) -> list[Problem]:
    out = []
    key: PathKey = ("window", "duration" if window.duration is not None else "end")
    if strict and lab is not None and window.hours > lab.limits.max_window_hours:
        out.append(Problem(src.file, src.line_of(key), _field(key),
                           f"the session lasts {_hours(window.hours)}; lab {lab.name} allows at most "
                           f"{lab.limits.max_window_hours} h (its limits.max_window_hours)"))
    if now is not None and window.ends_at <= now:
        out.append(Problem(src.file, src.line_of(("window", "start")), "window.start",
                           f"the session window ended {_ago(now - window.ends_at)} ago "
                           f"({window.ends_at.isoformat().replace('+00:00', 'Z')}); give a window still to come, "
                           "or pass --allow-past if you mean a past one"))
    return out


def _hours(hours: Decimal) -> str:
    return f"{hours.quantize(Decimal('0.1')).normalize():f} h"


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def _regroup(inherited: list[tuple[Problem, str]], src: Located, lab_name: Any) -> list[Problem]:
    """A problem in a lab value several teams inherit is one line at the cohort's ``lab:`` key
    naming those teams (a region that lacks the lab's instance types fails every team alike)."""
    teams_of: dict[tuple[str, str], list[str]] = {}
    for p, team in inherited:
        teams_of.setdefault((p.field, p.message), []).append(team)
    out = []
    for (field, message), names in teams_of.items():
        who = f"team {names[0]}" if len(names) == 1 else f"teams {', '.join(names)}"
        out.append(Problem(src.file, src.line_of(("lab",)), "lab",
                           f"{field} of lab {lab_name} ({who}, from the lab's default): {message}"))
    return out
