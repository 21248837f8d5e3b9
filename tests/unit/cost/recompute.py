"""An auditor's arithmetic, independent of labctl's cost code: what each team paid and what each
node's idle GPUs cost, from the lifecycle rows and samples in the store and the prices in the
catalog's CSV files. Only ``csv``, ``Decimal`` and the published formulas (reference/pricing.md:
price x hours; GB-month / 730 h; OpenCost's default relative prices for the GPU share of a node);
nothing from labctl.cost, so a mistake there cannot hide here.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import labctl

CATALOG = Path(labctl.__file__).parent / "data" / "catalog"
HOURS_PER_MONTH = Decimal(730)
SERVICE_OF_KIND = {"cluster": "eks-cluster", "ipv4": "public-ipv4", "volume": "ebs-gp3", "bucket": "s3-standard",
                   "nat": "nat-gateway", "kms-key": "kms-key"}
# which source's rows count when several recorded one resource (the simulated class, a collector, `up`)
PRECEDENCE = ("simulator", "aws-api", "terraform")
# OpenCost's default relative prices, $ per unit-hour, used as split weights (reference/pricing.md)
CPU_W, RAM_W, GPU_W = Decimal("0.031611"), Decimal("0.004237"), Decimal("0.95")


def _read(name: str) -> list[dict[str, str]]:
    with (CATALOG / name).open(newline="") as f:
        return list(csv.DictReader(f))


def on_demand(region: str, itype: str) -> Decimal:
    for r in _read("instance_prices.csv"):
        if (r["region"], r["instance_type"], r["pricing_model"]) == (region, itype, "on-demand"):
            return Decimal(r["usd_per_hour"])
    raise KeyError((region, itype))


def service(region: str, name: str) -> tuple[str, Decimal]:
    for r in _read("services.csv"):
        if (r["region"], r["service"]) == (region, name):
            return r["unit"], Decimal(r["usd_per_unit"])
    raise KeyError((region, name))


def specs(itype: str) -> tuple[int, Decimal, int]:
    for r in _read("instance_types.csv"):
        if r["instance_type"] == itype:
            return int(r["vcpu"]), Decimal(r["memory_gib"]), int(r["gpus"] or 0)
    raise KeyError(itype)


def _hours(a: datetime, b: datetime) -> Decimal:
    return Decimal((b - a) // timedelta(microseconds=1)) / Decimal(3_600_000_000)


def chosen_rows(rows: Iterable) -> list:
    """One source per resource, as a bill counts a resource once."""
    by: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        by[(r.team, r.resource_id)].append(r)
    out = []
    for group in by.values():
        best = min(PRECEDENCE.index(r.source) if r.source in PRECEDENCE else 99 for r in group)
        out += [r for r in group if (PRECEDENCE.index(r.source) if r.source in PRECEDENCE else 99) == best]
    return out


def row_cost(r, start: datetime, as_of: datetime) -> Decimal:
    """Dollars of one lifecycle row over [start, as_of] (the session from its start)."""
    a, b = max(r.start, start), min(r.end or as_of, as_of)
    if b <= a:
        return Decimal(0)
    h = _hours(a, b) * r.count
    if r.kind == "instance":
        price = r.spot_price if r.market == "spot" and r.spot_price is not None else on_demand(r.region, r.instance_type)
        return price * h
    unit, price = service(r.region, SERVICE_OF_KIND[r.kind])
    if unit == "hour":
        return price * h
    assert unit == "GB-month"
    return (r.gb or Decimal(0)) * price * h / HOURS_PER_MONTH


def team_costs(rows: Iterable, start: datetime, as_of: datetime) -> dict[str, dict[str, Decimal]]:
    """team -> kind -> dollars."""
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in chosen_rows(rows):
        out[r.team][r.kind] += row_cost(r, start, as_of)
    return {t: dict(k) for t, k in out.items()}


def idle_gpu_per_node(rows: Sequence, samples: Iterable, start: datetime, as_of: datetime,
                      step: timedelta = timedelta(minutes=1)) -> dict[str, Decimal]:
    """instance id -> dollars of its GPUs that did no work: the node's GPU share of its cost (OpenCost
    weights) x (1 - GPU-hours busy / GPU-hours it had). Busy: each pod-level engine-active sample is
    one step of that pod's GPUs on the node the sample names, at the sampled activity."""
    instances = {r.resource_id: r for r in chosen_rows(rows) if r.kind == "instance"}
    node_id = {r.attrs.get("node"): r.resource_id for r in instances.values() if r.attrs.get("node")}
    busy: dict[str, Decimal] = defaultdict(Decimal)
    for s in samples:
        if s.metric != "DCGM_FI_PROF_GR_ENGINE_ACTIVE" or "node" not in s.attrs:
            continue
        busy[node_id.get(s.attrs["node"], s.attrs["node"])] += (Decimal(s.attrs.get("gpus", 1)) * _hours(s.ts, s.ts + step)
                                                               * Decimal(str(s.value)))
    out: dict[str, Decimal] = {}
    for rid, r in instances.items():
        vcpu, ram, gpus = specs(r.instance_type)
        if not gpus:
            continue
        a, b = max(r.start, start), min(r.end or as_of, as_of)
        cost = row_cost(r, start, as_of)
        gpu_share = cost * GPU_W * gpus / (CPU_W * vcpu + RAM_W * ram + GPU_W * gpus)
        capacity = gpus * _hours(a, b)
        out[rid] = gpu_share * (1 - busy.get(rid, Decimal(0)) / capacity) if capacity else Decimal(0)
    return out
