"""Shared plumbing for use cases: loading a cohort with its state, building terraform runners."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labctl.errors import EmulatorError, LabctlError, NotFoundError, Problem, RefusedError, SpecError
from labctl.ops import batch as batches
from labctl.ops import remote_state
from labctl.ops.target import Connection
from labctl.render.manifests import render_team_manifests, write_manifests
from labctl.spec.load import ResolvedCohort, TeamSpec, load_cohort
from labctl.state import CohortState, StateDir
from labctl.tf import config as tfconfig
from labctl.tf import state as tfstate
from labctl.tf.runner import Terraform, find_terraform


@dataclass
class RunContext:
    state: StateDir
    cohort_state: CohortState
    conn: Connection
    terraform: str
    cancel: threading.Event
    _init_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def data_dir(self) -> Path:
        """One TF_DATA_DIR for all teams of the cohort: their roots are identical module trees, so
        one `terraform init` (provider package hashing ~1.5 CPU-s, see bench/README.md) serves all."""
        return self.cohort_state.root / "tf-data"

    def tf(self, team: str) -> Terraform:
        # A cohort with its state in S3: the team's backend, workspace and read copy (ops/remote_state).
        return remote_state.configure(self.tf_at(self.cohort_state.team_dir(team), self.data_dir), self.cohort_state, team)

    def tf_at(self, workdir: Path, data_dir: Path | None = None) -> Terraform:
        """A runner in ``workdir`` (a team's root, or a batch root with its own .terraform)."""
        env = {**self.conn.env, **({"TF_DATA_DIR": str(data_dir)} if data_dir else {})}
        return Terraform(workdir=workdir, cli_config=self.state.cli_config, env=env, binary=self.terraform,
                         log_path=workdir / "events.jsonl", cancel=self.cancel)

    def ensure_init(self, team: str) -> None:
        """Init the shared data dir once per module tree; give each team the same lock file."""
        team_dir = self.cohort_state.team_dir(team)
        lock_copy = self.data_dir / "labctl.lock.hcl"
        stamp = self.data_dir / "labctl-init.json"
        with self._init_lock:
            fp = tree_fingerprint(team_dir)
            current = json.loads(stamp.read_text()).get("fingerprint") if stamp.exists() else None
            if current != fp or not lock_copy.exists() or not (self.data_dir / "modules" / "modules.json").exists():
                self.tf(team).init()
                self.data_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(team_dir / ".terraform.lock.hcl", lock_copy)
                stamp.write_text(json.dumps({"fingerprint": fp}))
        target = team_dir / ".terraform.lock.hcl"
        if not target.exists() or target.read_bytes() != lock_copy.read_bytes():
            shutil.copyfile(lock_copy, target)


def tree_fingerprint(team_dir: Path) -> str:
    """Hash of a team root's .tf files and modules: what `terraform init` depends on."""
    h = hashlib.sha256()
    files = sorted(team_dir.glob("*.tf")) + sorted(team_dir.glob("*.tf.json")) + sorted(p for p in (team_dir / "modules").rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(team_dir)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def write_team_manifests(ctx: RunContext, cohort: ResolvedCohort, team: TeamSpec) -> None:
    """The team's manifests, carrying its real outputs (IRSA role ARN, cluster, bucket) once its
    state has them (`up` and `team apply` both write them)."""
    d = ctx.cohort_state.team_dir(team.name)
    write_manifests(d / "k8s", render_team_manifests(cohort, team, tfstate.team_outputs(d) or None,
                                                     s3_endpoint_url=ctx.conn.endpoint_url or ""))


def resolve_cohort_id(ref: str | Path, state_dir: Path) -> str:
    """COHORT may be a cohort file or the id of a cohort in the state directory."""
    p = Path(ref)
    if p.is_file():
        resolved = load_cohort(p)
        remote_state.attach_from_file(p, state_dir, resolved)     # state in S3, never provisioned here
        return resolved.id
    sd = StateDir(state_dir)
    if "/" not in str(ref) and sd.cohort(str(ref)).root.is_dir():
        return str(ref)
    if p.exists():
        return load_cohort(p).id        # a directory or unreadable file: refused like any bad cohort file
    raise NotFoundError(f"{ref}: neither a cohort file nor a cohort in {state_dir}")


def prepare(state_dir: Path, cohort_id: str, conn: Connection, mirror: str | None = None,
            on_unreadable: Callable[[str], None] | None = None) -> RunContext:
    sd = StateDir(state_dir)
    tfconfig.write_cli_config(sd.cli_config, tfconfig.detect_mirror(mirror))
    ctx = RunContext(sd, sd.cohort(cohort_id), conn, find_terraform(), threading.Event())
    # An `up` killed mid-batch left its teams' resources in the batch's state: split it into their
    # own states before anything plans, destroys or re-creates them.
    if not ctx.cohort_state.spec_copy.exists() and not (ctx.cohort_state.root / "meta.json").exists():
        # Never provisioned from this state directory: another machine may have, with its state in S3.
        remote_state.attach(ctx.cohort_state, conn)
    recovered = batches.recover(ctx.cohort_state, on_unreadable=on_unreadable)
    if remote_state.recorded(ctx.cohort_state) is not None:
        # Remote state: what a batch left is pushed, then every team's copy is read again from S3.
        teams = ctx.cohort_state.teams_with_state()
        failed = remote_state.push_states(ctx.tf, ctx.cohort_state, recovered)
        if failed:
            raise LabctlError("; ".join(f"team {t}: {why}" for t, why in failed.items()))
        remote_state.refresh(ctx.cohort_state, conn, teams)
    return ctx


def select_teams(cohort: ResolvedCohort, names: list[str] | None) -> list[str]:
    all_names = [t.name for t in cohort.teams]
    if not names:
        return all_names
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise SpecError([Problem(str(cohort.source), None, "--teams", f"unknown team {n!r} (teams: {', '.join(all_names)})") for n in unknown])
    return [n for n in all_names if n in names]


def check_emulator_matches(cs: CohortState, conn: Connection) -> None:
    """Refuse to act on a restarted emulator: its memory-only state lost what Terraform recorded."""
    if conn.target != "embedded":
        return
    recorded = cs.meta().emulator_boot_id
    if recorded and recorded != conn.emulator_boot_id and any(cs.has_resources(t) for t in cs.teams_with_state()):
        raise EmulatorError(
            f"cohort {cs.id!r} was provisioned on an emulator that has since restarted (its state is in memory "
            "only, so the resources in the cohort's Terraform state no longer exist); run `labctl down` to "
            "clear the stale state, then `labctl up` again")


# What `down` leaves in meta.json: the cohort was torn down (cleanly or not).
TORN_DOWN = ("down", "down-with-leftovers")


def refuse_if_torn_down(cs: CohortState, action: str, source: str | Path | None = None) -> None:
    """On AWS, acting on a torn-down cohort re-creates GPU node groups after class: a bill nobody
    meant. Re-provisioning is done on purpose, with `up --reprovision`, never as a side effect."""
    meta = cs.meta()
    if meta.status not in TORN_DOWN:
        return
    when = f" at {meta.down_at}" if meta.down_at else ""
    ref = source or meta.source or cs.id
    raise RefusedError(f"cohort {cs.id} was torn down{when}; {action} would provision it again. "
                       f"To provision it again on purpose: labctl up {ref} --reprovision")
