"""The telemetry store's rows as typed values (pure: no SQLite here): what existed for a period
(Lifecycle), what was measured (Sample), what happened (Event), and the one time format they are
stored in. The ledger, the debrief and the simulator use these; labctl.telemetry.store keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any


def iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()}: telemetry times must carry a time zone")
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Lifecycle:
    team: str
    resource_id: str
    kind: str                      # a labctl.cost.model.KINDS value
    region: str
    start: datetime
    end: datetime | None
    source: str
    instance_type: str | None = None
    market: str = "on-demand"
    spot_price: Decimal | None = None
    gb: Decimal | None = None
    count: int = 1
    availability_zone: str | None = None
    pool: str | None = None        # node pool (system | gpu_on_demand | gpu_spot) for instances
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Sample:
    team: str
    ts: datetime
    metric: str
    value: float
    source: str
    entity: str = ""               # node / pod / job name the value belongs to ('' = team level)
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Event:
    team: str
    ts: datetime
    kind: str                      # e.g. spot-interruption-notice, pod-evicted, job-completed
    source: str
    entity: str = ""
    payload: dict[str, Any] = field(default_factory=dict, compare=False)
