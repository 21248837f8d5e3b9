"""`labctl status`: per team, what exists, its node groups (capacity type, instance types, sizes
as EKS reports them now) and the time left before the window ends and teardown starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labctl.aws import eks, emulator
from labctl.aws.session import AwsError
from labctl.errors import EmulatorError
from labctl.meta import CohortMeta
from labctl.ops import remote_state
from labctl.ops.common import resolve_cohort_id
from labctl.ops.target import connect_recorded
from labctl.state import StateDir, now
from labctl.tf import state as tfstate


@dataclass
class NodeGroupStatus:
    pool: str
    name: str
    capacity_type: str
    instance_types: list[str]
    min: int
    desired: int
    max: int
    status: str


@dataclass
class TeamStatus:
    team: str
    status: str
    resources: int
    cluster: str | None
    node_groups: list[NodeGroupStatus] = field(default_factory=list)
    error: str | None = None


@dataclass
class CohortStatus:
    cohort: str
    target: str
    status: str
    window_end: str | None
    seconds_left: int | None
    teams: list[TeamStatus]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def status(cohort_ref: str | Path, state_dir: Path) -> CohortStatus:
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    end = meta.window_end
    left = int((end - now()).total_seconds()) if end else None
    conn = None
    if meta.status == "up":
        _require_emulator(cohort_id, meta, state_dir)
        conn = connect_recorded(meta, state_dir, start_emulator=False)
    # State in S3: each team's state as it is now in the bucket (another machine may have applied).
    stale = remote_state.refresh_for_reading(cs, state_dir, conn) if conn is not None else None
    out: list[TeamStatus] = []
    for team in sorted(set(meta.all_teams) | set(cs.teams_with_state())):
        state = tfstate.team_state(cs.team_dir(team))
        outputs = tfstate.outputs(state)
        ts = TeamStatus(team=team, status=meta.team(team).status or "not deployed",
                        resources=len(tfstate.addresses(state)),
                        cluster=outputs.get("cluster_name"), error=meta.team(team).error)
        if conn is not None and ts.cluster:
            target = conn.team_aws(team)     # per-team accounts: the team's own
            for pool, ng in sorted((outputs.get("node_groups") or {}).items()):
                try:
                    d = eks.describe_nodegroup(target, ts.cluster, ng["name"], emulator=False)
                except Exception as exc:  # noqa: BLE001 - status shows what it can
                    # AWS's error code, as the SDK named its exception before aws/ mapped it
                    ts.error = f"{ng['name']}: {exc.code if isinstance(exc, AwsError) else type(exc).__name__}"
                    continue
                ts.node_groups.append(NodeGroupStatus(pool, ng["name"], d.capacity_type or "?", list(d.instance_types),
                                                      d.min_size, d.desired_size, d.max_size, d.status or "?"))
        out.append(ts)
    return CohortStatus(cohort_id, meta.target if meta.recorded else "?", meta.status or "unknown",
                        end.isoformat() if end else None, left, out, [stale] if stale else [])


def _require_emulator(cohort_id: str, meta: CohortMeta, state_dir: Path) -> None:
    """An embedded cohort's resources live only in the emulator's memory: with that emulator
    stopped or restarted, its recorded state describes nothing, and showing it as up would lie."""
    if meta.target != "embedded":
        return
    info = emulator.running(state_dir)
    if info is None:
        why = "the embedded emulator that holds it is not running"
    elif info.boot_id != meta.emulator_boot_id:
        why = "the embedded emulator restarted since `up`, and its resources went with the old one"
    else:
        return
    raise EmulatorError(f"cohort {cohort_id}: {why}; `labctl down {cohort_id}` sets its state aside and "
                        f"proves nothing is left, `labctl up` provisions it again")



def human_duration(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    if seconds <= 0:
        return "ended"
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"
