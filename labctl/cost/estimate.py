"""Pre-deploy estimates: what a team's Terraform plan will cost over the session window.

Three separate steps, as infracost does it: plan attributes -> typed resource facts (here, in
``_node_group`` and friends), facts + session hours -> cost components (pure), prices from one
resolver (:mod:`labctl.cost.pricing`, shared with the ledger). Node groups are priced at their
min, desired and max size (the autoscaler's bounds); everything for the session's hours, never a
730-hour month. A component whose price is unknown is a warning and has no cost (never a silent
zero); a component whose price is known but whose quantity depends on use (S3 GB stored, NAT GB
processed) is listed as usage-based unless the caller supplies the quantity.

Which resources are priced while they exist, and which items come with every node (root volume,
public IPv4), is :mod:`labctl.cost.items`: the same model the lifecycle recording at `up`/`down`
and in the simulated class follows, so the estimate and the metered ledger count the same things.

Amounts are Decimal dollars rounded half-even to the micro-dollar per component.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from labctl.cost import catalog as cat
from labctl.cost.catalog import ON_DEMAND, SPOT, Catalog
from labctl.cost.items import STANDING, public_nodes
from labctl.cost.money import fmt_usd
from labctl.cost.plan import Plan, PlannedResource
from labctl.cost.pricing import PriceBasis, Resolved, instance_price, service_price

_MICRO = Decimal("0.000001")
EKS_DEFAULT_DISK_GIB = 20   # aws_eks_node_group disk_size default when no launch template is used

# Resource types with no standing (hourly or per-GB-month) charge, and why. Anything not here and
# not priced below is reported as a warning, so a new resource type can never slip in at $0.
NO_STANDING_CHARGE: Mapping[str, str] = {
    "aws_budgets_budget": "budgets without actions have no charge",
    "aws_sns_topic": "charged per publish/delivery, not per hour",
    "aws_sns_topic_subscription": "charged per delivery, not per hour",
    "aws_sns_topic_policy": "configuration only",
    "aws_scheduler_schedule": "charged per invocation, not per hour",
    "aws_scheduler_schedule_group": "configuration only",
    "aws_vpc": "no charge for the VPC itself",
    "aws_subnet": "no charge for subnets",
    "aws_internet_gateway": "no charge for the gateway (traffic is data transfer)",
    "aws_route_table": "no charge",
    "aws_route_table_association": "no charge",
    "aws_route": "no charge",
    "aws_default_route_table": "no charge",
    "aws_default_security_group": "no charge",
    "aws_default_network_acl": "no charge",
    "aws_security_group": "no charge",
    "aws_security_group_rule": "no charge",
    "aws_vpc_security_group_ingress_rule": "no charge",
    "aws_vpc_security_group_egress_rule": "no charge",
    "aws_launch_template": "priced through the node group that uses it",
    "aws_eks_addon": "no charge for the add-on itself (its pods run on priced nodes)",
    "aws_eks_access_entry": "no charge",
    "aws_eks_access_policy_association": "no charge",
    "aws_s3_bucket_versioning": "configuration only",
    "aws_s3_bucket_lifecycle_configuration": "configuration only",
    "aws_s3_bucket_public_access_block": "configuration only",
    "aws_s3_bucket_server_side_encryption_configuration": "configuration only",
    "aws_s3_bucket_ownership_controls": "configuration only",
    "aws_s3_bucket_policy": "configuration only",
    "aws_s3_bucket_tagging": "configuration only",
    "aws_cloudwatch_event_rule": "charged per event, not per hour",
    "aws_cloudwatch_event_target": "configuration only",
    "aws_resourcegroups_group": "no charge",
    "aws_autoscaling_group_tag": "configuration only",
}
NO_STANDING_CHARGE_PREFIXES = ("aws_iam_",)   # IAM is free


@dataclass(frozen=True)
class EstimateUsage:
    """Quantities a plan cannot know; None means 'not given' (the component stays usage-based)."""

    s3_gb_per_bucket: Decimal | None = None
    nat_gb: Decimal | None = None


@dataclass(frozen=True)
class CostComponent:
    """One priced part of one resource over the session, at the min/desired/max size."""

    address: str
    part: str                     # stable within a resource: "nodes", "volumes", "ipv4", "fee", ...
    label: str                    # e.g. "3 x g5.xlarge spot nodes"
    unit: str                     # "hour" | "GB-month" | "GB"
    basis: PriceBasis | None
    quantity: tuple[Decimal, Decimal, Decimal] | None      # in ``unit`` over the session
    cost: tuple[Decimal, Decimal, Decimal] | None          # dollars at min, desired, max
    facts: Mapping[str, Any] = field(default_factory=dict)  # what a diff compares
    usage_based: bool = False

    @property
    def key(self) -> str:
        return f"{self.address}#{self.part}"

    @property
    def desired(self) -> Decimal | None:
        return self.cost[1] if self.cost else None


@dataclass(frozen=True)
class EstimateWarning:
    address: str
    message: str


@dataclass(frozen=True)
class Estimate:
    team: str
    region: str
    hours: Decimal
    components: tuple[CostComponent, ...]
    warnings: tuple[EstimateWarning, ...]
    free: tuple[tuple[str, str], ...]         # (address, why it has no standing charge)

    def total(self) -> tuple[Decimal, Decimal, Decimal]:
        lo = mid = hi = Decimal(0)
        for c in self.components:
            if c.cost:
                lo, mid, hi = lo + c.cost[0], mid + c.cost[1], hi + c.cost[2]
        return lo, mid, hi


@dataclass(frozen=True)
class CohortEstimate:
    teams: Mapping[str, Estimate]

    def total(self) -> tuple[Decimal, Decimal, Decimal]:
        lo = mid = hi = Decimal(0)
        for e in self.teams.values():
            a, b, c = e.total()
            lo, mid, hi = lo + a, mid + b, hi + c
        return lo, mid, hi

    @property
    def warnings(self) -> list[tuple[str, EstimateWarning]]:
        return [(t, w) for t, e in self.teams.items() for w in e.warnings]


def _q(x: Decimal) -> Decimal:
    return x.quantize(_MICRO, rounding=ROUND_HALF_EVEN)


def _triple(f: Any, counts: tuple[int, int, int]) -> tuple[Decimal, Decimal, Decimal]:
    return (f(counts[0]), f(counts[1]), f(counts[2]))


def _hourly(address: str, part: str, label: str, resolved: Resolved, counts: tuple[int, int, int],
            hours: Decimal, facts: Mapping[str, Any], warnings: list[EstimateWarning]) -> CostComponent:
    if resolved.warning:
        warnings.append(EstimateWarning(address, resolved.warning))
    qty = _triple(lambda n: Decimal(n) * hours, counts)
    basis = resolved.basis
    cost = None if basis is None else _triple(lambda n: _q(Decimal(n) * hours * basis.unit_price), counts)
    return CostComponent(address, part, label, "hour", basis, qty, cost, dict(facts))


def _gb_month(address: str, part: str, label: str, resolved: Resolved, gb_each: Decimal,
              counts: tuple[int, int, int], hours: Decimal, facts: Mapping[str, Any],
              warnings: list[EstimateWarning]) -> CostComponent:
    if resolved.warning:
        warnings.append(EstimateWarning(address, resolved.warning))
    qty = _triple(lambda n: Decimal(n) * gb_each * hours / cat.HOURS_PER_MONTH, counts)
    basis = resolved.basis
    cost = None if basis is None else _triple(
        lambda n: _q(Decimal(n) * gb_each * basis.unit_price * hours / cat.HOURS_PER_MONTH), counts)
    return CostComponent(address, part, label, "GB-month", basis, qty, cost, dict(facts))


def _usage_based(address: str, part: str, label: str, resolved: Resolved, gb: Decimal | None,
                 per_month: bool, hours: Decimal, warnings: list[EstimateWarning]) -> CostComponent:
    if resolved.warning:
        warnings.append(EstimateWarning(address, resolved.warning))
    basis = resolved.basis
    unit = "GB-month" if per_month else "GB"
    if gb is None or basis is None:
        return CostComponent(address, part, label, unit, basis, None, None, {}, usage_based=True)
    q = gb * hours / cat.HOURS_PER_MONTH if per_month else gb
    c = _q(q * basis.unit_price)
    return CostComponent(address, part, label, unit, basis, (q, q, q), (c, c, c), {"gb": str(gb)}, usage_based=True)


def _launch_template_for(plan: Plan, ng: PlannedResource) -> PlannedResource | None:
    """The node group's launch template: by name when known at plan time, else by reference."""
    templates = plan.of_type("aws_launch_template")
    name = ng.get("launch_template", 0, "name")
    if name:
        for lt in templates:
            if lt.get("name") == name:
                return lt
    for attr in ("id", "name"):
        for ref in plan.references(ng, "launch_template", attr):
            for lt in templates:
                if lt.module_address == ng.module_address and ref in (lt.config_address, f"{lt.config_address}.{attr}"):
                    return lt
    return None


