"""Load and validate a cohort file and its lab; every problem names file, line and field.

Validation is complete before anything else runs: callers get a ``ResolvedCohort`` or a
``SpecError`` carrying all problems found (not only the first).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labctl import naming, resources
from labctl.errors import Problem, SpecError
from labctl.spec import offerings
from labctl.spec.models import DNS1123_LABEL, Cohort, Lab, NodeGroup
from labctl.spec.yamlsrc import Located, PathKey, load_yaml

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
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_problems(exc: ValidationError, src: Located, base: PathKey = (), remap=None) -> list[Problem]:
    problems = []
    for e in exc.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif e["type"] == "string_pattern_mismatch" and DNS1123_LABEL in msg:
            msg = f"{e.get('input')!r} is not a DNS-1123 label (lowercase letters, digits and '-')"
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


def _lab_rules(lab: Lab, where, region: str | None) -> list[Problem]:
    """Rules that need more than one field (instance types, limits, quota)."""
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
            add(("node_groups", gname, "max_size"), f"max_size {group.max_size} exceeds the lab's limit of {limits.max_nodes_per_group} nodes per group")
    gpus = max_gpus(lab)
    if gpus > limits.max_gpus_per_team:
        add(("node_groups",), f"up to {gpus} GPUs at max size, the lab's quota allows {limits.max_gpus_per_team} per team")
    pool_name, pool = _pool(lab, lab.job.pool)
    if pool.max_size == 0:
        add(("job", "pool"), f"job runs on the {lab.job.pool} pool but node_groups.{pool_name}.max_size is 0")
    elif lab.job.gpus > max((_gpus(t) for t in pool.instance_types), default=0):
        add(("job", "gpus"), f"job asks for {lab.job.gpus} GPUs per pod; no instance type of node_groups.{pool_name} has that many")
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
        elif need > quota:
            # The HPA may reach max replicas while the job runs, so both must fit at once.
            add(("inference", "replicas", "max"),
                f"inference at {inf.replicas.max} replicas x {inf.gpus_per_replica} GPUs plus the job's {job_gpus} "
                f"need {need} GPUs; the team's GPU quota is {quota}")
    return problems


def _pool(lab: Lab, pool: str) -> tuple[str, NodeGroup]:
    """The node group behind a workload's ``pool`` knob (spot | on-demand)."""
    if pool == "spot":
        return "gpu_spot", lab.node_groups.gpu_spot
    return "gpu_on_demand", lab.node_groups.gpu_on_demand


def load_cohort(path: Path, labs_dir: Path | None = None) -> ResolvedCohort:
    src = load_yaml(path)
    if not isinstance(src.data, dict):
        raise SpecError([Problem(src.file, 1, "", "a cohort file must be a mapping")])
    try:
        cohort = Cohort.model_validate(src.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, src)) from None

    problems: list[Problem] = []

    def at(path: PathKey, msg: str) -> None:
        problems.append(Problem(src.file, src.line_of(path), _field(path), msg))

    if not offerings.known_region(cohort.region):
        at(("region",), f"unknown AWS region {cohort.region!r}")

    seen: dict[str, int] = {}
    for i, team in enumerate(cohort.teams):
        if team.name in seen:
            at(("teams", i, "name"), f"duplicate team {team.name!r} (first at teams[{seen[team.name]}])")
        seen.setdefault(team.name, i)
        for msg in naming.too_long(cohort.cohort, team.name):
            at(("teams", i, "name"), f"team {team.name!r}: {msg}")
        for key in team.knobs:
            if key not in KNOB_SECTIONS:
                at(("teams", i, "knobs", key), f"unknown knob section (teams may change: {', '.join(KNOB_SECTIONS)})")

    try:
        lab, lab_src, lab_dir = load_lab(cohort.lab, labs_dir)
    except SpecError as exc:
        lab_file = (labs_dir or resources.labs_dir()) / cohort.lab / "lab.yaml"
        if not lab_file.exists():
            known = sorted(p.name for p in (labs_dir or resources.labs_dir()).iterdir() if (p / "lab.yaml").exists())
            at(("lab",), f"unknown lab {cohort.lab!r} (known: {', '.join(known)})")
            raise SpecError(problems) from None
        raise SpecError(problems + exc.problems) from None

    teams: list[TeamSpec] = []
    if problems:
        raise SpecError(problems)
    for i, team in enumerate(cohort.teams):
        base: PathKey = ("teams", i, "knobs")

        def where(path: PathKey, _base: PathKey = base, _team: dict = team.knobs,
                  _name: str = team.name) -> tuple[str, int | None, str]:
            # A problem in a value the team overrode points at the cohort file; one inherited
            # from the lab points at lab.yaml and says which team's merged settings broke it.
            if path and _has_path(_team, path):
                return src.file, src.line_of((*_base, *path)), _field((*_base, *path))
            return lab_src.file, lab_src.line_of(path), f"{_field(path)} (team {_name})"

        merged_data = _deep_merge(lab_src.data, team.knobs)
        try:
            team_lab = Lab.model_validate(merged_data)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, src, remap=where))
            continue
        problems.extend(_lab_rules(team_lab, where, cohort.region))
        teams.append(TeamSpec(
            name=team.name, members=tuple(team.members),
            budget_usd=team.budget_usd if team.budget_usd is not None else lab.budget_usd,
            lab=team_lab, knobs=team.knobs,
        ))
    if problems:
        raise SpecError(problems)
    return ResolvedCohort(cohort=cohort, lab=lab, lab_dir=lab_dir, source=path, teams=tuple(teams))
