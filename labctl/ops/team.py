"""One team's own workflow during class: its knobs file, `team plan` and `team apply`.

Owns the team's knobs file, ``<state>/cohorts/<cohort>/teams/<team>/knobs.yaml``: YAML with only
the sections a team may change (``labctl.spec.load.KNOB_SECTIONS``). It is merged on top of the
cohort file's knobs for that team (lab <- cohort team knobs <- knobs file) and validated by the
same models and rules as the cohort, so a knob outside the lab's limits is refused with the
knobs file, line and field. A problem in a value the file does not set points at the cohort file
or lab.yaml, as `labctl validate` would.

Speed (goal: a small change planned and applied in <= 15 s on the embedded default):
- one team only, the cohort's shared TF_DATA_DIR (no init unless the module tree changed);
- ``-refresh=false`` where labctl is the only writer (embedded and LocalStack targets); real
  accounts refresh, because the autoscaler, the backstop and the team's own role change things;
- `team plan` keeps its saved plan with a fingerprint of what it planned from (tfvars, module
  tree, state file); `team apply` applies that saved plan when nothing changed since, instead of
  planning again. Terraform itself also refuses a saved plan whose state moved on.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from labctl.cost.catalog import load_catalog
from labctl.cost.estimate import Estimate, diff_estimates, render_diff
from labctl.cost.money import fmt_usd
from labctl.cost.plan import state_values
from labctl.errors import NotFoundError, SpecError, TerraformError
from labctl.ops.common import (RunContext, check_emulator_matches, prepare, refuse_if_torn_down, tree_fingerprint,
                               write_team_manifests)
from labctl.ops.target import connect
from labctl.ops import reconcile, remote_state, resume, state_lock
from labctl.ops.interrupt import interruptible
from labctl.text import change_line
from labctl.render.k8s_validate import validate_team
from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import tfvars, write_root
from labctl.spec import load as spec_load
from labctl.spec.load import ResolvedCohort, TeamSpec, load_cohort
from labctl.spec.yamlsrc import load_yaml_text
from labctl.state import CohortState, StateDir, now, write_atomic
from labctl.tf import argv as A
from labctl.telemetry.provisioned import record_team
from labctl.tf import state as tfstate
from labctl.ops.estimates import estimate_team, manifests_expected_use, short_address, team_expected_use

KNOBS_FILE = "knobs.yaml"
SAVED_PLAN = "team.tfplan"
SAVED_PLAN_META = "team.tfplan.json"


# ----------------------------------------------------------------------------- locating


def cohort_file(ref: str | Path, state_dir: Path) -> Path:
    """COHORT is a cohort file, or the id of a cohort whose file `up` copied into the state dir."""
    p = Path(ref)
    if p.is_file():
        return p
    copy_ = StateDir(state_dir).cohort(str(ref)).spec_copy
    if "/" not in str(ref) and copy_.is_file():
        return copy_
    if p.exists():
        return p                        # a directory: the loader refuses it like any bad cohort file
    raise NotFoundError(f"{ref}: neither a cohort file nor a provisioned cohort in {state_dir} "
                        "(give the cohort file, or run `labctl up` first)")


def knobs_path(cs: CohortState, team: str) -> Path:
    return cs.team_dir(team) / KNOBS_FILE


def _team_index(cohort: ResolvedCohort, team: str) -> int:
    for i, t in enumerate(cohort.cohort.teams):
        if t.name == team:
            return i
    names = ", ".join(t.name for t in cohort.cohort.teams)
    raise NotFoundError(f"cohort {cohort.id} has no team {team!r} (teams: {names})")


# ----------------------------------------------------------------------------- knobs file


def apply_knobs_file(cohort: ResolvedCohort, team: str, knobs_file: Path) -> ResolvedCohort:
    """``cohort`` with ``team``'s knobs file merged over its cohort knobs, validated.

    A missing (or comment-only) knobs file changes nothing. Raises SpecError naming the knobs
    file, line and field for every value outside the lab's allowed values.
    """
    _team_index(cohort, team)                 # an unknown team is refused, knobs file or not
    if not knobs_file.exists():
        return cohort
    text = knobs_file.read_text(encoding="utf-8")
    if yaml.safe_load(text) is None:           # comment-only: the team changed nothing yet
        return cohort
    return spec_load.apply_knobs(cohort, team, load_yaml_text(text, str(knobs_file)))


def with_team_knobs(cohort: ResolvedCohort, state_dir: Path) -> ResolvedCohort:
    """Every team's knobs file applied: what `up` and `plan` should use once teams have edited
    theirs (otherwise a cohort-wide `up` puts the cohort file's knobs back)."""
    cs = StateDir(state_dir).cohort(cohort.id)
    for t in cohort.teams:
        cohort = apply_knobs_file(cohort, t.name, knobs_path(cs, t.name))
    return cohort


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def knobs_template(cohort: ResolvedCohort, team: str) -> str:
    """The pre-filled knobs file: the team's current values, each commented with what is allowed."""
    spec = cohort.team(team)
    lab, limits = spec.lab, spec.lab.limits
    c = cohort.id
    out = [
        f"# Knobs of team {team} in cohort {c} (lab {lab.name}). Change values here, then:",
        f"#   labctl team plan {team} --cohort {c}     # what would change, and the cost over the rest of the session",
        f"#   labctl team apply {team} --cohort {c}    # apply it (only your team)",
        "# Only node_groups, autoscaler, job and inference may appear here; delete a line to go back to the lab's value.",
        f"# Limits: at most {limits.max_gpus_per_team} GPUs at max size (all groups), "
        f"at most {limits.max_nodes_per_group} nodes per group.",
        "node_groups:",
    ]
    for gname, group in lab.node_groups.items():
        allowed = limits.gpu_instance_types if gname.startswith("gpu") else limits.system_instance_types
        out.append(f"  {gname}:")
        out.append(f"    instance_types: {_flow(list(group.instance_types))}"
                   f"    # allowed: {', '.join(allowed)}")
        out.append(f"    capacity_type: {group.capacity_type}"
                   f"    # fixed for this pool ({'SPOT' if gname == 'gpu_spot' else 'ON_DEMAND'})")
        out.append(f"    min_size: {group.min_size}    # 0 lets the group scale to zero")
        out.append(f"    desired_size: {group.desired_size}    # min_size <= desired_size <= max_size")
        out.append(f"    max_size: {group.max_size}    # 0 switches the pool off; at most {limits.max_nodes_per_group}")
        out.append(f"    disk_gib: {group.disk_gib}    # 20..2000")
    a = lab.autoscaler
    out += [
        "autoscaler:",
        f"  enabled: {_flow(a.enabled)}",
        f"  expander: {a.expander}    # random, most-pods, least-waste, price, priority",
        f"  scale_down_enabled: {_flow(a.scale_down_enabled)}    # false: idle nodes are never removed",
        f"  scale_down_unneeded_time: {a.scale_down_unneeded_time}    # idle this long before removal, e.g. 5m",
        f"  scale_down_delay_after_add: {a.scale_down_delay_after_add}",
        f"  scale_down_utilization_threshold: {a.scale_down_utilization_threshold}    # 0 < x <= 1",
        f"  max_node_provision_time: {a.max_node_provision_time}",
    ]
    j = lab.job
    out += [
        "job:",
        f"  pool: {j.pool}    # on-demand or spot (the pool's max_size must be >= 1)",
        f"  gpus: {j.gpus}    # per pod, 0..8; an instance type of the pool must have that many",
        f"  cpu: {_flow(j.cpu)}",
        f"  memory: {j.memory}",
        f"  parallelism: {j.parallelism}",
        f"  completions: {j.completions}",
        f"  backoff_limit: {j.backoff_limit}",
        f"  total_steps: {j.total_steps}",
        f"  checkpoint_every_steps: {j.checkpoint_every_steps}    # 0: no checkpoints (a spot interruption loses all progress)",
        f"  batch_size: {j.batch_size}    # samples per step: bigger keeps the GPU busier, each step takes longer",
        f"  hidden_size: {j.hidden_size}    # model width: compute per step and checkpoint size",
    ]
    inf = lab.inference
    out += [
        "inference:    # optional serving Deployment + ClusterIP Service + HPA on CPU",
        f"  enabled: {_flow(inf.enabled)}",
        f"  pool: {inf.pool}    # on-demand or spot (the pool's max_size must be >= 1)",
        (f"  replicas: {{min: {inf.replicas.min}, max: {inf.replicas.max}}}    # HPA bounds; GPUs at max + "
         f"the job's must fit {limits.max_gpus_per_team}"),
        f"  gpus_per_replica: {inf.gpus_per_replica}",
        f"  target_cpu_utilization: {inf.target_cpu_utilization}    # 10..95, % of the cpu request",
    ]
    return "\n".join(out) + "\n"


@dataclass
class KnobsResult:
    cohort: str
    team: str
    path: Path
    created: bool
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "team": self.team, "path": str(self.path), "created": self.created}


