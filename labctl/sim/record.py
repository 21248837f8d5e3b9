"""What the simulator tells the telemetry store, buffered: the same three row types (lifecycle,
samples, events) every collector writes, each with ``source="simulator"``.

A node's per-node line items (its public IPv4 address: labctl.cost.items) are recorded with it,
here, from the team's line items, so no node enters the lifecycle without them."""

from __future__ import annotations

from datetime import datetime

from labctl.cost.items import TeamItems
from labctl.telemetry.provisioned import node_companions
from labctl.telemetry.store import Event, Lifecycle, Sample, Store

SOURCE = "simulator"


class Recorder:
    def __init__(self, items: dict[str, TeamItems] | None = None) -> None:
        self.lifecycle: dict[tuple[str, datetime], Lifecycle] = {}
        self.samples: list[Sample] = []
        self.events: list[Event] = []
        self.items = items or {}              # team -> its line items

    def put_lifecycle(self, row: Lifecycle) -> None:
        self.lifecycle[(row.resource_id, row.start)] = row   # the latest view of a row wins
        team_items = self.items.get(row.team)
        if team_items is not None:
            for extra in node_companions(row, team_items):
                self.lifecycle[(extra.resource_id, extra.start)] = extra

    def sample(self, team: str, ts: datetime, metric: str, value: float, entity: str = "", **attrs: object) -> None:
        self.samples.append(Sample(team, ts, metric, float(value), SOURCE, entity, dict(attrs)))

    def event(self, team: str, ts: datetime, kind: str, entity: str = "", **payload: object) -> None:
        self.events.append(Event(team, ts, kind, SOURCE, entity, dict(payload)))

    def lifecycle_rows(self) -> list[Lifecycle]:
        return sorted(self.lifecycle.values(), key=lambda r: (r.team, r.start, r.resource_id))

    def flush(self, store: Store) -> None:
        with store.batch():
            store.put_lifecycle(self.lifecycle_rows())
            store.put_samples(self.samples)
            store.put_events(self.events)
