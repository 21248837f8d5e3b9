"""The simulated EC2 market: spot interruptions, the spot price at launch, capacity shortages.

Interruption rate. The Spot Instance Advisor gives, per region and type, a band of "frequency of
interruption": the share of spot instances of that type AWS interrupted over the trailing month.
The lab maps each band to one percentage (``simulation.spot.interruption_band_monthly_pct``;
default the band midpoints, '>20%' read as 25%) and this module turns it into a constant hazard per
running spot node: ``rate_per_hour = -ln(1 - pct/100) / 730 * interruption_multiplier`` (730 h is
AWS's month). So at the defaults a g5.xlarge (>20%) is interrupted with probability ~0.16% in a
4-hour class: faithful, rare; a facilitator who wants one scheduled uses a drill. A type with no
Advisor band is never interrupted by the hazard (reported), only by drills.

Spot price at launch: uniform over the catalog's per-AZ range (low..high) for the region, drawn from
the team's seeded generator, rounded to 1/10000 $; without a range the catalog's spot price; with no
spot figure at all, None (the ledger then falls back and warns). On-demand instances carry no price
here: the ledger takes it from the catalog.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from labctl.cost.catalog import Catalog
from labctl.spec.models import SimDrill, Simulation, parse_duration

HOURS_PER_MONTH = 730.0


def hourly_rate(band: str | None, sim: Simulation) -> float:
    if band is None:
        return 0.0
    pct = sim.spot.interruption_band_monthly_pct.get(band)
    if pct is None:
        return 0.0
    return -math.log(1 - min(pct, 99.999) / 100) / HOURS_PER_MONTH * sim.spot.interruption_multiplier


def draw_interruption_after(rng: random.Random, rate_per_hour: float) -> float | None:
    """Seconds from launch until the interruption notice, or None (never, within any class)."""
    if rate_per_hour <= 0:
        return None
    return rng.expovariate(rate_per_hour) * 3600


def spot_price_at_launch(catalog: Catalog, region: str, instance_type: str, rng: random.Random) -> Decimal | None:
    info = catalog.instance(region, instance_type)
    if info is None or info.spot is None:
        return None
    if info.spot.is_range and info.spot.low is not None and info.spot.high is not None:
        low, high = info.spot.low, info.spot.high
        return (low + (high - low) * Decimal(str(round(rng.random(), 6)))).quantize(Decimal("0.0001"))
    return info.spot.usd_per_hour


@dataclass(frozen=True)
class Shortage:
    start: float
    end: float
    instance_type: str | None
    capacity_type: str


def shortages(sim: Simulation) -> list[Shortage]:
    return [Shortage(parse_duration(d.at).total_seconds(),
                     (parse_duration(d.at) + parse_duration(d.duration)).total_seconds(),
                     d.instance_type, d.capacity_type)
            for d in sim.drills if d.kind == "shortage"]


def interrupt_drills(sim: Simulation) -> list[tuple[float, SimDrill]]:
    return sorted(((parse_duration(d.at).total_seconds(), d) for d in sim.drills if d.kind == "interrupt"),
                  key=lambda x: (x[0], x[1].pool))


def in_shortage(items: list[Shortage], t: float, instance_type: str, capacity_type: str) -> bool:
    return any(s.start <= t < s.end and s.capacity_type == capacity_type
               and (s.instance_type is None or s.instance_type == instance_type) for s in items)


_BAND_ORDER = {"<5%": 0, "5-10%": 1, "10-15%": 2, "15-20%": 3, ">20%": 4}


def launch_order(catalog: Catalog, region: str, instance_types: tuple[str, ...], capacity_type: str,
                 strategy: str) -> list[str]:
    """The order an EC2 fleet tries a node group's types in.

    On-demand node groups launch their first type (EKS: the ASG's mixed-instances policy with
    'prioritized'); spot groups use ``strategy``: capacity-optimized takes the lowest interruption
    band first (the pools with most spare capacity; the Advisor band is our only proxy), then the
    lowest price; lowest-price takes the cheapest spot price first.
    """
    if capacity_type != "SPOT":
        return list(instance_types)

    def price(t: str) -> Decimal:
        info = catalog.instance(region, t)
        p = info.spot.usd_per_hour if info and info.spot else (info.on_demand.usd_per_hour if info and info.on_demand else None)
        return p if p is not None else Decimal("1e9")

    def band(t: str) -> int:
        info = catalog.instance(region, t)
        return _BAND_ORDER.get(info.interruption_band or "", 5) if info else 5

    if strategy == "lowest-price":
        return sorted(instance_types, key=lambda t: (price(t), instance_types.index(t)))
    return sorted(instance_types, key=lambda t: (band(t), price(t), instance_types.index(t)))