def team_knobs(cohort_ref: str | Path, state_dir: Path, team: str, reset: bool = False,
               source: Path | None = None) -> KnobsResult:
    """Write the team's knobs file (pre-filled) unless it exists; return its path and text.

    ``source``: a team's edited copy (e.g. from its handout folder) to take in, validated first;
    nothing is replaced when it is refused.
    """
    cohort = load_cohort(cohort_file(cohort_ref, state_dir))
    _team_index(cohort, team)
    cs = StateDir(state_dir).cohort(cohort.id)
    path = knobs_path(cs, team)
    if source is not None:
        apply_knobs_file(cohort, team, source)     # refused with the source's file, line and field
        text = source.read_text(encoding="utf-8")
        write_atomic(path, text)
        cs.audit("team knobs", "ok", team=team, path=str(path), source=str(source), knobs_sha=_sha(text.encode())[:12])
        return KnobsResult(cohort.id, team, path, True, text)
    created = reset or not path.exists()
    if created:
        text = knobs_template(cohort, team)
        write_atomic(path, text)
        cs.audit("team knobs", "ok", team=team, path=str(path), reset=reset)
    else:
        apply_knobs_file(cohort, team, path)    # an existing file must still be valid to show it
    return KnobsResult(cohort.id, team, path, created, path.read_text())


