"""Live AWS price and billing reads: the only place the cost engine touches boto3.

Owns: building the Price List ``GetProducts``, ``DescribeSpotPriceHistory`` and
``DescribeInstanceTypes`` requests (pure functions, tested as tables), turning their responses
into catalog rows with provenance, and reading Cost Explorer ``GetCostAndUsage`` grouped by the
cohort/team cost-allocation tags into typed :class:`~labctl.cost.model.BilledCost` figures
(:func:`billed_costs` for a target), and the spot price in force when an instance launched
(:func:`spot_price_at`, for telemetry). Raw SDK dicts do not leave this module.

The emulator (moto) answers DescribeSpotPriceHistory with a constant 0.00001 stamped 2006; that is
not a price and is rejected explicitly (:data:`EMULATOR_SPOT_SENTINEL`), as is anything older than
:data:`OLDEST_PLAUSIBLE_SPOT`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from labctl.cost.catalog import ON_DEMAND, SPOT, Catalog, Row
from labctl.cost.model import BilledCost
from labctl.errors import EnvironmentProblem, PricingError
from labctl.aws.session import AwsError, AwsTarget, aws_errors

# The Price List Query API has endpoints in these regions only.
PRICING_ENDPOINT_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
EMULATOR_SPOT_SENTINEL = Decimal("0.00001")
OLDEST_PLAUSIBLE_SPOT = datetime(2010, 1, 1, tzinfo=timezone.utc)

SOURCE_ON_DEMAND = "AWS Price List API pricing:GetProducts (AmazonEC2, {region})"
SOURCE_SPOT = "AWS EC2 DescribeSpotPriceHistory (Linux/UNIX, {region}, per-AZ range of {n} AZ)"
SOURCE_SPECS = "AWS EC2 DescribeInstanceTypes ({region})"




# --------------------------------------------------------------------------- request builders


def get_products_params(region: str, instance_type: str) -> dict[str, Any]:
    """GetProducts request for one Linux, shared-tenancy, on-demand instance type."""
    terms = {
        "regionCode": region, "instanceType": instance_type, "operatingSystem": "Linux",
        "preInstalledSw": "NA", "capacitystatus": "Used", "marketoption": "OnDemand",
        "tenancy": "Shared", "productFamily": "Compute Instance",
    }
    return {
        "ServiceCode": "AmazonEC2",
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


def spot_history_params(instance_types: Sequence[str], now: datetime) -> dict[str, Any]:
    return {"InstanceTypes": sorted(instance_types), "ProductDescriptions": ["Linux/UNIX"], "StartTime": now}


def instance_types_params(instance_types: Sequence[str]) -> dict[str, Any]:
    return {"InstanceTypes": sorted(instance_types)}


def cost_and_usage_params(start: date, end: date, *, granularity: str = "DAILY",
                          group_tags: Sequence[str] = ("labctl:cohort", "labctl:team"),
                          cohort: str | None = None, metric: str = "UnblendedCost") -> dict[str, Any]:
    params: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": granularity,
        "Metrics": [metric],
        "GroupBy": [{"Type": "TAG", "Key": k} for k in group_tags],
    }
    if cohort is not None:
        params["Filter"] = {"Tags": {"Key": "labctl:cohort", "Values": [cohort], "MatchOptions": ["EQUALS"]}}
    return params


# --------------------------------------------------------------------------- response parsers


def parse_on_demand(price_list: Iterable[str], region: str, instance_type: str, observed_at: date) -> Row | None:
    """The hourly USD price from GetProducts' PriceList (a list of JSON strings), as a catalog row."""
    found: set[Decimal] = set()
    for text in price_list:
        product = json.loads(text)
        attrs = (product.get("product") or {}).get("attributes") or {}
        if attrs.get("instanceType") not in (None, instance_type):
            continue
        for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
            for dim in (term.get("priceDimensions") or {}).values():
                if dim.get("unit") != "Hrs":
                    continue
                try:
                    value = Decimal(str((dim.get("pricePerUnit") or {}).get("USD")))
                except InvalidOperation:
                    continue
                if value > 0:   # $0 dimensions are reservation placeholders, not the price
                    found.add(value)
    if not found:
        return None
    if len(found) > 1:
        raise PricingError(f"{instance_type} in {region}: GetProducts returned several on-demand prices "
                           f"{sorted(str(v) for v in found)}; refine the filters")
    value = found.pop()
    return {"region": region, "instance_type": instance_type, "pricing_model": ON_DEMAND,
            "usd_per_hour": _plain(value), "usd_per_hour_low": "", "usd_per_hour_high": "", "offered": "yes",
            "source": SOURCE_ON_DEMAND.format(region=region), "observed_at": observed_at.isoformat(), "note": ""}


@dataclass(frozen=True)
class RejectedSpot:
    instance_type: str
    availability_zone: str
    price: str
    reason: str


