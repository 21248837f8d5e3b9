"""Several teams destroyed by one `terraform destroy` (a down batch), each given its state back.

Why: a terraform command costs terraform core and the aws provider a fixed few CPU-seconds
whatever it removes (bench/README.md), and `down` used to pay it once per team: 30 teams took
1.7x the wall time of `up`, which already creates new teams in batches (labctl/tf/batch.py).

How, per batch (``<cohort>/batches/down-<first team>/``):

1. the teams' states are merged into one batch state (``labctl.tf.batch.merge_states``) and the
   batch root calls each team's own root as a module, as `up`'s batches do;
2. the batch state is written first, then each team's own state is emptied (same lineage): at
   every moment each resource is in exactly one state. A kill in between or during the destroy
   leaves the batch's state, which the next command splits back into the teams' own
   (``labctl.ops.batch.recover``, the path an interrupted `up` batch takes);
3. one ``terraform destroy``, bounded in time; its events are routed to their team;
4. whatever is left is split back into each team's own state (its own lineage, a higher serial),
   and the batch's state removed. Each team's outcome is its own: a team with nothing left is
   destroyed whatever happened to the others. After a failed batch the caller retries the teams
   that still have resources alone, so one team's failure never fails another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labctl.ops import batch as batches
from labctl.ops import remote_state
from labctl.ops.common import RunContext
from labctl.ops.progress import Board
from labctl.render.terraform import read_tfvars
from labctl.state import CohortState
from labctl.tf import argv as A
from labctl.tf import state as tfstate
from labctl.tf.batch import module_key, provider_aliases, team_of, write_batch_root


# Teams destroyed at once are bound by memory. With an account per team each team in a batch has
# its own provider process: 30 teams in batches of 5, 10 at once, peaked at 4.87 GiB for
# everything, the emulator included (bench/README.md), less than 0.5 GiB per team in flight.
# Teams in one account share one provider and need what `up` gives them
# (labctl.ops.batch.PER_TEAM_SHARING_A_PROVIDER_BYTES).
PER_TEAM_BYTES = 448 * 1024 ** 2


def can_batch(cs: CohortState) -> bool:
    """Whether the cohort's teams may be destroyed in batches: not when their states live in S3
    (labctl.ops.remote_state), where each team's state is behind its own backend and lock and a
    batch would have to push every emptied and every returned state; those are destroyed alone."""
    return remote_state.recorded(cs) is None


@dataclass
class BatchTeam:
    team: str
    status: str          # destroyed | failed | timed-out | interrupted | not-started
    destroyed: list[str] = field(default_factory=list)      # addresses relative to the team's own root
    left: int = 0                                           # resources still in its state
    error: str | None = None


def destroy_batch(ctx: RunContext, cs: CohortState, names: list[str], board: Board, timeout_s: float | None,
                  on_destroyed: Callable[[str, str], None] | None = None) -> dict[str, BatchTeam]:
    """Destroy ``names`` (teams with resources) with one terraform command. A batch that could not
    be set up returns every team "not-started", its state untouched, for the caller to destroy alone."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    bdir = batches.down_batch_dir(cs, names)
    try:
        states = {n: tfstate.read(cs.team_dir(n) / tfstate.STATE_FILE) or {} for n in names}
        members = {n: (cs.team_dir(n), read_tfvars(cs.team_dir(n))) for n in names}
        sensitive = batches.root_sensitive_outputs()
        write_batch_root(bdir, members, batches.team_module(cs), bool(sensitive))
        for n in names:
            board.update(n, phase=f"init (batch of {len(names)})")
        tf = ctx.tf_at(bdir)
        tf.init()
    except Exception as exc:  # noqa: BLE001 - nothing moved yet: each team is destroyed alone instead
        why = f"batch not started ({str(exc)[:200]}); destroyed alone"
        return {n: BatchTeam(n, "not-started", error=why) for n in names}
    batches.move_into_batch(cs, bdir, states, provider_aliases({n: v for n, (_, v) in members.items()}))
    destroyed: dict[str, list[str]] = {n: [] for n in names}

    def on_event(ev) -> None:  # type: ignore[no-untyped-def]
        if ev.type == "apply_complete" and ev.action == "delete" and ev.address:
            team = team_of(ev.address, names)
            if team is None:
                return
            address = ev.address[len(f"module.{module_key(team)}."):]
            destroyed[team].append(address)
            if on_destroyed is not None:
                on_destroyed(team, address)
            board.update(team, done=len(destroyed[team]))

    for n in names:
        board.update(n, phase=f"destroy (batch of {len(names)})")
    try:
        bound = {} if deadline is None else {"timeout_s": max(1.0, deadline - time.monotonic())}
        # Terraform's default of 10 operations at once is per command: 10 per team, as alone.
        res = tf.run(A.destroy(parallelism=10 * len(names)), on_event=on_event, **bound)
    finally:
        # Always, even when the run raised: each team's resources go back to its own state.
        left = batches.move_out_of_batch(cs, bdir, states, sensitive)
    errors = res.progress.errors
    shared = [e for e in errors if team_of(e.address, names) is None]
    out: dict[str, BatchTeam] = {}
    for n in names:
        if not left.get(n):
            out[n] = BatchTeam(n, "destroyed", destroyed[n])
            continue
        mine = [e for e in errors if team_of(e.address, names) == n] + shared
        if res.cancelled:
            status, error = "interrupted", "interrupted"
        elif res.timed_out:
            status = "timed-out"
            error = (f"terraform destroy did not finish within {timeout_s:.0f} s (stopped; its state saved); "
                     "the sweep removes the rest")
        else:
            status = "failed"
            error = ("; ".join(e.one_line() for e in mine[:3])
                     or (res.stderr.strip().splitlines() or ["terraform destroy failed"])[-1])
        out[n] = BatchTeam(n, status, destroyed[n], left[n], error)
    return out

