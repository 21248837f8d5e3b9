"""FOCUS 1.2 export of the metered ledger: CSV, and Parquet with FOCUS's column types.

Owns the mapping from ledger entries to FOCUS 1.2 rows: all 57 columns in the specification's
order, then the workshop's own columns prefixed ``x_`` (FOCUS requires custom columns to follow
its own). Rows are one per resource per hour by default (the ledger's minutes grouped exactly).

Choices, where FOCUS leaves room:
- The figures are metered by labctl, not billed: BilledCost = EffectiveCost = ContractedCost = the
  ledger cost. ``x_CostBasis`` labels each row as the debrief labels its figures
  (labctl.cost.model.basis_of of the row's source: ``simulated`` for rows the simulated class
  wrote, ``metered`` for collected ones; ``billed`` for a ledger of Cost Explorer figures).
- SkuId is a stable id of the catalog entry that priced the row (``<service>/<region>/<sku>``, e.g.
  ``AmazonEC2/us-east-1/g5.xlarge/spot``); SkuPriceId adds the price and where it came from
  (``...@2026-07-20/1.006`` for a catalog price of that date, ``...@launch/0.4383`` for a spot
  price recorded at launch), so neither is ever null on a Usage row.
- Spot is PricingCategory ``Dynamic``; everything else is ``Standard``. For spot, ListUnitPrice and
  ListCost are the on-demand price and cost when the catalog knows it (as AWS's own exports show the
  public on-demand cost), so ListCost - EffectiveCost is the spot saving; else the spot price.
- Timestamps are UTC ISO 8601 with a ``Z``; the billing period is the calendar month.

Parquet (:func:`write_parquet`, pyarrow): Decimal columns are decimal128(38, 12), Date/Time columns
timestamps in UTC, String and JSON columns strings, empty values null, ``x_CostMicroUSD`` int64.
FinOps tools ingest FOCUS as Parquet; the CSV carries the same rows as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from labctl.cost.catalog import ON_DEMAND, SPOT, Catalog
from labctl.cost.ledger import Ledger, LedgerEntry
from labctl.cost.model import BILLED, basis_of
from labctl.cost.money import Rate, to_us, usd
from labctl.cost.pricing import instance_price

FOCUS_COLUMNS: tuple[str, ...] = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "CapacityReservationId",
    "CapacityReservationStatus", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountQuantity", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName",
    "ListCost", "ListUnitPrice", "PricingCategory", "PricingCurrency",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName",
    "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
    "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName",
    "SubAccountType", "Tags",
)
X_COLUMNS: tuple[str, ...] = (
    "x_Cohort", "x_Team", "x_Lab", "x_Source", "x_CostBasis", "x_CostMicroUSD", "x_Market",
    "x_InstanceType", "x_UsageKind", "x_PriceSource", "x_PriceObservedAt", "x_PriceHow",
)
COLUMNS = FOCUS_COLUMNS + X_COLUMNS

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-2": "US West (Oregon)",
    "eu-central-1": "Europe (Frankfurt)", "eu-west-1": "Europe (Ireland)", "ap-south-1": "Asia Pacific (Mumbai)",
}

# kind -> (ServiceName, ServiceCategory, ServiceSubcategory, ResourceType, unit label)
_SERVICE = {
    "instance": ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "Instance"),
    "cluster": ("Amazon Elastic Kubernetes Service", "Compute", "Containers", "Cluster"),
    "volume": ("Amazon Elastic Block Store", "Storage", "Block Storage", "Volume"),
    "bucket": ("Amazon Simple Storage Service", "Storage", "Object Storage", "Bucket"),
    "ipv4": ("Amazon Virtual Private Cloud", "Networking", "Other (Networking)", "Public IPv4 Address"),
    "nat": ("Amazon Virtual Private Cloud", "Networking", "Other (Networking)", "NAT Gateway"),
    "nat-data": ("Amazon Virtual Private Cloud", "Networking", "Data Transfer", "NAT Gateway"),
    "transfer-out": ("AWS Data Transfer", "Networking", "Data Transfer", "Data Transfer"),
    "transfer-cross-az": ("AWS Data Transfer", "Networking", "Data Transfer", "Data Transfer"),
    "kms-key": ("AWS Key Management Service", "Security", "Other (Security)", "KMS Key"),
}
_UNIT = {"hour": "Hours", "GB-month": "GB-Mo", "GB": "GB"}
_SERVICE_CODE = {"instance": "AmazonEC2", "cluster": "AmazonEKS", "volume": "AmazonEC2", "bucket": "AmazonS3",
                 "ipv4": "AmazonVPC", "nat": "AmazonEC2", "nat-data": "AmazonEC2", "transfer-out": "AWSDataTransfer",
                 "transfer-cross-az": "AWSDataTransfer", "kms-key": "awskms"}

# FOCUS 1.2 column types (reference/focus-1.2.md); every other FOCUS column is a String (or JSON).
DECIMAL_COLUMNS = frozenset({
    "BilledCost", "CommitmentDiscountQuantity", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice",
    "EffectiveCost", "ListCost", "ListUnitPrice", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "PricingQuantity"})
DATETIME_COLUMNS = frozenset({"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"})
INTEGER_COLUMNS = frozenset({"x_CostMicroUSD"})


def sku_ids(e: LedgerEntry) -> tuple[str, str]:
    """(SkuId, SkuPriceId) of a ledger entry: the catalog entry, and the price it gave."""
    u = e.usage
    sku = e.basis.sku.replace(" ", "/")
    sku_id = f"{_SERVICE_CODE[u.kind]}/{u.region}/{sku}"
    when = e.basis.observed_at.isoformat() if e.basis.observed_at else "launch"
    price = format(e.basis.unit_price.normalize(), "f")
    how = "" if e.basis.how in ("catalog", "recorded at launch") else f"/{e.basis.how.replace(' ', '-')}"
    return sku_id, f"{sku_id}@{when}/{price}{how}"


@dataclass(frozen=True)
class FocusContext:
    """Fields that come from the cohort, not from the ledger."""

    cohort: str
    lab: str = ""
    billing_account_id: str = "000000000000"
    billing_account_name: str = ""
    billing_account_type: str = "Account"
    provider: str = "AWS"
    sub_account_id: str | None = None
    # Per-team accounts (cohort field accounts): each team's rows carry its own account.
    sub_accounts: Mapping[str, str] = field(default_factory=dict)


def _ts(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(t: datetime) -> tuple[datetime, datetime]:
    start = t.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _dec(x: Decimal) -> str:
    text = format(x.normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass
class _Piece:
    entry: LedgerEntry
    start: datetime
    end: datetime
    cost: int


def _pieces(ledger: Ledger, granularity: str) -> list[_Piece]:
    if granularity == "entry":
        return [_Piece(e, e.start, e.end, e.cost_micros) for e in ledger.entries]
    if granularity not in ("hour", "minute"):
        raise ValueError("granularity must be entry, hour or minute")
    grouped: OrderedDict[tuple[int, datetime], _Piece] = OrderedDict()
    for line in ledger.lines:
        bucket = line.minute if granularity == "minute" else line.minute.replace(minute=0, second=0, microsecond=0)
        key = (id(line.entry), bucket)
        p = grouped.get(key)
        if p is None:
            grouped[key] = _Piece(line.entry, line.start, line.end, line.cost_micros)
        else:
            p.end, p.cost = line.end, p.cost + line.cost_micros
    return list(grouped.values())


def focus_rows(ledger: Ledger, ctx: FocusContext, catalog: Catalog | None = None, *,
               granularity: str = "hour") -> list[dict[str, str]]:
    """FOCUS 1.2 rows (all values as strings; empty string = null), sorted by period and resource."""
    list_prices = _ListPrices(catalog, ledger.origin_us)
    rows = [_row(p, ledger, ctx, list_prices) for p in _pieces(ledger, granularity)]
    rows.sort(key=lambda r: (r["ChargePeriodStart"], r["x_Team"], r["ResourceId"], r["ChargePeriodEnd"]))
    return rows


class _ListPrices:
    """ListUnitPrice and ListCost of a piece: for spot, the on-demand price and cost when the
    catalog knows it (as AWS's own exports show the public on-demand cost); else the price paid."""

    def __init__(self, catalog: Catalog | None, origin_us: int) -> None:
        self.catalog, self.origin_us = catalog, origin_us
        self._on_demand: dict[tuple[str, str], Decimal | None] = {}

    def on_demand(self, catalog: Catalog, region: str, instance_type: str) -> Decimal | None:
        k = (region, instance_type)
        if k not in self._on_demand:
            r = instance_price(catalog, region, instance_type, ON_DEMAND)
            self._on_demand[k] = r.basis.unit_price if r.basis else None
        return self._on_demand[k]

    def of(self, p: _Piece) -> tuple[Decimal, Decimal]:
        u = p.entry.usage
        if u.kind == "instance" and u.market == SPOT and self.catalog is not None:
            od = self.on_demand(self.catalog, u.region, u.instance_type or "")
            if od is not None:
                return od, usd(Rate(od * u.count).cost_micros(p.start, p.end, self.origin_us))
        return p.entry.basis.unit_price, usd(p.cost)


def _row(p: _Piece, ledger: Ledger, ctx: FocusContext, list_prices: _ListPrices) -> dict[str, str]:
    """One piece of a ledger entry as a FOCUS row, in COLUMNS order."""
    row = {**_account_columns(p, ctx), **_charge_columns(p), **_cost_columns(p, list_prices),
           **_resource_columns(p, ctx), **_workshop_columns(p, ledger, ctx)}
    return {c: str(row.get(c, "")) for c in COLUMNS}


def _account_columns(p: _Piece, ctx: FocusContext) -> dict[str, str]:
    """Who is billed and by whom (the team's own account when it has one), and the billing period (the month)."""
    bp_start, bp_end = _month(p.start)
    team = p.entry.usage.team
    return {
        "BillingAccountId": ctx.billing_account_id,
        "BillingAccountName": ctx.billing_account_name,
        "BillingAccountType": ctx.billing_account_type,
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _ts(bp_end),
        "BillingPeriodStart": _ts(bp_start),
        "InvoiceIssuerName": ctx.provider,
        "ProviderName": ctx.provider,
        "PublisherName": ctx.provider,
        "SubAccountId": ctx.sub_accounts.get(team) or ctx.sub_account_id or "",
    }


def _charge_columns(p: _Piece) -> dict[str, str]:
    """What the charge is and the period it covers."""
    e, u = p.entry, p.entry.usage
    what = f"{u.count} x {e.basis.sku}" if u.count != 1 else e.basis.sku
    return {
        "ChargeCategory": "Usage",
        "ChargeDescription": f"{what} ({_SERVICE[u.kind][0]})",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _ts(p.end),
        "ChargePeriodStart": _ts(p.start),
    }


def _cost_columns(p: _Piece, list_prices: _ListPrices) -> dict[str, str]:
    """Costs, unit prices and quantities: metered, so billed = effective = contracted = the ledger's cost."""
    e, u = p.entry, p.entry.usage
    entry_us = max(to_us(e.end) - to_us(e.start), 1)
    quantity = e.quantity * Decimal(to_us(p.end) - to_us(p.start)) / Decimal(entry_us)
    cost = usd(p.cost)
    list_price, list_cost = list_prices.of(p)
    unit = _UNIT[e.basis.unit]
    return {
        "BilledCost": _dec(cost),
        "ConsumedQuantity": _dec(quantity),
        "ConsumedUnit": unit,
        "ContractedCost": _dec(cost),
        "ContractedUnitPrice": _dec(e.basis.unit_price),
        "EffectiveCost": _dec(cost),
        "ListCost": _dec(list_cost),
        "ListUnitPrice": _dec(list_price),
        "PricingCategory": "Dynamic" if u.kind == "instance" and u.market == SPOT else "Standard",
        "PricingCurrency": "USD",
        "PricingCurrencyContractedUnitPrice": _dec(e.basis.unit_price),
        "PricingCurrencyEffectiveCost": _dec(cost),
        "PricingCurrencyListUnitPrice": _dec(list_price),
        "PricingQuantity": _dec(quantity),
        "PricingUnit": unit,
    }


def _resource_columns(p: _Piece, ctx: FocusContext) -> dict[str, str]:
    """The resource, its region and service, the catalog entry (SKU) that priced it, its tags."""
    e, u = p.entry, p.entry.usage
    service, category, subcategory, rtype = _SERVICE[u.kind]
    tags = {"labctl:cohort": ctx.cohort, "labctl:team": u.team}
    if ctx.lab:
        tags["labctl:lab"] = ctx.lab
    sku_id, sku_price_id = sku_ids(e)
    return {
        "AvailabilityZone": u.availability_zone or "",
        "RegionId": u.region,
        "RegionName": REGION_NAMES.get(u.region, ""),
        "ResourceId": u.resource_id,
        "ResourceName": u.resource_id,
        "ResourceType": rtype,
        "ServiceCategory": category,
        "ServiceName": service,
        "ServiceSubcategory": subcategory,
        "SkuId": sku_id,
        "SkuMeter": e.basis.sku,
        "SkuPriceDetails": "",
        "SkuPriceId": sku_price_id,
        "Tags": json.dumps(tags, sort_keys=True, separators=(",", ":")),
    }


def _workshop_columns(p: _Piece, ledger: Ledger, ctx: FocusContext) -> dict[str, str]:
    """The x_ columns: cohort, team and lab, the row's basis, exact micro-dollars, and the price's provenance."""
    e, u = p.entry, p.entry.usage
    return {
        "x_Cohort": ctx.cohort,
        "x_Team": u.team,
        "x_Lab": ctx.lab,
        "x_Source": u.source,
        "x_CostBasis": BILLED if ledger.basis == BILLED else basis_of([u.source]),
        "x_CostMicroUSD": str(p.cost),
        "x_Market": u.market if u.kind == "instance" else "",
        "x_InstanceType": u.instance_type or "",
        "x_UsageKind": u.kind,
        "x_PriceSource": e.basis.source,
        "x_PriceObservedAt": e.basis.observed_at.isoformat() if e.basis.observed_at else "",
        "x_PriceHow": e.basis.how,
    }


def write_csv(rows: Iterable[Mapping[str, str]], columns: tuple[str, ...] = COLUMNS) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return buf.getvalue()


def focus_csv(ledger: Ledger, ctx: FocusContext, catalog: Catalog | None = None, *, granularity: str = "hour") -> str:
    return write_csv(focus_rows(ledger, ctx, catalog, granularity=granularity))


def write_parquet(rows: Iterable[Mapping[str, str]], path: Any, columns: tuple[str, ...] = COLUMNS) -> None:
    """The rows of :func:`focus_rows` as a Parquet file with FOCUS's column types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from decimal import ROUND_HALF_EVEN

    rows = list(rows)
    places = Decimal(1).scaleb(-12)

    def typed(column: str) -> tuple[Any, list[Any]]:
        raw = [r.get(column, "") for r in rows]
        if column in DECIMAL_COLUMNS:
            return pa.decimal128(38, 12), [Decimal(v).quantize(places, rounding=ROUND_HALF_EVEN) if v else None
                                          for v in raw]
        if column in DATETIME_COLUMNS:
            return pa.timestamp("s", tz="UTC"), [datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                                                 if v else None for v in raw]
        if column in INTEGER_COLUMNS:
            return pa.int64(), [int(v) if v else None for v in raw]
        return pa.string(), [v if v != "" else None for v in raw]

    arrays, fields = [], []
    for c in columns:
        kind, values = typed(c)
        arrays.append(pa.array(values, type=kind))
        fields.append(pa.field(c, kind))
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path)
