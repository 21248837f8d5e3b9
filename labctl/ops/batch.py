"""Batches of new teams for `up` (see labctl/tf/batch.py for why), of teams `down` destroys
(labctl/ops/down_batch.py), and their recovery.

A batch lives in ``<cohort>/batches/batch-<first team>/`` (`up`) or ``down-<first team>/``
(`down`). Its state exists only while its terraform runs: afterwards it is split into the teams'
own states and removed. A batch found with a state (labctl was killed mid-run; terraform, in its
own session, finishes and writes it) is split by the next command that acts on the cohort, after
waiting for terraform's lock on it to go.
"""

from __future__ import annotations

import fcntl
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labctl import resources
from labctl.errors import LabctlError, RefusedError
from labctl.render.terraform import read_tfvars, team_module_dir, write_team_module
from labctl.state import CohortState, write_atomic
from labctl.tf import state as tfstate
from labctl.tf.batch import merge_states, sensitive_outputs, split_state

# Memory per team in flight. Teams in one account share the batch's one aws provider process
# (labctl.tf.batch) and add only their part of terraform core's graph: 30 teams, 2 batches of 15
# at once, peaked at 2.91 GiB for everything, the emulator included (bench/README.md). With an
# account per team each team still has a provider process of its own (~0.5 GiB at GOGC=400): a
# batch of 5 peaked at 3.0 GiB with the emulator.
PER_TEAM_IN_BATCH_BYTES = 640 * 1024 ** 2
PER_TEAM_SHARING_A_PROVIDER_BYTES = 128 * 1024 ** 2
# A batch ends with its slowest team, and one terraform core walks its whole graph: past 20 teams
# a batch gains no CPU (core's cost is per resource) and holds the first teams back.
MAX_BATCH = 20


def per_team_bytes(account_per_team: bool) -> int:
    """Memory one team in a batch needs, by whether it has an account (so a provider) of its own."""
    return PER_TEAM_IN_BATCH_BYTES if account_per_team else PER_TEAM_SHARING_A_PROVIDER_BYTES
LOCK_WAIT_S = 120.0


def batches_dir(cs: CohortState) -> Path:
    return cs.root / "batches"


def batch_dir(cs: CohortState, teams: list[str]) -> Path:
    return batches_dir(cs) / f"batch-{teams[0]}"


def team_module(cs: CohortState) -> Path:
    """The cohort's team module, written or refreshed: what a batch root calls once per team."""
    dest = team_module_dir(cs.team_dir("_"))
    write_team_module(dest)
    return dest


def down_batch_dir(cs: CohortState, teams: list[str]) -> Path:
    """Where `down` destroys several teams at once (labctl.ops.down_batch)."""
    return batches_dir(cs) / f"down-{teams[0]}"


def _emptied(state: dict[str, Any]) -> dict[str, Any]:
    """A team's state once its resources moved to a batch: the same lineage, nothing in it."""
    return {**state, "serial": int(state.get("serial") or 0) + 1, "outputs": {}, "resources": [], "check_results": None}


def move_into_batch(cs: CohortState, bdir: Path, states: dict[str, dict[str, Any]], aliases: dict[str, str]) -> None:
    """Put the teams' resources into one batch state at ``bdir`` (each under the batch provider
    ``aliases`` names for its team: labctl.tf.batch.provider_aliases). The batch's state is written
    before each team's own is emptied, so a kill in between leaves a resource in two states, never
    in none, and the recovery that splits the batch keeps a team state that still has resources."""
    write_atomic(bdir / tfstate.STATE_FILE, json.dumps(merge_states(states, aliases), indent=2) + "\n")
    for team, state in states.items():
        write_atomic(cs.team_dir(team) / tfstate.STATE_FILE, json.dumps(_emptied(state), indent=2) + "\n")


def move_out_of_batch(cs: CohortState, bdir: Path, states: dict[str, dict[str, Any]],
                      sensitive: set[str]) -> dict[str, int]:
    """Give each team back what the batch state at ``bdir`` still holds of it (its own lineage, a
    higher serial), remove the batch's state, and return how many resources each team has left.
    A batch state terraform left unreadable is set aside: its teams' resources are then in no
    state, and the sweep that follows every destroy finds them by tag."""
    st = bdir / tfstate.STATE_FILE
    try:
        after = tfstate.read(st) or {}
    except tfstate.StateUnreadable as exc:
        aside = tfstate.set_aside(st)
        cs.audit("down", "batch-state-unreadable", batch=bdir.name, teams=list(states), reason=exc.reason,
                 set_aside=str(aside))
        after = {}
    ids = {t: {"lineage": s.get("lineage"), "serial": int(s.get("serial") or 0) + 2,
               "terraform_version": s.get("terraform_version", "")} for t, s in states.items()}
    parts = split_state(after, list(states), sensitive, identities=ids)
    for team, state in states.items():
        part = parts.get(team) or {**_emptied(state), "serial": ids[team]["serial"]}
        write_atomic(cs.team_dir(team) / tfstate.STATE_FILE, json.dumps(part, indent=2) + "\n")
    for f in (st, bdir / "terraform.tfstate.backup", bdir / ".terraform.tfstate.lock.info"):
        f.unlink(missing_ok=True)
    return {team: len(tfstate.addresses(part)) for team, part in parts.items()}