def _node_group(plan: Plan, ng: PlannedResource, region: str, hours: Decimal, catalog: Catalog,
                warnings: list[EstimateWarning]) -> list[CostComponent]:
    comps: list[CostComponent] = []
    capacity = (ng.get("capacity_type") or "ON_DEMAND").upper()
    market = SPOT if capacity == "SPOT" else ON_DEMAND
    lt = _launch_template_for(plan, ng)
    types = list(ng.get("instance_types") or ())
    if not types and lt is not None and lt.get("instance_type"):
        types = [lt.get("instance_type")]
    sc = ng.get("scaling_config", 0) or {}
    lo, hi = sc.get("min_size"), sc.get("max_size")
    desired = sc.get("desired_size")
    if lo is None or hi is None:
        warnings.append(EstimateWarning(ng.address, "scaling_config min/max size unknown at plan time; node cost not estimated"))
        return comps
    if desired is None:
        desired = lo
    counts = (int(lo), int(desired), int(hi))
    if not types:
        why = "unknown until apply" if ng.is_unknown("instance_types") else "not set"
        warnings.append(EstimateWarning(ng.address, f"instance type {why}; node cost not estimated"))
        return comps

    # On-demand: EKS launches the first listed type (prioritized). Spot: the allocation strategy
    # may pick any listed type, so the dearest one is used (an upper bound) and the rest named.
    resolutions = [(t, instance_price(catalog, region, t, market)) for t in types]
    if market == ON_DEMAND:
        itype, resolved = resolutions[0]
    else:
        priced = [(t, r) for t, r in resolutions if r.basis is not None]
        itype, resolved = max(priced, key=lambda tr: tr[1].basis.unit_price) if priced else resolutions[0]  # type: ignore[union-attr]
    others = [t for t in types if t != itype]
    label = f"{itype} {market} nodes" + (f" (dearest of {', '.join(types)})" if others else "")
    facts = {"market": market, "instance_type": itype, "instance_types": tuple(types),
             "min": counts[0], "desired": counts[1], "max": counts[2]}
    comps.append(_hourly(ng.address, "nodes", label, resolved, counts, hours, facts, warnings))

    # Root volumes
    if lt is not None:
        size = lt.get("block_device_mappings", 0, "ebs", 0, "volume_size")
        vtype = lt.get("block_device_mappings", 0, "ebs", 0, "volume_type") or "gp3"
    elif ng.get("launch_template", 0):
        size, vtype = None, "gp3"
    else:
        size, vtype = ng.get("disk_size") or EKS_DEFAULT_DISK_GIB, "gp3"
    if size is None:
        warnings.append(EstimateWarning(ng.address, "root volume size unknown (launch template not found in the plan); volumes not estimated"))
    elif vtype != "gp3":
        warnings.append(EstimateWarning(ng.address, f"EBS {vtype} root volumes: no price in the catalog; volumes not estimated"))
    else:
        comps.append(_gb_month(ng.address, "volumes", f"{size} GiB gp3 root volume per node",
                               service_price(catalog, cat.EBS_GP3, region), Decimal(size), counts, hours,
                               {"volume_gb": size, "volume_type": vtype}, warnings))
    if public_nodes(plan):
        comps.append(_hourly(ng.address, "ipv4", "public IPv4 address per node",
                             service_price(catalog, cat.PUBLIC_IPV4, region), counts, hours, {}, warnings))
    return comps


