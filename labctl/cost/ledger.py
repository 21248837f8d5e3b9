"""The metered ledger: cost per minute per team and resource, from lifecycle records x catalog.

Everything the debrief shows is derived from this ledger. Each usage record becomes one
:class:`LedgerEntry` (its rate, price basis and total) and one :class:`LedgerLine` per minute it
touched. Costs are integer micro-dollars on the fixed grid of :mod:`labctl.cost.money`, so minute
lines add up exactly to entry totals, entries to teams, teams to the cohort, and splitting a period
into pieces never changes its total. A thing without a price becomes a :class:`LedgerWarning`
(with the unpriced hours) and no lines: never a silent zero; so does a priced item with no usage
at all (:func:`unmetered`: a team's nodes without its EKS control plane, or an item of the team's
Terraform state that nothing recorded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from labctl.cost import catalog as cat
from labctl.cost.catalog import Catalog
from labctl.cost.items import NODE_PUBLIC_IPV4, TeamItems
from labctl.cost.model import METERED, Usage, utc
from labctl.cost.money import Rate, to_us, usd
from labctl.cost.pricing import PriceBasis, Resolved, instance_price, service_price

MINUTE = timedelta(minutes=1)

# kind -> catalog service for the non-instance kinds
_SERVICE_OF_KIND = {
    "cluster": cat.EKS_CLUSTER,
    "volume": cat.EBS_GP3,
    "bucket": cat.S3_STANDARD,
    "ipv4": cat.PUBLIC_IPV4,
    "nat": cat.NAT_GATEWAY,
    "nat-data": cat.NAT_GATEWAY_DATA,
    "transfer-out": cat.DATA_TRANSFER_OUT,
    "transfer-cross-az": cat.DATA_TRANSFER_CROSS_AZ,
    "kms-key": cat.KMS_KEY,
}


@dataclass(frozen=True, slots=True)
class LedgerWarning:
    team: str
    resource_id: str
    message: str
    unpriced_hours: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One usage record, priced: ``cost_micros`` = rate x (end - start) on the grid."""

    usage: Usage
    start: datetime
    end: datetime
    basis: PriceBasis
    rate: Rate                  # $/h for the whole record (count and GB included)
    quantity: Decimal           # what the unit price multiplies: node-hours, GB-months or GB
    cost_micros: int

    @property
    def team(self) -> str:
        return self.usage.team

    @property
    def resource_id(self) -> str:
        return self.usage.resource_id

    @property
    def hours(self) -> Decimal:
        return Decimal(to_us(self.end) - to_us(self.start)) / Decimal(3_600_000_000)

    def explain(self) -> str:
        """How a reader recomputes this figure from the catalog and the lifecycle."""
        u = self.usage
        what = f"{u.count} x " if u.count != 1 else ""
        if self.basis.unit == "hour":
            calc = f"{what}{self.hours:.6f} h x ${self.basis.unit_price}/h"
        elif self.basis.unit == "GB-month":
            calc = (f"{what}{u.gb} GB x ${self.basis.unit_price}/GB-month x {self.hours:.6f} h"
                    f" / {cat.HOURS_PER_MONTH} h")
        else:
            calc = f"{what}{u.gb} GB x ${self.basis.unit_price}/GB"
        when = self.basis.observed_at.isoformat() if self.basis.observed_at else "launch"
        return f"{calc} = ${usd(self.cost_micros)} ({self.basis.how}: {self.basis.source}, {when})"


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """The cost of one entry within one minute (or other resolution step)."""

    entry: LedgerEntry
    minute: datetime            # start of the step (UTC)
    start: datetime             # the part of the step the resource existed
    end: datetime
    cost_micros: int

    @property
    def team(self) -> str:
        return self.entry.usage.team

    @property
    def resource_id(self) -> str:
        return self.entry.usage.resource_id


