"""Lifecycle rows (labctl.telemetry.store) -> Usage records (labctl.cost.model) for the ledger.

Kept here because labctl/telemetry/usage.py belongs to the collectors' owner; it is the plain
field-for-field mapping any source's rows need, so the debrief may move it there unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from labctl.cost.model import KINDS, Usage
from labctl.telemetry.store import Lifecycle


def lifecycle_to_usage(rows: Iterable[Lifecycle]) -> list[Usage]:
    """One Usage per row of a kind the ledger prices; rows of other kinds are left out."""
    out = []
    for r in rows:
        if r.kind not in KINDS:
            continue
        out.append(Usage(team=r.team, resource_id=r.resource_id, kind=r.kind, region=r.region, start=r.start,
                         end=r.end, instance_type=r.instance_type, market=r.market,
                         spot_price_usd_per_hour=r.spot_price, gb=r.gb, count=r.count,
                         availability_zone=r.availability_zone, source=r.source))
    return out