def plan_batches(names: list[str], in_flight: int, size: int | None = None) -> list[list[str]]:
    """Split new teams into batches, in order, sizes differing by at most one.

    By default two batches run at once (one per core keeps both busy while the other waits on
    the provider), each as large as memory allows for ``in_flight`` teams at once. ``size`` 1
    means one root per team (no batch)."""
    if not names:
        return []
    if size is None:
        size = max(2, min(math.ceil(len(names) / 2), in_flight // 2, MAX_BATCH))
    if size <= 1 or len(names) < 2:
        return [[n] for n in names]
    k = math.ceil(len(names) / size)
    base, extra = divmod(len(names), k)
    out, i = [], 0
    for j in range(k):
        n = base + (1 if j < extra else 0)
        out.append(names[i:i + n])
        i += n
    return out


def root_sensitive_outputs() -> set[str]:
    return sensitive_outputs((resources.terraform_dir() / "root" / "outputs.tf").read_text())


def wait_unlocked(state_file: Path, wait_s: float) -> bool:
    """True once no terraform holds its lock on ``state_file`` (the local backend keeps a POSIX
    record lock on the state file while it runs), False if one still does after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with open(state_file, "r+") as fh:
                try:
                    fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    pass
                else:
                    fcntl.lockf(fh, fcntl.LOCK_UN)
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def split_into_teams(cs: CohortState, bdir: Path) -> list[str]:
    """Split a finished batch's state into its teams' own states, then remove it. Returns the teams
    that got a state. A team that already has one (written before an interruption) keeps it."""
    st = bdir / "terraform.tfstate"
    if not st.exists():
        return []
    teams = batch_teams(bdir)
    # An empty file is one terraform created and never wrote: nothing was applied, unless there is a
    # backup (terraform empties the file to rewrite it in place: a kill then leaves it empty).
    # Anything else that is not a state raises StateUnreadable for recover() to handle.
    if not st.stat().st_size and tfstate.read_or_none(st.with_name(st.name + ".backup")) is not None:
        raise tfstate.StateUnreadable(st, "empty file (cut while terraform rewrote it)")
    state = (tfstate.read(st) or {}) if st.stat().st_size else {}
    written = []
    for team, part in split_state(state, teams, root_sensitive_outputs()).items():
        if cs.has_resources(team):
            continue
        write_atomic(cs.team_dir(team) / "terraform.tfstate", json.dumps(part, indent=2) + "\n")
        written.append(team)
    # Every resource now lives in exactly one team state: the batch's copy must never be split twice.
    for f in (st, bdir / "terraform.tfstate.backup", bdir / ".terraform.tfstate.lock.info"):
        f.unlink(missing_ok=True)
    return written


def batch_teams(bdir: Path) -> list[str]:
    try:
        return list(read_tfvars(bdir)["teams"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return []


def recover(cs: CohortState, wait_s: float = LOCK_WAIT_S,
            on_unreadable: Callable[[str], None] | None = None) -> list[str]:
    """Split every batch left with a state (an interrupted `up`) into its teams' states.

    A batch state that cannot be read (cut off by a full disk, say) is set aside and audited. Its
    teams' resources are then in no state: with ``on_unreadable`` (teardown, which sweeps by tag)
    the caller is told and goes on; without it the command is refused with what to run."""
    root = batches_dir(cs)
    if not root.is_dir():
        return []
    recovered: list[str] = []
    for bdir in sorted(p for p in root.iterdir() if p.is_dir()):
        st = bdir / "terraform.tfstate"
        if not st.exists():
            continue
        if not wait_unlocked(st, wait_s):
            raise LabctlError(f"terraform is still applying {bdir} (its state is locked after {wait_s:.0f} s); "
                              "wait for it to finish, then run the command again")
        try:
            teams = split_into_teams(cs, bdir)
        except tfstate.StateUnreadable as exc:
            aside = tfstate.set_aside(st)
            members = batch_teams(bdir)
            backup = st.with_name(st.name + ".backup")
            if tfstate.read_or_none(backup) is not None:
                # Cut off by a kill while terraform rewrote it (in place): its backup is the last
                # state it saved whole. Split that; what was created since is found by tag and name
                # before the teams are applied again, as after any interrupted apply.
                write_atomic(st, backup.read_text())
                cs.audit("recover", "unreadable", batch=bdir.name, teams=members, reason=exc.reason,
                         set_aside=str(aside), restored_from=str(backup))
                teams = split_into_teams(cs, bdir)
                for team in members if bdir.name.startswith("batch-") else []:
                    cs.set_team(team, applying=cs.meta().team(team).applying or "interrupted batch")
                recovered += teams
                continue
            cs.audit("recover", "unreadable", batch=bdir.name, teams=members, reason=exc.reason, set_aside=str(aside))
            message = (f"the state of the batch that created {', '.join(members) or bdir.name} was unreadable "
                       f"({exc.reason}) and was set aside as {aside}; what it created is in no state now")
            if on_unreadable is None:
                raise RefusedError(f"{message}: `labctl down {cs.id}` removes it by tag (or `labctl sweep "
                                   f"{cs.id}`), then `labctl up` creates those teams again") from exc
            on_unreadable(message + "; the sweep removes it by tag")
            continue
        # Its apply was interrupted: what it created after its last state save is in no state yet.
        # The next `up` looks for it before applying these teams again (labctl.ops.reconcile). An
        # interrupted destroy created nothing: what its state still lists is refreshed away.
        for team in batch_teams(bdir) if bdir.name.startswith("batch-") else []:
            cs.set_team(team, applying=cs.meta().team(team).applying or "interrupted batch")
        cs.audit("recover", "ok", batch=bdir.name, teams=teams)
        recovered += teams
    return recovered