def _instance(r: PlannedResource, region: str, hours: Decimal, catalog: Catalog,
              warnings: list[EstimateWarning]) -> list[CostComponent]:
    itype = r.get("instance_type")
    if not itype:
        warnings.append(EstimateWarning(r.address, "instance type unknown; not estimated"))
        return []
    market = SPOT if r.get("instance_market_options", 0, "market_type") == "spot" else ON_DEMAND
    return [_hourly(r.address, "instance", f"{itype} {market} instance", instance_price(catalog, region, itype, market),
                    (1, 1, 1), hours, {"market": market, "instance_type": itype, "min": 1, "desired": 1, "max": 1}, warnings)]


def estimate_plan(plan_json: Mapping[str, Any], region: str, hours: Decimal, catalog: Catalog, *,
                  team: str | None = None, usage: EstimateUsage | None = None) -> Estimate:
    """Price one team's plan for a session of ``hours``.

    ``team`` defaults to the ``labctl:team`` tag found on the plan's resources (``tags_all``).
    """
    hours = Decimal(hours)
    if hours < 0:
        raise ValueError("session hours must not be negative")
    usage = usage or EstimateUsage()
    plan = Plan(plan_json)
    comps: list[CostComponent] = []
    warnings: list[EstimateWarning] = []
    free: list[tuple[str, str]] = []
    for r in plan:
        if r.actions == ("delete",):
            continue
        t = r.type
        rule = STANDING.get(t)
        if t in ("aws_eks_cluster", "aws_eip", "aws_kms_key") and rule is not None:   # hourly while it exists
            comps.append(_hourly(r.address, rule.part, rule.label, service_price(catalog, rule.service, region),
                                 (1, 1, 1), hours, {}, warnings))
        elif t == "aws_eks_node_group":
            comps.extend(_node_group(plan, r, region, hours, catalog, warnings))
        elif t == "aws_instance":
            comps.extend(_instance(r, region, hours, catalog, warnings))
        elif t == "aws_s3_bucket" and rule is not None:
            comps.append(_usage_based(r.address, rule.part, rule.label,
                                      service_price(catalog, rule.service, region), usage.s3_gb_per_bucket,
                                      True, hours, warnings))
        elif t == "aws_nat_gateway" and rule is not None:
            comps.append(_hourly(r.address, rule.part, rule.label, service_price(catalog, rule.service, region),
                                 (1, 1, 1), hours, {}, warnings))
            comps.append(_usage_based(r.address, "data", "NAT data processed",
                                      service_price(catalog, cat.NAT_GATEWAY_DATA, region), usage.nat_gb,
                                      False, hours, warnings))
        elif t == "aws_ebs_volume":
            size, vtype = r.get("size"), r.get("type") or "gp3"
            if size is None or vtype != "gp3":
                warnings.append(EstimateWarning(r.address, f"EBS {vtype} volume of size {size}: not estimated"))
            else:
                comps.append(_gb_month(r.address, "volume", f"{size} GiB gp3 volume", service_price(catalog, cat.EBS_GP3, region),
                                       Decimal(size), (1, 1, 1), hours, {}, warnings))
        elif t in NO_STANDING_CHARGE:
            free.append((r.address, NO_STANDING_CHARGE[t]))
        elif t.startswith(NO_STANDING_CHARGE_PREFIXES):
            free.append((r.address, "IAM has no charge"))
        else:
            warnings.append(EstimateWarning(r.address, f"no pricing rule for {t}; not estimated"))
    return Estimate(team or _team_of(plan) or "", region, hours, tuple(comps), tuple(warnings), tuple(free))


