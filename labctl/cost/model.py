"""Typed inputs of the cost engine: what existed and when (lifecycle records), what ran on it
(workloads), and billed figures read back from a real account.

Telemetry collectors produce these records; the ledger, allocation and KPIs consume them. They are
frozen and carry only plain values (no SDK objects), so a debrief can be recomputed from them
alone. Money here is always ``Decimal``; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal

Kind = Literal["instance", "cluster", "volume", "bucket", "ipv4", "nat", "nat-data",
               "transfer-out", "transfer-cross-az", "kms-key"]
KINDS: tuple[str, ...] = ("instance", "cluster", "volume", "bucket", "ipv4", "nat", "nat-data",
                          "transfer-out", "transfer-cross-az", "kms-key")
Market = Literal["on-demand", "spot"]

METERED = "metered"   # computed by labctl from lifecycle x catalog
BILLED = "billed"     # read from the provider's billing (Cost Explorer)
SIMULATED = "simulated"   # computed by labctl from lifecycle rows the simulated class wrote

SIMULATED_SOURCES = frozenset({"simulator"})
BILLED_SOURCES = frozenset({"cost-explorer", "billing"})


def basis_of(sources: Iterable[str]) -> str:
    """What a figure is, from the sources of the rows behind it: simulated, metered or billed
    (``metered + simulated`` when a figure mixes both; ``none`` without rows). The debrief labels
    its figures and FOCUS fills ``x_CostBasis`` with this one function, so they agree."""
    kinds = set()
    for s in sources:
        kinds.add(SIMULATED if s in SIMULATED_SOURCES else BILLED if s in BILLED_SOURCES else METERED)
    if not kinds:
        return "none"
    return " + ".join(sorted(kinds))


def utc(value: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (an unknown zone is a wrong bill)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: lifecycle times must carry a time zone")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Usage:
    """One thing that existed for a period, as a collector saw it.

    ``count`` lets a collector record a node group's size (3 nodes from t0, then 1 from t1) when
    it does not track instances one by one. ``gb`` is the size for volume/bucket (GB held) and the
    amount moved for the per-GB kinds (spread evenly over [start, end)). For spot instances,
    ``spot_price_usd_per_hour`` is the price in force at launch; without it the ledger falls back
    to the catalog midpoint and says so.
    """

    team: str
    resource_id: str
    kind: str
    region: str
    start: datetime
    end: datetime | None
    instance_type: str | None = None
    market: str = "on-demand"
    spot_price_usd_per_hour: Decimal | None = None
    gb: Decimal | None = None
    count: int = 1
    availability_zone: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.resource_id}: unknown usage kind {self.kind!r}")
        if self.market not in ("on-demand", "spot"):
            raise ValueError(f"{self.resource_id}: market must be on-demand or spot, not {self.market!r}")
        if self.count < 0:
            raise ValueError(f"{self.resource_id}: count must not be negative")
        object.__setattr__(self, "start", utc(self.start))
        if self.end is not None:
            object.__setattr__(self, "end", utc(self.end))
            if self.end < self.start:
                raise ValueError(f"{self.resource_id}: ends before it starts")
        for name in ("spot_price_usd_per_hour", "gb"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or value < 0):
                raise ValueError(f"{self.resource_id}: {name} must be a non-negative Decimal")


@dataclass(frozen=True)
class Workload:
    """A pod or job that ran on one node for a period (OpenCost's allocation unit).

    Requests and average usage over [start, end): CPU in cores, RAM in GiB, GPUs as whole
    devices. ``gpu_engine_active`` is the mean DCGM_FI_PROF_GR_ENGINE_ACTIVE (0..1) over the
    period, None when not measured. ``run_id``/``completed`` tie it to a training run for KPIs.
    """

    workload_id: str
    team: str
    node_id: str
    start: datetime
    end: datetime
    cpu_request: Decimal = Decimal(0)
    cpu_usage: Decimal = Decimal(0)
    ram_request_gib: Decimal = Decimal(0)
    ram_usage_gib: Decimal = Decimal(0)
    gpu_request: int = 0
    gpu_engine_active: Decimal | None = None
    run_id: str | None = None
    completed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end < self.start:
            raise ValueError(f"{self.workload_id}: ends before it starts")
        if self.gpu_engine_active is not None and not (0 <= self.gpu_engine_active <= 1):
            raise ValueError(f"{self.workload_id}: gpu_engine_active must be within 0..1")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class BilledCost:
    """One Cost Explorer figure: an amount for a tag value over a period (billing, not metering)."""

    period_start: date
    period_end: date
    group: tuple[tuple[str, str], ...]      # ((tag key, value), ...) e.g. (("labctl:team", "t1"),)
    metric: str                             # e.g. "UnblendedCost"
    amount: Decimal
    unit: str
    estimated: bool
    basis: str = BILLED

    def tag(self, key: str) -> str | None:
        return next((v for k, v in self.group if k == key), None)
