"""The cohort's telemetry store: SQLite in the state directory, one schema for every source.

Everything the debrief shows is derived from what is recorded here, whichever place produced it:
the AWS inventory collector (emulator, LocalStack, real accounts), the cluster collector, a DCGM /
Prometheus scrape, the simulated class, or `up`/`down` themselves (what each team's Terraform state
holds: labctl.telemetry.provisioned). Each row carries its ``source`` (e.g. ``aws-api``,
``cluster``, ``dcgm``, ``simulator``, ``terraform``) so a figure can say where it came from, and
nothing else tells sources apart.

Three tables:

- ``lifecycle``: things that existed for a period (instances with type and market, node group
  sizes, clusters, buckets, volumes) — upserted by (cohort, resource_id, start), so collection is
  incremental and safe to restart; ``end`` is filled when the thing is seen gone. These become
  ``labctl.cost.model.Usage`` records for the ledger.
- ``samples``: timestamped numeric observations: GPU utilisation under DCGM names
  (DCGM_FI_DEV_GPU_UTIL, DCGM_FI_PROF_GR_ENGINE_ACTIVE, DCGM_FI_DEV_FB_USED), job progress,
  pod requests/usage, node group sizes; keyed by (cohort, team, ts, metric, entity).
- ``events``: discrete happenings: spot interruption notices, pod evictions, job completions,
  guardrail actions, with a JSON payload.

Times are UTC ISO-8601 strings with a trailing Z; money never lives here (the ledger computes it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from labctl.telemetry.rows import Event, Lifecycle, Sample, iso, parse_iso  # noqa: F401 - the store's rows

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lifecycle (
    cohort TEXT NOT NULL, team TEXT NOT NULL, resource_id TEXT NOT NULL, kind TEXT NOT NULL,
    region TEXT NOT NULL, start TEXT NOT NULL, end TEXT,
    instance_type TEXT, market TEXT NOT NULL DEFAULT 'on-demand', spot_price TEXT,
    gb TEXT, count INTEGER NOT NULL DEFAULT 1, availability_zone TEXT,
    pool TEXT, source TEXT NOT NULL, attrs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (cohort, resource_id, start)
);
CREATE INDEX IF NOT EXISTS lifecycle_team ON lifecycle (cohort, team);
CREATE TABLE IF NOT EXISTS samples (
    cohort TEXT NOT NULL, team TEXT NOT NULL, ts TEXT NOT NULL, metric TEXT NOT NULL,
    entity TEXT NOT NULL DEFAULT '', value REAL NOT NULL, source TEXT NOT NULL,
    attrs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (cohort, team, ts, metric, entity)
);
CREATE INDEX IF NOT EXISTS samples_metric ON samples (cohort, metric, ts);
CREATE TABLE IF NOT EXISTS events (
    cohort TEXT NOT NULL, team TEXT NOT NULL, ts TEXT NOT NULL, kind TEXT NOT NULL,
    entity TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (cohort, team, ts, kind, entity)
);
"""