def parse_spot(history: Iterable[dict[str, Any]], region: str, observed_at: date) -> tuple[list[Row], list[RejectedSpot]]:
    """Per type, the latest price per AZ -> one spot row with the AZ range (low..high)."""
    latest: dict[tuple[str, str], tuple[datetime, Decimal]] = {}
    rejected: list[RejectedSpot] = []
    for item in history:
        itype, az = item.get("InstanceType", ""), item.get("AvailabilityZone", "")
        text = str(item.get("SpotPrice", ""))
        stamp = _timestamp(item.get("Timestamp"))
        try:
            price = Decimal(text)
        except InvalidOperation:
            rejected.append(RejectedSpot(itype, az, text, "not a number"))
            continue
        if price == EMULATOR_SPOT_SENTINEL:
            rejected.append(RejectedSpot(itype, az, text, "the emulator's constant spot price, not a real price"))
            continue
        if price <= 0:
            rejected.append(RejectedSpot(itype, az, text, "not a positive price"))
            continue
        if stamp is None or stamp < OLDEST_PLAUSIBLE_SPOT:
            rejected.append(RejectedSpot(itype, az, text, f"timestamp {stamp} is implausibly old"))
            continue
        key = (itype, az)
        if key not in latest or stamp > latest[key][0]:
            latest[key] = (stamp, price)
    per_type: dict[str, list[Decimal]] = defaultdict(list)
    for (itype, _az), (_t, price) in latest.items():
        per_type[itype].append(price)
    rows = []
    for itype, prices in sorted(per_type.items()):
        rows.append({"region": region, "instance_type": itype, "pricing_model": SPOT, "usd_per_hour": "",
                     "usd_per_hour_low": _plain(min(prices)), "usd_per_hour_high": _plain(max(prices)),
                     "offered": "yes", "source": SOURCE_SPOT.format(region=region, n=len(prices)),
                     "observed_at": observed_at.isoformat(), "note": "per-AZ range of the price in force"})
    return rows, rejected


def parse_instance_types(records: Iterable[dict[str, Any]], region: str, observed_at: date) -> list[Row]:
    rows = []
    for r in records:
        gpus = ((r.get("GpuInfo") or {}).get("Gpus") or [{}])[0]
        mib = (r.get("MemoryInfo") or {}).get("SizeInMiB")
        rows.append({
            "instance_type": r["InstanceType"],
            "vcpu": str((r.get("VCpuInfo") or {}).get("DefaultVCpus", "")),
            "memory_gib": "" if mib is None else _plain(Decimal(mib) / 1024),
            "gpus": str(gpus.get("Count", 0)),
            "gpu_model": gpus.get("Name", "") or "",
            "gpu_memory_mib": str((gpus.get("MemoryInfo") or {}).get("SizeInMiB", "")),
            "source": SOURCE_SPECS.format(region=region), "observed_at": observed_at.isoformat(), "note": "",
        })
    return sorted(rows, key=lambda row: row["instance_type"])


def parse_cost_and_usage(pages: Iterable[dict[str, Any]], metric: str = "UnblendedCost") -> list[BilledCost]:
    out: list[BilledCost] = []
    for page in pages:
        for period in page.get("ResultsByTime") or ():
            start = date.fromisoformat(period["TimePeriod"]["Start"][:10])
            end = date.fromisoformat(period["TimePeriod"]["End"][:10])
            estimated = bool(period.get("Estimated", False))
            groups = period.get("Groups") or ()
            if not groups and (period.get("Total") or {}).get(metric):
                m = period["Total"][metric]
                out.append(BilledCost(start, end, (), metric, Decimal(m["Amount"]), m.get("Unit", "USD"), estimated))
            for g in groups:
                m = (g.get("Metrics") or {}).get(metric)
                if not m:
                    continue
                # Tag group keys come back as "key$value" ("labctl:team$" when untagged).
                keys = tuple(tuple(k.split("$", 1)) if "$" in k else (k, "") for k in g.get("Keys") or ())
                out.append(BilledCost(start, end, keys, metric, Decimal(m["Amount"]), m.get("Unit", "USD"),  # type: ignore[arg-type]
                                      estimated))
    return out


def _plain(x: Decimal) -> str:
    return format(x.normalize(), "f")


