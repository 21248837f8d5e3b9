"""Which catalog price applies to a thing: one resolver shared by the estimate and the ledger,
so a pre-deploy estimate and the metered ledger can never price the same thing differently.

Each answer is a :class:`PriceBasis` (unit price, unit, provenance and how it was chosen) or,
when nothing applies, a warning text; never a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from labctl.cost.catalog import ON_DEMAND, SPOT, Catalog

RECORDED = "recorded at launch"


@dataclass(frozen=True, slots=True)
class PriceBasis:
    """A unit price with its provenance: what a reader needs to recompute a ledger line."""

    unit_price: Decimal        # dollars per ``unit``
    unit: str                  # "hour" | "GB-month" | "GB"
    source: str
    observed_at: date | None   # None only for a price recorded at launch by a collector
    sku: str                   # e.g. "g5.xlarge spot", "eks-cluster"
    how: str = "catalog"       # "catalog" | "recorded at launch" | "catalog midpoint" | "derived"

    @property
    def is_fallback(self) -> bool:
        return self.how not in ("catalog", RECORDED)


@dataclass(frozen=True, slots=True)
class Resolved:
    basis: PriceBasis | None
    warning: str | None = None


def instance_price(catalog: Catalog, region: str, instance_type: str, market: str,
                   recorded: Decimal | None = None, *, recorded_source: str = "") -> Resolved:
    """Hourly price of one instance.

    Spot: the price recorded at launch when given; else the catalog's per-AZ midpoint (warned);
    else on-demand x (1 - Advisor savings %) (warned, marked derived); else unknown.
    """
    sku = f"{instance_type} {market}"
    if market == SPOT and recorded is not None:
        return Resolved(PriceBasis(recorded, "hour", recorded_source or "spot price recorded at launch",
                                   None, sku, RECORDED))
    info = catalog.instance(region, instance_type)
    if info is None:
        return Resolved(None, f"{instance_type} in {region}: not in the price catalog")
    if info.offered is False:
        return Resolved(None, f"{instance_type} is not offered in {region} (catalog)")
    if market == ON_DEMAND:
        if info.on_demand is None:
            return Resolved(None, f"{instance_type} on-demand in {region}: no price in the catalog")
        p = info.on_demand
        return Resolved(PriceBasis(p.usd_per_hour, "hour", p.source, p.observed_at, sku))
    if market != SPOT:
        return Resolved(None, f"{instance_type}: unknown market {market!r}")
    if info.spot is not None:
        p = info.spot
        if p.is_range:
            return Resolved(
                PriceBasis(p.usd_per_hour, "hour", p.source, p.observed_at, sku, "catalog midpoint"),
                f"{instance_type} spot in {region}: no launch price recorded; using the catalog midpoint "
                f"${p.usd_per_hour} of the AZ range ${p.low}-${p.high}",
            )
        return Resolved(PriceBasis(p.usd_per_hour, "hour", p.source, p.observed_at, sku))
    if info.on_demand is not None and info.spot_savings_pct is not None and info.advisor is not None:
        derived = info.on_demand.usd_per_hour * (100 - info.spot_savings_pct) / 100
        source = f"{info.on_demand.source}; savings {info.spot_savings_pct}% from {info.advisor.source}"
        return Resolved(
            PriceBasis(derived, "hour", source, min(info.on_demand.observed_at, info.advisor.observed_at), sku, "derived"),
            f"{instance_type} spot in {region}: no spot price in the catalog; derived ${derived} from on-demand "
            f"${info.on_demand.usd_per_hour} less the Advisor's {info.spot_savings_pct}% savings",
        )
    return Resolved(None, f"{instance_type} spot in {region}: no spot price in the catalog")


def service_price(catalog: Catalog, service: str, region: str) -> Resolved:
    sp = catalog.service(service, region)
    if sp is None:
        return Resolved(None, f"{service} in {region}: no price in the catalog")
    return Resolved(PriceBasis(sp.usd_per_unit, sp.unit, sp.source, sp.observed_at, service))