def _team_of(plan: Plan) -> str | None:
    for r in plan:
        tags = r.get("tags_all") or r.get("tags") or {}
        if "labctl:team" in tags:
            return str(tags["labctl:team"])
    return None


def estimate_cohort(plans: Mapping[str, Mapping[str, Any]], region: str, hours: Decimal, catalog: Catalog, *,
                    usage: EstimateUsage | None = None) -> CohortEstimate:
    """One estimate per team (team name -> its plan document)."""
    return CohortEstimate({t: estimate_plan(p, region, hours, catalog, team=t, usage=usage)
                           for t, p in sorted(plans.items())})


# --------------------------------------------------------------------------- diffs


@dataclass(frozen=True)
class CostChange:
    key: str
    address: str
    part: str
    old: Decimal | None        # desired-size cost over the session; None = absent or unpriced
    new: Decimal | None
    description: str

    @property
    def delta(self) -> Decimal | None:
        if self.old is None and self.new is None:
            return None
        return (self.new or Decimal(0)) - (self.old or Decimal(0))


def _describe(old: CostComponent | None, new: CostComponent | None) -> str:
    if old is None and new is not None:
        return f"new {new.label}"
    if new is None and old is not None:
        return f"removed {old.label}"
    assert old is not None and new is not None
    parts: list[str] = []
    fo, fn = old.facts, new.facts
    if fo.get("market") != fn.get("market") and fn.get("market"):
        parts.append("spot pool instead of on-demand" if fn.get("market") == SPOT else "on-demand instead of spot pool")
    if fo.get("instance_type") != fn.get("instance_type") and fn.get("instance_type"):
        parts.append(f"{fn.get('instance_type')} instead of {fo.get('instance_type')}")
    for k in ("min", "desired", "max"):
        if k in fo and k in fn and fo[k] != fn[k]:
            parts.append(f"{k} {fn[k]} instead of {fo[k]}")
    if fo.get("volume_gb") != fn.get("volume_gb") and "volume_gb" in fn:
        parts.append(f"{fn['volume_gb']} GiB instead of {fo.get('volume_gb')}")
    if old.basis and new.basis and old.basis.unit_price != new.basis.unit_price and not parts:
        parts.append(f"price ${new.basis.unit_price} instead of ${old.basis.unit_price}")
    return ", ".join(parts) or new.label