# ----------------------------------------------------------------------------- plan / apply


def hours_left(cohort: ResolvedCohort, at: datetime | None = None) -> Decimal:
    """Hours from ``at`` (now) to the window's end; the whole window before it starts; 0 after."""
    w = cohort.cohort.window
    at = at or now()
    start = max(at, w.start)
    secs = max(0.0, (w.ends_at - start).total_seconds())
    return (Decimal(int(secs)) / Decimal(3600)).quantize(Decimal("0.001"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_fingerprint(team_dir: Path) -> str:
    """What a saved plan was made from: inputs, module tree and the state it planned against."""
    h = hashlib.sha256()
    for name in ("terraform.tfvars.json", "terraform.tfstate"):
        f = team_dir / name
        h.update(name.encode() + b"\0" + (f.read_bytes() if f.exists() else b"") + b"\0")
    h.update(tree_fingerprint(team_dir).encode())
    return h.hexdigest()


def manifest_diff(old_dir: Path, new: dict[str, str]) -> tuple[list[str], str]:
    """(one line per changed file, unified diff) between the team's written manifests and ``new``."""
    lines, diff = [], []
    old = {p.relative_to(old_dir).as_posix(): p.read_text() for p in sorted(old_dir.rglob("*.yaml"))} \
        if old_dir.is_dir() else {}
    for rel in sorted(set(old) | set(new)):
        a, b = old.get(rel), new.get(rel)
        if a == b:
            continue
        d = list(difflib.unified_diff((a or "").splitlines(), (b or "").splitlines(),
                                      f"a/k8s/{rel}", f"b/k8s/{rel}", lineterm="", n=1))
        plus = sum(1 for x in d if x.startswith("+") and not x.startswith("+++"))
        minus = sum(1 for x in d if x.startswith("-") and not x.startswith("---"))
        what = "new" if a is None else "removed" if b is None else "changed"
        lines.append(f"k8s/{rel}: {what} (+{plus} -{minus})")
        diff += d
    return lines, "\n".join(diff)


@dataclass
class TeamChange:
    cohort: str
    team: str
    action: str                          # plan | apply
    status: str                          # no-changes | would-change | changed | unchanged | failed
    target: str
    changes: list[str] = field(default_factory=list)
    manifest_changes: list[str] = field(default_factory=list)
    manifest_diff: str = ""
    hours_left: Decimal = Decimal(0)
    estimate: Estimate | None = None
    previous: Estimate | None = None
    error: str | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    used_saved_plan: bool = False
    refresh: bool = False
    knobs_file: str | None = None
    spec: TeamSpec | None = field(default=None, repr=False)   # the team as planned (knobs applied)
    reconciled: list[str] = field(default_factory=list)       # what an interrupted apply had left, imported or deleted

    @property
    def cost_change(self) -> str:
        if self.estimate is None or self.previous is None:
            return ""
        return render_diff(diff_estimates(self.previous, self.estimate), self.hours_left)

    @property
    def net_change(self) -> Decimal | None:
        if self.estimate is None:
            return None
        before = self.previous.total()[1] if self.previous is not None else Decimal(0)
        return self.estimate.total()[1] - before

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cohort": self.cohort, "team": self.team, "action": self.action, "status": self.status,
            "target": self.target, "changes": self.changes, "manifest_changes": self.manifest_changes,
            "manifest_diff": self.manifest_diff, "hours_left": str(self.hours_left), "error": self.error,
            "seconds": round(self.seconds, 2), "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "used_saved_plan": self.used_saved_plan, "refresh": self.refresh, "knobs_file": self.knobs_file,
            "reconciled": self.reconciled,
        }
        if self.estimate is not None:
            lo, mid, hi = self.estimate.total()
            out["estimate_rest_of_session_usd"] = {"min": str(lo), "desired": str(mid), "max": str(hi)}
            out["warnings"] = [f"{w.address}: {w.message}" for w in self.estimate.warnings]
        if self.net_change is not None and self.previous is not None:
            out["net_change_usd"] = str(self.net_change)
        out["cost_change"] = self.cost_change
        out["disruptive"] = node_group_disruptions(self.changes)
        out["expected_use"] = None if self.expected is None else self.expected.as_dict()
        return out

    @property
    def expected(self) -> Any:
        """The job's pool priced at what the job needs (None: its desired size covers it)."""
        return team_expected_use(self.spec) if self.spec is not None else None

    def text(self) -> str:
        head = f"{self.team}: {self.status}"
        if self.error:
            head += f": {self.error}"
        out = [head]
        if self.reconciled:
            out.append("left outside the state by an interrupted apply:")
            out += [f"  {line}" for line in self.reconciled]
        if self.changes:
            out.append("terraform:")
            out += [f"  {change_line(*c.split(' ', 1))}" if " " in c else f"  {c}" for c in self.changes[:40]]
            if len(self.changes) > 40:
                out.append(f"  ... {len(self.changes) - 40} more")
        for d in node_group_disruptions(self.changes):
            out.append(f"disruptive: {d}")
        if self.manifest_changes:
            out.append("kubernetes manifests:")
            out += [f"  {c}" for c in self.manifest_changes]
        if not self.changes and not self.manifest_changes and not self.error:
            out.append("  nothing to change")
        if self.cost_change:
            out.append(f"cost over the rest of the session ({self.hours_left.normalize():f} h left):")
            out += [f"  {line}" for line in self.cost_change.splitlines()]
        elif self.estimate is not None:
            out.append(f"estimate over the rest of the session ({self.hours_left.normalize():f} h left): "
                       f"{fmt_usd(self.estimate.total()[1])} expected")
        if self.estimate is not None and self.expected is not None:
            out.append(f"  {self.expected.text()}")
        out.append(f"({self.seconds:.1f}s{', saved plan applied' if self.used_saved_plan else ''})")
        return "\n".join(out)


def _load(cohort_ref: str | Path, state_dir: Path, team: str) -> tuple[ResolvedCohort, TeamSpec, CohortState, Path]:
    spec = cohort_file(cohort_ref, state_dir)
    cohort = load_cohort(spec)
    _team_index(cohort, team)
    remote_state.attach_from_file(spec, state_dir, cohort)     # state in S3, provisioned from another machine
    cs = StateDir(state_dir).cohort(cohort.id)
    kf = knobs_path(cs, team)
    cohort = apply_knobs_file(cohort, team, kf)
    return cohort, cohort.team(team), cs, kf


def _render(ctx: RunContext, cohort: ResolvedCohort, spec: TeamSpec) -> tuple[Path, dict[str, Any], dict[str, str]]:
    d = ctx.cohort_state.team_dir(spec.name)
    variables = tfvars(cohort, spec, ctx.conn.provider)
    files = render_team_manifests(cohort, spec, tfstate.team_outputs(d) or None,
                                  s3_endpoint_url=ctx.conn.endpoint_url or "")
    problems = [replace(p, file=f"{spec.name}/k8s/{p.file}")
                for p in validate_team(files, variables, spec.lab.kubernetes_version)]
    if problems:
        raise SpecError(problems)
    write_root(d, variables)
    return d, variables, files


def _estimates(doc: dict[str, Any], cohort: ResolvedCohort, team: str, hours: Decimal,
               prior: dict[str, Any] | None = None, k8s_dir: Path | None = None) -> tuple[Estimate, Estimate | None]:
    """The team's cost over the rest of the session per ``doc`` (a plan, or a state's values as
    planned_values), and per ``prior`` values (what stood before) when given. The job's pool is
    priced at what the job needs (labctl.ops.estimates): after the change by the team's knobs,
    before it by the job as deployed (its manifest in ``k8s_dir``)."""
    catalog = load_catalog()
    est = estimate_team(doc, cohort, team, hours, catalog, team_expected_use(cohort.team(team)))
    previous = None
    if prior:
        before = manifests_expected_use(k8s_dir, prior) if k8s_dir is not None else None
        previous = estimate_team({"planned_values": prior}, cohort, team, hours, catalog, before)
    return est, previous


def node_group_disruptions(changes: list[str]) -> list[str]:
    """What in ``changes`` ("<action> <address>") evicts running pods: a node group replaced (a
    change of instance types or capacity type cannot be made in place) or removed."""
    out = []
    for c in changes:
        action, _, address = c.partition(" ")
        if ".aws_eks_node_group." not in address:
            continue
        pool = short_address(address)
        if action in ("delete/create", "create/delete", "replace"):
            out.append(f"replaces node group {pool}: its nodes are drained and running pods evicted "
                       "(a job restarts from its last checkpoint, or from the start without one)")
        elif action == "delete":
            out.append(f"removes node group {pool}: running pods on it are evicted")
    return out


def _state_doc(state: dict[str, Any]) -> dict[str, Any]:
    """A state file's contents as the plan document the estimator reads (no terraform needed)."""
    return {"planned_values": state_values(state)}


def _changes(doc: dict[str, Any]) -> list[str]:
    out = []
    for rc in doc.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        out.append(f"{'/'.join(actions)} {rc['address']}")
    return out


def _read_plan(tf: Any, plan_file: Path, change: TeamChange, cohort: ResolvedCohort, has_state: bool) -> None:
    """The saved plan's changes and its cost over the rest of the session, into ``change``."""
    t = time.monotonic()
    doc = tf.show_plan(plan_file)
    change.timings["show"] = time.monotonic() - t
    change.changes = _changes(doc)
    prior = (doc.get("prior_state") or {}).get("values") if has_state else None
    change.estimate, change.previous = _estimates(doc, cohort, change.team, change.hours_left, prior,
                                                  plan_file.parent / "k8s")


def _tf_error(res: Any, what: str) -> str:
    errs = res.progress.errors
    if errs:
        return "; ".join(e.one_line() for e in errs[:3])
    return (res.stderr.strip().splitlines() or [f"terraform {what} failed"])[-1]


def _context(cohort: ResolvedCohort, state_dir: Path, emulator_url: str | None = None,
             emulator_boot_id: str | None = None) -> RunContext:
    conn = connect(cohort.cohort, state_dir, emulator_url=emulator_url, emulator_boot_id=emulator_boot_id)
    ctx = prepare(state_dir, cohort.id, conn)
    check_emulator_matches(ctx.cohort_state, conn)
    return ctx


def _refresh(ctx: RunContext) -> bool:
    # On the emulator and LocalStack nothing but labctl's terraform writes these resources.
    return ctx.conn.target == "aws"


def _prepare(cohort: ResolvedCohort, spec: TeamSpec, cs: CohortState, kf: Path, state_dir: Path, action: str,
             at: datetime | None, emulator_url: str | None, emulator_boot_id: str | None,
             t0: float) -> tuple[RunContext, Path, dict[str, str], TeamChange]:
    """What `team plan` and `team apply` both do first: render the team, init, and start the
    TeamChange with its manifest changes, refresh choice and the hours left in the session."""
    ctx = _context(cohort, state_dir, emulator_url, emulator_boot_id)
    timings: dict[str, float] = {}
    d, _, files = _render(ctx, cohort, spec)
    timings["render"] = time.monotonic() - t0
    t = time.monotonic()
    ctx.ensure_init(spec.name)
    timings["init"] = time.monotonic() - t
    refresh = _refresh(ctx) and cs.has_resources(spec.name)
    change = TeamChange(cohort.id, spec.name, action, "failed", ctx.conn.target, hours_left=hours_left(cohort, at),
                        refresh=refresh, knobs_file=str(kf) if kf.exists() else None, timings=timings,
                        spec=spec)
    change.reconciled = list(state_lock.take_over_all(ctx, [spec.name]).values())     # S3: own killed run's lock
    change.manifest_changes, change.manifest_diff = manifest_diff(d / "k8s", files)
    return ctx, d, files, change


def team_plan(cohort_ref: str | Path, state_dir: Path, team: str, at: datetime | None = None,
              emulator_url: str | None = None, emulator_boot_id: str | None = None) -> TeamChange:
    """Plan one team with its knobs: Terraform and manifest changes, cost over the rest of the session.

    Keeps the saved plan (and its fingerprint) for `team apply`. Changes nothing in the cloud.
    """
    t0 = time.monotonic()
    cohort, spec, cs, kf = _load(cohort_ref, state_dir, team)
    refuse_if_torn_down(cs, f"planning team {team}")
    ctx, d, files, change = _prepare(cohort, spec, cs, kf, state_dir, "plan", at, emulator_url, emulator_boot_id, t0)
    timings, refresh, hours = change.timings, change.refresh, change.hours_left
    has_state = cs.has_resources(team)
    mchanges = change.manifest_changes
    tf = ctx.tf(team)
    plan_file = d / SAVED_PLAN
    meta_file = d / SAVED_PLAN_META
    meta_file.unlink(missing_ok=True)
    fp = plan_fingerprint(d)
    t = time.monotonic()
    res = tf.run(A.plan(out=plan_file, refresh=refresh))
    timings["plan"] = time.monotonic() - t
    if res.returncode not in (0, 2):
        change.error = _tf_error(res, "plan")
        change.seconds = time.monotonic() - t0
        return change
    if res.returncode == 2:
        _read_plan(tf, plan_file, change, cohort, has_state)
    elif has_state:
        # Nothing to change in Terraform: price what the state holds, read from the state file
        # itself rather than `terraform show` (which starts the provider again for ~3 s).
        change.estimate, _ = _estimates(_state_doc(tfstate.read(d / tfstate.STATE_FILE) or {}),
                                        cohort, team, hours)
    change.status = "would-change" if (res.returncode == 2 or mchanges) else "no-changes"
    # Remember what was planned from; a no-op plan is remembered too, so that `team apply` of a
    # manifest-only change (autoscaler, job knobs) runs no terraform at all.
    meta_file.write_text(json.dumps({"fingerprint": fp, "planned_at": now().isoformat(),
                                     "noop": res.returncode == 0, "changes": change.changes}, indent=2))
    if res.returncode == 0:
        plan_file.unlink(missing_ok=True)
    change.seconds = time.monotonic() - t0
    return change


def team_apply(cohort_ref: str | Path, state_dir: Path, team: str, at: datetime | None = None,
               emulator_url: str | None = None, emulator_boot_id: str | None = None) -> TeamChange:
    """Apply one team's knobs: the saved plan from `team plan` when nothing changed since, else one
    `terraform apply` that plans and applies (its changes from the event stream, its cost from the
    state before and after); then the team's manifests. Other teams are not touched."""
    t0 = time.monotonic()
    cohort, spec, cs, kf = _load(cohort_ref, state_dir, team)
    if not cs.meta().recorded:
        raise NotFoundError(f"cohort {cohort.id} is not provisioned in {state_dir}; run `labctl up` first")
    # Ctrl-C or SIGTERM: terraform is stopped the graceful way (it writes its state), the team
    # stays marked as applying (the next apply reconciles), the lock is released, exit 130.
    with interruptible(threading.Event(), f"labctl team apply {team} --cohort {cohort_ref}"):
        with cs.exclusive(f"team apply {team}"):      # one writer per cohort
            refuse_if_torn_down(cs, f"applying team {team}")
            return _team_apply(cohort, spec, cs, kf, state_dir, team, at, emulator_url, emulator_boot_id, t0)


def _team_apply(cohort: ResolvedCohort, spec: TeamSpec, cs: CohortState, kf: Path, state_dir: Path, team: str,
                at: datetime | None, emulator_url: str | None, emulator_boot_id: str | None,
                t0: float) -> TeamChange:
    ctx, d, files, change = _prepare(cohort, spec, cs, kf, state_dir, "apply", at, emulator_url, emulator_boot_id, t0)
    timings, refresh = change.timings, change.refresh
    has_state = cs.has_resources(team)
    tf = ctx.tf(team)
    plan_file, meta_file = d / SAVED_PLAN, d / SAVED_PLAN_META
    saved = json.loads(meta_file.read_text()) if meta_file.exists() else None
    if saved is not None and not saved.get("noop") and not plan_file.exists():
        saved = None
    if resume.interrupted(cs, [team]):
        # The team's last apply (`up` or `team apply`) was interrupted: what it created after its
        # last state save is imported or deleted first, and a fresh apply (not a plan saved
        # before) takes the import blocks in.
        reconciled, refused = resume.reconcile_interrupted(ctx, cohort, [team])
        if team in refused:
            change.status, change.error = "failed", refused[team]
            cs.set_team(team, status="failed", error=refused[team], at=now().isoformat())
            cs.audit("team apply", "failed", team=team, status="failed", error=refused[team])
            plan_file.unlink(missing_ok=True)
            meta_file.unlink(missing_ok=True)
            change.seconds = time.monotonic() - t0
            return change
        change.reconciled += reconciled[team].lines()
        saved = None
    try:
        if saved is not None and saved.get("fingerprint") == plan_fingerprint(d):
            change.used_saved_plan = True
            change.changes = list(saved.get("changes", []))
            tf_changed = not saved.get("noop")
        else:
            # No saved plan: one `terraform apply` plans and applies (one terraform process instead
            # of plan, show and apply: ~10 s less here). Its event stream lists the changes; the
            # cost difference is the state before priced against the state after.
            state_file = d / "terraform.tfstate"
            before = tfstate.read(state_file) if has_state else None
            t = time.monotonic()
            resume.mark_applying(cs, [team])
            res = tf.run(A.apply(refresh=refresh))
            cs.set_team(team, **resume.finished(res))
            timings["apply"] = time.monotonic() - t
            change.changes = res.planned_changes()
            if not res.ok:
                raise TerraformError(_tf_error(res, "apply"))
            tf_changed = bool(change.changes)
            if tf_changed:
                prior = state_values(before) if before and before.get("resources") else None
                change.estimate, change.previous = _estimates(_state_doc(tfstate.read(state_file) or {}),
                                                              cohort, team, change.hours_left, prior, d / "k8s")
        if tf_changed and change.used_saved_plan:
            t = time.monotonic()
            resume.mark_applying(cs, [team])
            res = tf.run(A.apply(plan_file=plan_file))
            cs.set_team(team, **resume.finished(res))
            timings["apply"] = time.monotonic() - t
            if not res.ok:
                raise TerraformError(_tf_error(res, "apply"))
        # Manifests now carry the real outputs (role ARN, node group names), as `up` writes them.
        write_team_manifests(ctx, cohort, spec)
        record_team(cs.root, d, team, cohort.cohort.region, now())
        change.status = "changed" if (tf_changed or change.manifest_changes) else "unchanged"
        cs.set_team(team, status=change.status, error=None, at=now().isoformat(),
                    knobs_sha=_sha(kf.read_bytes()) if kf.exists() else None)
        remote_state.save_knobs(cs, ctx.conn, team, kf)     # state in S3: the applied knobs beside it
    except TerraformError as exc:
        change.status, change.error = "failed", str(exc)
        cs.set_team(team, status="failed", error=str(exc), at=now().isoformat())
    finally:
        plan_file.unlink(missing_ok=True)
        meta_file.unlink(missing_ok=True)
        reconcile.clear_imports(d)      # import blocks are for one apply; a later plan must not see them
        change.seconds = time.monotonic() - t0
        cs.audit("team apply", "failed" if change.status == "failed" else "ok", team=team,
                 status=change.status, changes=len(change.changes), manifests=len(change.manifest_changes),
                 saved_plan=change.used_saved_plan, seconds=round(change.seconds, 1),
                 knobs_sha=_sha(kf.read_bytes())[:12] if kf.exists() else None,
                 knobs=spec.knobs, applied_at=(at or now()).isoformat())   # in force from then: the debrief's history
    return change


def knobs_data(path: Path) -> dict[str, Any]:
    """The knobs file's values (for handouts and tests)."""
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    return copy.deepcopy(data) if isinstance(data, dict) else {}


__all__ = [
    "KNOBS_FILE", "KnobsResult", "TeamChange", "apply_knobs_file", "cohort_file", "hours_left",
    "knobs_data", "knobs_path", "knobs_template", "manifest_diff", "plan_fingerprint", "team_apply",
    "team_knobs", "team_plan", "with_team_knobs",
]