class Store:
    """One cohort's store. Writes are idempotent upserts, so re-collecting is safe."""

    def __init__(self, path: Path, cohort: str) -> None:
        self.path = path
        self.cohort = cohort
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @classmethod
    def for_cohort(cls, cohort_root: Path) -> Store:
        return cls(cohort_root / "telemetry.sqlite", cohort_root.name)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction (the simulator writes thousands per run)."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- writes ------------------------------------------------------------------------------
    def put_lifecycle(self, rows: Iterable[Lifecycle]) -> None:
        self._db.executemany(
            "INSERT INTO lifecycle VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (cohort, resource_id, start) DO UPDATE SET end=excluded.end, "
            "count=excluded.count, spot_price=COALESCE(excluded.spot_price, lifecycle.spot_price), "
            "attrs=excluded.attrs",
            [(self.cohort, r.team, r.resource_id, r.kind, r.region, iso(r.start), iso(r.end) if r.end else None,
              r.instance_type, r.market, None if r.spot_price is None else str(r.spot_price),
              None if r.gb is None else str(r.gb), r.count, r.availability_zone, r.pool, r.source,
              json.dumps(r.attrs, sort_keys=True)) for r in rows])

    def put_samples(self, rows: Iterable[Sample]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO samples VALUES (?,?,?,?,?,?,?,?)",
            [(self.cohort, s.team, iso(s.ts), s.metric, s.entity, float(s.value), s.source,
              json.dumps(s.attrs, sort_keys=True)) for s in rows])

    def put_events(self, rows: Iterable[Event]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?)",
            [(self.cohort, e.team, iso(e.ts), e.kind, e.entity, e.source, json.dumps(e.payload, sort_keys=True))
             for e in rows])

    # --- reads -------------------------------------------------------------------------------
    def lifecycle(self, team: str | None = None) -> list[Lifecycle]:
        q = "SELECT * FROM lifecycle WHERE cohort=?" + (" AND team=?" if team else "") + " ORDER BY team, start, resource_id"
        out = []
        for row in self._db.execute(q, (self.cohort, team) if team else (self.cohort,)):
            (_, t, rid, kind, region, start, end, itype, market, spot, gb, count, az, pool, source, attrs) = row
            out.append(Lifecycle(t, rid, kind, region, parse_iso(start), parse_iso(end) if end else None, source,
                                 itype, market, Decimal(spot) if spot else None, Decimal(gb) if gb else None,
                                 count, az, pool, json.loads(attrs)))
        return out

    def samples(self, metric: str | None = None, team: str | None = None) -> list[Sample]:
        """Samples of one metric and/or team; every row gets its own attrs dict."""
        return self._samples([metric] if metric else None, team, shared=False)

    def samples_bulk(self, metrics: Iterable[str] | None = None) -> list[Sample]:
        """The same rows as :meth:`samples` (optionally of several metrics at once), read fast for
        a whole class (a debrief reads ~10^5 rows): each distinct timestamp and attrs text is
        parsed once. Rows may share one attrs dict; treat it as read-only."""
        return self._samples(sorted(set(metrics)) if metrics is not None else None, None, shared=True)

    def _samples(self, metrics: list[str] | None, team: str | None, *, shared: bool) -> list[Sample]:
        q = "SELECT team, ts, metric, value, source, entity, attrs FROM samples WHERE cohort=?"
        args: list[Any] = [self.cohort]
        if metrics is not None:
            q += f" AND metric IN ({','.join('?' * len(metrics))})"
            args += metrics
        if team:
            q += " AND team=?"
            args.append(team)
        q += " ORDER BY team, ts, metric, entity"
        times: dict[str, datetime] = {}
        attrs: dict[str, dict[str, Any]] = {}
        out = []
        for t, ts, m, v, src, ent, a in self._db.execute(q, args):
            when = times.get(ts)
            if when is None:
                when = times[ts] = parse_iso(ts)
            if shared:
                extra = attrs.get(a)
                if extra is None:
                    extra = attrs[a] = json.loads(a)
            else:
                extra = json.loads(a)
            out.append(Sample(t, when, m, v, src, ent, extra))
        return out

    def events(self, kind: str | None = None, team: str | None = None) -> list[Event]:
        q = "SELECT team, ts, kind, source, entity, payload FROM events WHERE cohort=?"
        args: list[Any] = [self.cohort]
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if team:
            q += " AND team=?"
            args.append(team)
        q += " ORDER BY ts, team, kind, entity"
        return [Event(t, parse_iso(ts), k, src, ent, json.loads(p)) for t, ts, k, src, ent, p in self._db.execute(q, args)]

    def last_observation(self, team: str) -> datetime | None:
        """The latest sample or event time of a team (ISO strings in UTC sort as times)."""
        found = [row[0] for q in ("SELECT MAX(ts) FROM samples WHERE cohort=? AND team=?",
                                  "SELECT MAX(ts) FROM events WHERE cohort=? AND team=?")
                 for row in self._db.execute(q, (self.cohort, team)) if row[0]]
        return parse_iso(max(found)) if found else None

    def sources(self) -> set[str]:
        out: set[str] = set()
        for table in ("lifecycle", "samples", "events"):
            out |= {r[0] for r in self._db.execute(f"SELECT DISTINCT source FROM {table} WHERE cohort=?", (self.cohort,))}  # noqa: S608 - fixed names
        return out
