"""What `up` created and `down` removed, as lifecycle rows: every priced resource of a team's
Terraform state (labctl.cost.items) enters the store from the moment it exists until `down`
removes it, whatever the target, not only when a collector happens to list it.

:func:`sync_team` is called after every apply (`up`, `team apply`) and after `destroy`: a standing
item of the state with no open row gets one (from its ``created_at`` when the state has it, else
from now); an open row whose resource is no longer in the state is closed. Rows carry source
``terraform``; a collector that lists the same resource (source ``aws-api``) wins over them in
the ledger (labctl.telemetry.usage.SOURCE_PRECEDENCE), the simulated class over both.

Per-node items (public IPv4, root volume) are recorded with their node by whoever records the
node: :func:`node_companions`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from labctl.cost.items import NODE_PUBLIC_IPV4, TeamItems, team_items
from labctl.cost.plan import state_values
from labctl.telemetry.store import Lifecycle, Store
from labctl.telemetry.usage import PROVISIONED
from labctl.tf import state as tfstate

SOURCE = PROVISIONED


def items_of_state(state: dict[str, Any] | None) -> TeamItems:
    """A team's line items from its terraform.tfstate (empty when there is none, or nothing in it)."""
    if state is None or not tfstate.has_resources(state):
        return TeamItems((), False)
    return team_items({"planned_values": state_values(state)})


def read_state(team_dir: Path) -> dict[str, Any] | None:
    return tfstate.team_state(team_dir)


def standing_rows(team: str, region: str, items: TeamItems, at: datetime, source: str = SOURCE, *,
                  use_created: bool = True) -> list[Lifecycle]:
    """One open row per standing item whose id is known, from its creation (else ``at``)."""
    return [Lifecycle(team, i.resource_id, i.kind, region, (i.created_at if use_created else None) or at, None,
                      source, gb=i.gb,
                      attrs={"address": i.address, "type": i.type})
            for i in items.standing if i.resource_id]


def node_companions(row: Lifecycle, items: TeamItems) -> list[Lifecycle]:
    """The per-node items that come and go with an instance row: its public IPv4 address."""
    if row.kind != "instance" or not items.public_node_ipv4:
        return []
    return [Lifecycle(row.team, row.resource_id + NODE_PUBLIC_IPV4, "ipv4", row.region, row.start, row.end,
                      row.source, availability_zone=row.availability_zone, pool=row.pool,
                      attrs={"attached_to": row.resource_id, "why": "public subnet, no NAT gateway"})]


def sync_team(store: Store, team: str, region: str, items: TeamItems, at: datetime) -> list[Lifecycle]:
    """Open rows for what the state holds and the store does not; close what the state lost.

    A row is closed at ``at``, or at the team's last observation when that is later: a simulated
    class runs on its own clock, ahead of the wall clock, and what it observed did exist."""
    open_rows = {r.resource_id: r for r in store.lifecycle(team) if r.source == SOURCE and r.end is None}
    wanted = {r.resource_id: r for r in standing_rows(team, region, items, at)}
    out = [r for rid, r in wanted.items() if rid not in open_rows]
    gone = [r for rid, r in open_rows.items() if rid not in wanted]
    if gone:
        last = store.last_observation(team)
        end = max(at, last) if last else at
        out += [Lifecycle(r.team, r.resource_id, r.kind, r.region, r.start, max(end, r.start), r.source,
                          gb=r.gb, attrs={**r.attrs, "closed": "no longer in the Terraform state"}) for r in gone]
    with store.batch():
        store.put_lifecycle(out)
    return out


def record_team(cohort_root: Path, team_dir: Path, team: str, region: str, at: datetime) -> list[Lifecycle]:
    """:func:`sync_team` for one team of a cohort, from its state file in the state dir."""
    with Store.for_cohort(cohort_root) as store:
        return sync_team(store, team, region, items_of_state(read_state(team_dir)), at)