def _timestamp(value: Any) -> datetime | None:
    """boto3 gives datetimes; recorded shapes may hold strings with nanoseconds ('...05.999999999Z')."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", value.strip())
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    zone = m.group(3) or "Z"
    return datetime.fromisoformat(m.group(1) + frac + ("+00:00" if zone == "Z" else zone))


# --------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class RefreshResult:
    catalog: Catalog
    rows: dict[str, list[Row]]
    rejected_spot: tuple[RejectedSpot, ...]
    missing: tuple[str, ...]        # "<type> on-demand" etc. that the APIs did not price


def refresh_catalog(catalog: Catalog, region: str, instance_types: Sequence[str], *, pricing_client: Any,
                    ec2_client: Any, now: datetime) -> RefreshResult:
    """Query the three APIs for ``instance_types`` in ``region`` and merge the answers. A failed
    call is an :class:`~labctl.errors.AwsError` (botocore's errors do not leave aws/)."""
    with aws_errors("pricing", "refresh"):
        return _refresh_catalog(catalog, region, instance_types, pricing_client=pricing_client,
                                ec2_client=ec2_client, now=now)


def _refresh_catalog(catalog: Catalog, region: str, instance_types: Sequence[str], *, pricing_client: Any,
                     ec2_client: Any, now: datetime) -> RefreshResult:
    observed = now.astimezone(timezone.utc).date()
    od_rows: list[Row] = []
    missing: list[str] = []
    for itype in sorted(instance_types):
        texts: list[str] = []
        params = get_products_params(region, itype)
        while True:
            resp = pricing_client.get_products(**params)
            texts.extend(resp.get("PriceList") or ())
            token = resp.get("NextToken")
            if not token:
                break
            params = dict(params, NextToken=token)
        row = parse_on_demand(texts, region, itype, observed)
        if row is None:
            missing.append(f"{itype} on-demand")
        else:
            od_rows.append(row)

    history: list[dict[str, Any]] = []
    params = spot_history_params(instance_types, now)
    while True:
        resp = ec2_client.describe_spot_price_history(**params)
        history.extend(resp.get("SpotPriceHistory") or ())
        token = resp.get("NextToken")
        if not token:
            break
        params = dict(params, NextToken=token)
    spot_rows, rejected = parse_spot(history, region, observed)
    priced = {r["instance_type"] for r in spot_rows}
    missing.extend(f"{t} spot" for t in sorted(instance_types) if t not in priced)

    records: list[dict[str, Any]] = []
    params = instance_types_params(instance_types)
    while True:
        resp = ec2_client.describe_instance_types(**params)
        records.extend(resp.get("InstanceTypes") or ())
        token = resp.get("NextToken")
        if not token:
            break
        params = dict(params, NextToken=token)
    spec_rows = parse_instance_types(records, region, observed)

    merged = catalog.merged("instance_prices", od_rows + spot_rows).merged("instance_types", spec_rows)
    return RefreshResult(merged, {"instance_prices": od_rows + spot_rows, "instance_types": spec_rows},
                         tuple(rejected), tuple(missing))


def read_cost_and_usage(ce_client: Any, start: date, end: date, *, granularity: str = "DAILY",
                        group_tags: Sequence[str] = ("labctl:cohort", "labctl:team"), cohort: str | None = None,
                        metric: str = "UnblendedCost") -> list[BilledCost]:
    """Billed cost per tag value from Cost Explorer (hours to a day behind the ledger)."""
    params = cost_and_usage_params(start, end, granularity=granularity, group_tags=group_tags,
                                   cohort=cohort, metric=metric)
    pages = []
    while True:
        resp = ce_client.get_cost_and_usage(**params)
        pages.append(resp)
        token = resp.get("NextPageToken")
        if not token:
            break
        params = dict(params, NextPageToken=token)
    return parse_cost_and_usage(pages, metric)


def billed_costs(target: AwsTarget, start: date, end: date, *, cohort: str | None = None) -> list[BilledCost]:
    """:func:`read_cost_and_usage` on the target's Cost Explorer, botocore's errors mapped."""
    with aws_errors("ce", "GetCostAndUsage", emulator=target.fake_credentials):
        return read_cost_and_usage(target.client("ce"), start, end, cohort=cohort)


def spot_price_at(target: AwsTarget, instance_type: str, at: datetime, availability_zone: str | None) -> Decimal | None:
    """The Linux/UNIX spot price in force at ``at`` (DescribeSpotPriceHistory); None when AWS
    has none or will not say. Only real AWS has real spot prices (see the module docstring)."""
    try:
        with aws_errors("ec2", "DescribeSpotPriceHistory", emulator=target.fake_credentials):
            hist = target.client("ec2").describe_spot_price_history(
                InstanceTypes=[instance_type], ProductDescriptions=["Linux/UNIX"], StartTime=at, EndTime=at,
                **({"AvailabilityZone": availability_zone} if availability_zone else {}))
    except AwsError:
        return None
    prices = hist.get("SpotPriceHistory", [])
    return Decimal(prices[0]["SpotPrice"]) if prices else None


def make_clients(region: str, *, session: Any = None, endpoint_url: str | None = None) -> tuple[Any, Any]:
    """(pricing client, ec2 client) for a refresh; the pricing endpoint nearest to ``region``."""
    import boto3

    sess = session or boto3.session.Session()
    pricing_region = "eu-central-1" if region.startswith("eu-") else (
        "ap-south-1" if region.startswith("ap-") else "us-east-1")
    try:
        pricing = sess.client("pricing", region_name=pricing_region, endpoint_url=endpoint_url)
        ec2 = sess.client("ec2", region_name=region, endpoint_url=endpoint_url)
    except Exception as exc:  # noqa: BLE001 - botocore raises several unrelated types here
        raise EnvironmentProblem(f"cannot create AWS clients for {region}: {exc}") from exc
    return pricing, ec2
