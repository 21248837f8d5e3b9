"""`labctl collect`: one pass (or one every N seconds) of every configured collector into the
cohort's store. Incremental and restart-safe (the store upserts; see labctl.telemetry.collectors).

What runs: the AWS inventory collector always (the cohort's recorded target: emulator, LocalStack
or AWS); a cluster collector per team whose cluster is handed in; a DCGM collector per metrics URL
(``--metrics-url``, or ``metrics_urls`` in the cohort's meta.json).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from labctl.aws.session import AwsTarget
from labctl.ops.down import resolve_cohort_id
from labctl.state import StateDir, now
from labctl.telemetry.collectors import AwsInventoryCollector, ClusterCollector, DcgmCollector, write
from labctl.telemetry.store import Store


@dataclass
class CollectReport:
    cohort: str
    at: str
    written: dict[str, dict[str, int]] = field(default_factory=dict)     # collector -> counts
    unreadable: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_once(state_dir: Path, cohort_ref: str | Path, *, target: AwsTarget | None = None,
                 clusters: Mapping[str, Any] | None = None, metrics_urls: Sequence[str] = (),
                 at: datetime | None = None) -> CollectReport:
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    at = at or now()
    teams = list(meta.get("all_teams", [])) or cs.teams_with_state()
    if target is None:
        from labctl.ops.target import connect_recorded

        target = connect_recorded(meta, state_dir, start_emulator=False).aws()
    collectors: list[tuple[str, Any]] = [("aws", AwsInventoryCollector(target, cohort_id, teams))]
    for team, cluster in sorted((clusters or {}).items()):
        collectors.append((f"cluster:{team}", ClusterCollector(team, cluster)))
    for url in list(metrics_urls) + list(meta.get("metrics_urls", [])):
        collectors.append((f"dcgm:{url}", DcgmCollector(url)))
    report = CollectReport(cohort_id, at.isoformat())
    with Store.for_cohort(cs.root) as store:
        for name, c in collectors:
            p = c.collect(store, at)
            write(store, p)
            report.written[name] = p.counts()
            report.unreadable += p.unreadable
    return report


def collect_loop(state_dir: Path, cohort_ref: str | Path, every_s: float, *, stop: threading.Event | None = None,
                 on_pass: Callable[[CollectReport], None] = lambda r: None, **kw: Any) -> int:
    """Collect every ``every_s`` seconds until ``stop`` is set (Ctrl-C in the CLI); returns passes."""
    stop = stop or threading.Event()
    passes = 0
    while not stop.is_set():
        on_pass(collect_once(state_dir, cohort_ref, **kw))
        passes += 1
        stop.wait(every_s)
    return passes
