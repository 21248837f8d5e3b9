"""What the simulator tells the telemetry store, buffered: the same three row types (lifecycle,
samples, events) every collector writes, each with ``source="simulator"``."""

from __future__ import annotations

from datetime import datetime

from labctl.telemetry.store import Event, Lifecycle, Sample, Store

SOURCE = "simulator"


class Recorder:
    def __init__(self) -> None:
        self.lifecycle: dict[tuple[str, datetime], Lifecycle] = {}
        self.samples: list[Sample] = []
        self.events: list[Event] = []

    def put_lifecycle(self, row: Lifecycle) -> None:
        self.lifecycle[(row.resource_id, row.start)] = row   # the latest view of a row wins

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