def diff_estimates(old: Estimate, new: Estimate) -> list[CostChange]:
    """What changed between two estimates of one team, by resource part, at the desired size."""
    before = {c.key: c for c in old.components}
    after = {c.key: c for c in new.components}
    out: list[CostChange] = []
    for key in sorted(set(before) | set(after)):
        o, n = before.get(key), after.get(key)
        if o is not None and n is not None and o.cost == n.cost and o.facts == n.facts:
            continue
        ref = n or o
        assert ref is not None
        out.append(CostChange(key, ref.address, ref.part, o.desired if o else None, n.desired if n else None,
                              _describe(o, n)))
    return out


def _hours_text(hours: Decimal) -> str:
    return f"{hours.normalize():f} h"


def render_diff(changes: Iterable[CostChange], hours: Decimal) -> str:
    """'module.t.aws_eks_node_group.gpu_spot: spot pool instead of on-demand: −$2.27 over the session (4 h)'."""
    lines: list[str] = []
    total = Decimal(0)
    for ch in changes:
        d = ch.delta
        if d is None:
            lines.append(f"{ch.address}: {ch.description}: price unknown (see warnings)")
            continue
        total += d
        lines.append(f"{ch.address}: {ch.description}: {fmt_usd(d, signed=True)} over the session ({_hours_text(hours)})")
    if lines:
        lines.append(f"net change: {fmt_usd(total, signed=True)} over the session ({_hours_text(hours)})")
    return "\n".join(lines)


def render_estimate(est: Estimate) -> str:
    lo, mid, hi = est.total()
    head = f"team {est.team or '?'} in {est.region}, {_hours_text(est.hours)} session"
    names = [f"{c.address} {c.label}" for c in est.components]
    w = max([len(n) for n in names] + [len("component")])
    lines = [head, f"{'component':<{w}} {'min':>10} {'desired':>10} {'max':>10}"]
    for c, name in zip(est.components, names, strict=True):
        if c.cost:
            lines.append(f"{name:<{w}} {fmt_usd(c.cost[0]):>10} {fmt_usd(c.cost[1]):>10} {fmt_usd(c.cost[2]):>10}")
        elif c.usage_based and c.basis is not None:
            lines.append(f"{name:<{w}} depends on use: ${c.basis.unit_price} per {c.unit}")
        else:
            lines.append(f"{name:<{w}} {'unpriced':>10}")
    lines.append(f"{'total':<{w}} {fmt_usd(lo):>10} {fmt_usd(mid):>10} {fmt_usd(hi):>10}")
    for w in est.warnings:
        lines.append(f"warning: {w.address}: {w.message}")
    return "\n".join(lines)