@dataclass(frozen=True)
class Ledger:
    entries: tuple[LedgerEntry, ...]
    lines: tuple[LedgerLine, ...]
    warnings: tuple[LedgerWarning, ...]
    as_of: datetime
    resolution: timedelta = MINUTE
    basis: str = METERED
    # The grid's origin in µs since the epoch. The debrief puts it at the session's start, so the
    # same class (same seed) gives the same micro-dollars whatever day or minute it ran.
    origin_us: int = 0

    def total_micros(self) -> int:
        return sum(e.cost_micros for e in self.entries)

    def total(self) -> Decimal:
        return usd(self.total_micros())

    def by_team(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for e in self.entries:
            out[e.usage.team] += e.cost_micros
        return dict(sorted(out.items()))

    def by_resource(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = defaultdict(int)
        for e in self.entries:
            out[(e.usage.team, e.usage.resource_id)] += e.cost_micros
        return dict(sorted(out.items()))

    def per_minute(self, team: str | None = None) -> dict[datetime, int]:
        out: dict[datetime, int] = defaultdict(int)
        for line in self.lines:
            if team is None or line.entry.usage.team == team:
                out[line.minute] += line.cost_micros
        return dict(sorted(out.items()))

    def teams(self) -> list[str]:
        return sorted({e.usage.team for e in self.entries} | {w.team for w in self.warnings})


def _floor(t: datetime, step: timedelta) -> datetime:
    step_us = step // timedelta(microseconds=1)
    t_us = to_us(t)
    return t - timedelta(microseconds=t_us % step_us)


def _resolve(usage: Usage, catalog: Catalog) -> Resolved:
    if usage.kind == "instance":
        if not usage.instance_type:
            return Resolved(None, "instance without an instance type")
        return instance_price(catalog, usage.region, usage.instance_type, usage.market,
                              usage.spot_price_usd_per_hour,
                              recorded_source=f"spot price recorded at launch ({usage.source})" if usage.source else "")
    return service_price(catalog, _SERVICE_OF_KIND[usage.kind], usage.region)


def _rate(usage: Usage, basis: PriceBasis, start: datetime, end: datetime) -> tuple[Rate, Decimal] | str:
    """The record's $/h and the quantity the unit price multiplies, or why there is none."""
    count = Fraction(usage.count)
    hours = Fraction(to_us(end) - to_us(start), 3_600_000_000)
    price = Fraction(basis.unit_price)
    if basis.unit == "hour":
        return Rate(price * count), Decimal(usage.count) * Decimal(hours.numerator) / Decimal(hours.denominator)
    if usage.gb is None:
        return f"{usage.kind} priced per {basis.unit} but the record has no gb"
    gb = Fraction(usage.gb)
    if basis.unit == "GB-month":
        months = hours / Fraction(cat.HOURS_PER_MONTH)
        qty = gb * count * months
        return (Rate(price * gb * count / Fraction(cat.HOURS_PER_MONTH)),
                Decimal(qty.numerator) / Decimal(qty.denominator))
    # per-GB: the amount moved is spread evenly over the period it was measured in
    if hours == 0:
        return "per-GB usage over a zero-length period cannot be placed in time"
    return Rate(price * gb * count / hours), usage.gb * usage.count


def build_ledger(usages: Iterable[Usage], catalog: Catalog, *, as_of: datetime,
                 resolution: timedelta = MINUTE, origin: datetime | None = None) -> Ledger:
    """Price every usage record and cut it into ``resolution`` steps (default one minute).

    Records still running (``end`` None) are costed up to ``as_of``; records starting after
    ``as_of`` are ignored. Spot without a launch price uses the catalog midpoint and warns.
    """
    as_of = utc(as_of)
    if resolution <= timedelta(0) or timedelta(hours=1) % resolution:
        raise ValueError("resolution must divide an hour")
    entries: list[LedgerEntry] = []
    lines: list[LedgerLine] = []
    warnings: list[LedgerWarning] = []
    resolved_cache: dict[tuple[str, str, str | None, str, Decimal | None], Resolved] = {}
    step_us = resolution // timedelta(microseconds=1)
    o_us = to_us(utc(origin)) if origin is not None else 0

    seen: list[Usage] = []
    for usage in usages:
        seen.append(usage)
        start = usage.start
        end = usage.end if usage.end is not None else as_of
        end = min(end, as_of)
        if end <= start or usage.count == 0:
            continue
        key = (usage.kind, usage.region, usage.instance_type, usage.market, usage.spot_price_usd_per_hour)
        resolved = resolved_cache.get(key)
        if resolved is None:
            resolved = resolved_cache[key] = _resolve(usage, catalog)
        hours = Decimal(to_us(end) - to_us(start)) / Decimal(3_600_000_000) * usage.count
        if resolved.basis is None:
            warnings.append(LedgerWarning(usage.team, usage.resource_id,
                                          f"unpriced: {resolved.warning}", hours))
            continue
        if resolved.warning:
            warnings.append(LedgerWarning(usage.team, usage.resource_id, resolved.warning))
        rated = _rate(usage, resolved.basis, start, end)
        if isinstance(rated, str):
            warnings.append(LedgerWarning(usage.team, usage.resource_id, f"unpriced: {rated}", hours))
            continue
        rate, quantity = rated
        entry = LedgerEntry(usage, start, end, resolved.basis, rate, quantity, rate.cost_micros(start, end, o_us))
        entries.append(entry)

        # Cut into steps on the UTC grid; each step's cost is F(b) - F(a), so steps sum to the entry.
        s_us, e_us = to_us(start), to_us(end)
        first = s_us - s_us % step_us
        t = first
        prev_grid = rate.grid(s_us - o_us)
        step_start = _floor(start, resolution)
        piece_start = start
        while t < e_us:
            nxt = t + step_us
            piece_end_us = min(nxt, e_us)
            g = rate.grid(piece_end_us - o_us)
            piece_end = end if piece_end_us == e_us else step_start + resolution
            lines.append(LedgerLine(entry, step_start, piece_start, piece_end, g - prev_grid))
            prev_grid = g
            piece_start = piece_end
            step_start = step_start + resolution
            t = nxt

    warnings += unmetered(seen)
    return Ledger(tuple(entries), tuple(lines), tuple(warnings), as_of, resolution, origin_us=o_us)


def unmetered(usages: Iterable[Usage], expected: Mapping[str, TeamItems] | None = None) -> list[LedgerWarning]:
    """Priced items with no usage, as warnings (never a silent zero).

    Always: a team whose nodes ran with no EKS control plane recorded (nodes imply a cluster, and
    its fee is hourly). With ``expected`` (team -> line items of its Terraform state, labctl.cost
    .items): every standing item with no usage record, and every node without the public IPv4
    address its subnet gives it."""
    by_team: dict[str, list[Usage]] = defaultdict(list)
    for u in usages:
        by_team[u.team].append(u)
    out: list[LedgerWarning] = []
    for team in sorted(set(by_team) | set(expected or {})):
        mine = by_team.get(team, [])
        kinds = {u.kind for u in mine}
        ids = {u.resource_id for u in mine}
        if "instance" in kinds and "cluster" not in kinds:
            out.append(LedgerWarning(team, "(EKS control plane)", "unmetered: the team's nodes ran but no EKS "
                                     "control plane was recorded, so its hourly fee is missing from this ledger"))
        items = (expected or {}).get(team)
        if items is None:
            continue
        for item in items.standing:
            if item.resource_id and item.resource_id not in ids:
                out.append(LedgerWarning(team, item.resource_id, f"unmetered: {item.address} ({item.kind}) is in the "
                                         "team's Terraform state but has no recorded usage"))
        if items.public_node_ipv4:
            for u in mine:
                if u.kind == "instance" and u.resource_id + NODE_PUBLIC_IPV4 not in ids:
                    out.append(LedgerWarning(team, u.resource_id, "unmetered: the node's public IPv4 address "
                                             "(public subnet, no NAT gateway) has no recorded usage"))
    return out
