"""The price catalog: every price, spec and benchmark figure the cost engine uses, with provenance.

This module owns reading, validating, looking up and writing the catalog files under
``labctl/data/catalog/``. It does no I/O beyond those files and knows nothing of AWS's APIs
(the refresh adapter in ``labctl.aws.pricing`` produces rows; this module merges and writes them).

Format: five CSV files, one fact per row, each row with its own ``source`` and ``observed_at``.

- ``instance_types.csv``  specs (vCPU, GiB, GPU count/model/MiB), region-independent
- ``instance_prices.csv`` $/h per region, type and pricing model (on-demand price; spot per-AZ range)
- ``spot_advisor.csv``    Spot Instance Advisor savings % and interruption band per region and type
- ``services.csv``        EKS, EBS, S3, NAT, public IPv4 and data-transfer unit prices per region
- ``gpu_throughput.csv``  relative GPU training throughput figures for the job-duration model

Why CSV rather than YAML: one row is one fact with one provenance, so a refresh shows up in review
as changed lines and nothing else; prices stay exact decimal strings (YAML would read ``0.10`` as a
float unless every value were quoted); the files open in a spreadsheet for a facilitator; and the
standard library reads and writes them. Why several files rather than one wide table: specs,
prices and Advisor figures come from different sources on different dates, and a single wide row
would need one provenance per cell. Rows are written sorted by their key columns with a fixed
column order and ``\\n`` line ends, so writing an unchanged catalog is byte-identical.

Unknown values are empty cells (``None`` here), never guesses: a missing price makes the
estimate and the ledger emit a visible warning.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from labctl.errors import CatalogError
from labctl.resources import package_data_dir

ON_DEMAND = "on-demand"
SPOT = "spot"
PRICING_MODELS = (ON_DEMAND, SPOT)

# Service names used in services.csv and by the estimate and the ledger.
EKS_CLUSTER = "eks-cluster"
EKS_CLUSTER_EXTENDED = "eks-cluster-extended-support"
EBS_GP3 = "ebs-gp3"
S3_STANDARD = "s3-standard"
NAT_GATEWAY = "nat-gateway"
NAT_GATEWAY_DATA = "nat-gateway-data"
PUBLIC_IPV4 = "public-ipv4"
KMS_KEY = "kms-key"
DATA_TRANSFER_OUT = "data-transfer-out"
DATA_TRANSFER_CROSS_AZ = "data-transfer-cross-az"

UNITS = ("hour", "GB-month", "GB")
# AWS prorates per-GB-month storage with a 730-hour month in its own pricing examples; used only
# to turn a monthly rate into an hourly one, never as a session length.
HOURS_PER_MONTH = Decimal(730)

INTERRUPTION_BANDS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")




# --------------------------------------------------------------------------- typed view


@dataclass(frozen=True)
class Provenance:
    source: str
    observed_at: date
    note: str = ""


@dataclass(frozen=True)
class Price:
    """An hourly price and where it came from.

    For spot, ``usd_per_hour`` is the midpoint of the per-AZ range ``low``..``high`` and is only a
    fallback: the ledger prefers the spot price recorded at an instance's launch.
    """

    usd_per_hour: Decimal
    source: str
    observed_at: date
    low: Decimal | None = None
    high: Decimal | None = None
    note: str = ""

    @property
    def is_range(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class InstanceType:
    region: str
    instance_type: str
    vcpu: int | None
    memory_gib: Decimal | None
    gpus: int | None
    gpu_model: str | None
    gpu_memory_mib: int | None
    on_demand: Price | None
    spot: Price | None
    spot_savings_pct: Decimal | None
    interruption_band: str | None
    offered: bool | None = None        # False where a source says "not offered in this region"
    spec: Provenance | None = None
    advisor: Provenance | None = None


@dataclass(frozen=True)
class ServicePrice:
    service: str
    region: str
    unit: str                           # "hour" | "GB-month" | "GB"
    usd_per_unit: Decimal
    source: str
    observed_at: date
    note: str = ""


@dataclass(frozen=True)
class ThroughputFigure:
    benchmark: str
    value: Decimal
    unit: str
    source: str
    observed_at: date
    note: str = ""


@dataclass(frozen=True)
class GpuThroughput:
    """Benchmark figures for one GPU part, as its sources name it (A10 is not A10G)."""

    gpu_model: str
    ec2_gpu_model: str | None
    figures: tuple[ThroughputFigure, ...]

    def figure(self, benchmark: str) -> ThroughputFigure | None:
        return next((f for f in self.figures if f.benchmark == benchmark), None)


# --------------------------------------------------------------------------- files and columns


@dataclass(frozen=True)
class _Table:
    filename: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


TABLES: dict[str, _Table] = {
    "instance_types": _Table(
        "instance_types.csv",
        ("instance_type", "vcpu", "memory_gib", "gpus", "gpu_model", "gpu_memory_mib", "source", "observed_at", "note"),
        ("instance_type",),
    ),
    "instance_prices": _Table(
        "instance_prices.csv",
        ("region", "instance_type", "pricing_model", "usd_per_hour", "usd_per_hour_low", "usd_per_hour_high",
         "offered", "source", "observed_at", "note"),
        ("region", "instance_type", "pricing_model"),
    ),
    "spot_advisor": _Table(
        "spot_advisor.csv",
        ("region", "instance_type", "savings_pct", "interruption_band", "source", "observed_at", "note"),
        ("region", "instance_type"),
    ),
    "services": _Table(
        "services.csv",
        ("region", "service", "unit", "usd_per_unit", "source", "observed_at", "note"),
        ("region", "service"),
    ),
    "gpu_throughput": _Table(
        "gpu_throughput.csv",
        ("gpu_model", "ec2_gpu_model", "benchmark", "value", "unit", "source", "observed_at", "note"),
        ("gpu_model", "benchmark"),
    ),
}

Row = dict[str, str]


def default_catalog_dir() -> Path:
    return package_data_dir() / "catalog"


# --------------------------------------------------------------------------- parsing helpers


class _Cell:
    """Parses one row's cells, raising CatalogError that points at file:line:column."""

    def __init__(self, filename: str, line: int, row: Row) -> None:
        self.filename, self.line, self.row = filename, line, row

    def fail(self, column: str, message: str) -> CatalogError:
        return CatalogError(f"{self.filename}:{self.line}: {column}: {message}")

    def text(self, column: str) -> str | None:
        value = (self.row.get(column) or "").strip()
        return value or None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise self.fail(column, "must not be empty")
        return value

    def decimal(self, column: str) -> Decimal | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.fail(column, f"not a decimal number: {value!r}") from None
        if not number.is_finite() or number < 0:
            raise self.fail(column, f"must be a finite, non-negative number: {value!r}")
        return number

    def integer(self, column: str) -> int | None:
        number = self.decimal(column)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise self.fail(column, f"must be a whole number: {self.text(column)!r}")
        return int(number)

    def day(self, column: str) -> date:
        value = self.required(column)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(column, f"not an ISO date (YYYY-MM-DD): {value!r}") from None

    def provenance(self) -> Provenance:
        return Provenance(self.required("source"), self.day("observed_at"), self.text("note") or "")


# --------------------------------------------------------------------------- parsing each table
# One function per table, called in this order (the first broken row found is the one reported).


def _check_unique_keys(tables: Mapping[str, tuple[Row, ...]]) -> None:
    for name, spec in TABLES.items():
        seen: set[tuple[str, ...]] = set()
        for i, row in enumerate(tables[name], start=2):
            key = tuple(row[k] for k in spec.key)
            if key in seen:
                raise CatalogError(f"{spec.filename}:{i}: duplicate row for {'/'.join(key)}")
            seen.add(key)


def _instance_specs(rows: tuple[Row, ...]) -> dict[str, tuple[_Cell, Provenance]]:
    """instance_types.csv: each type's cells (read again on lookup) once their numbers are checked."""
    specs: dict[str, tuple[_Cell, Provenance]] = {}
    for i, row in enumerate(rows, start=2):
        cell = _Cell("instance_types.csv", i, row)
        cell.required("instance_type")
        for col in ("vcpu", "gpus", "gpu_memory_mib"):
            cell.integer(col)
        cell.decimal("memory_gib")
        specs[row["instance_type"]] = (cell, cell.provenance())
    return specs


def _instance_prices(rows: tuple[Row, ...]) -> dict[tuple[str, str, str], tuple[Price | None, bool | None]]:
    """instance_prices.csv: (region, type, pricing model) -> (price or None, offered yes/no/unknown)."""
    prices: dict[tuple[str, str, str], tuple[Price | None, bool | None]] = {}
    for i, row in enumerate(rows, start=2):
        cell = _Cell("instance_prices.csv", i, row)
        region, itype, model = cell.required("region"), cell.required("instance_type"), cell.required("pricing_model")
        if model not in PRICING_MODELS:
            raise cell.fail("pricing_model", f"must be one of {', '.join(PRICING_MODELS)}: {model!r}")
        offered_text = cell.text("offered")
        if offered_text not in (None, "yes", "no"):
            raise cell.fail("offered", f"must be yes, no or empty: {offered_text!r}")
        offered = None if offered_text is None else offered_text == "yes"
        price = _price(cell)
        if offered is False and price is not None:
            raise cell.fail("offered", "a type marked not offered cannot have a price")
        prices[(region, itype, model)] = (price, offered)
    return prices


def _price(cell: _Cell) -> Price | None:
    """One price row's hourly price: a point, or a low-high range (its midpoint unless usd_per_hour is set)."""
    prov = cell.provenance()
    hourly = cell.decimal("usd_per_hour")
    low, high = cell.decimal("usd_per_hour_low"), cell.decimal("usd_per_hour_high")
    if (low is None) != (high is None):
        raise cell.fail("usd_per_hour_low", "low and high must both be set or both empty")
    if low is not None and high is not None and low > high:
        raise cell.fail("usd_per_hour_low", f"low {low} is above high {high}")
    if low is not None and high is not None:
        mid = hourly if hourly is not None else (low + high) / 2
        return Price(mid, prov.source, prov.observed_at, low, high, prov.note)
    if hourly is not None:
        return Price(hourly, prov.source, prov.observed_at, note=prov.note)
    return None


def _spot_advisor(rows: tuple[Row, ...]) -> dict[tuple[str, str], tuple[Decimal | None, str | None, Provenance]]:
    """spot_advisor.csv: (region, type) -> (savings %, interruption band, provenance)."""
    advisor: dict[tuple[str, str], tuple[Decimal | None, str | None, Provenance]] = {}
    for i, row in enumerate(rows, start=2):
        cell = _Cell("spot_advisor.csv", i, row)
        band = cell.text("interruption_band")
        if band is not None and band not in INTERRUPTION_BANDS:
            raise cell.fail("interruption_band", f"must be one of {', '.join(INTERRUPTION_BANDS)}: {band!r}")
        savings = cell.decimal("savings_pct")
        if savings is not None and savings > 100:
            raise cell.fail("savings_pct", f"a percentage above 100: {savings}")
        key = (cell.required("region"), cell.required("instance_type"))
        advisor[key] = (savings, band, cell.provenance())
    return advisor


def _service_prices(rows: tuple[Row, ...]) -> dict[tuple[str, str], ServicePrice]:
    """services.csv: (service, region) -> price per unit; a row with an empty price is left out (unknown)."""
    services: dict[tuple[str, str], ServicePrice] = {}
    for i, row in enumerate(rows, start=2):
        cell = _Cell("services.csv", i, row)
        unit = cell.required("unit")
        if unit not in UNITS:
            raise cell.fail("unit", f"must be one of {', '.join(UNITS)}: {unit!r}")
        amount = cell.decimal("usd_per_unit")
        if amount is None:
            continue  # an empty price is an unknown: the lookup returns None
        prov = cell.provenance()
        sp = ServicePrice(cell.required("service"), cell.required("region"), unit, amount,
                          prov.source, prov.observed_at, prov.note)
        services[(sp.service, sp.region)] = sp
    return services


def _gpu_throughput(rows: tuple[Row, ...]) -> dict[str, GpuThroughput]:
    """gpu_throughput.csv: GPU model -> its benchmark figures and the one EC2 name of the model."""
    grouped: dict[str, list[tuple[str | None, ThroughputFigure]]] = {}
    for i, row in enumerate(rows, start=2):
        cell = _Cell("gpu_throughput.csv", i, row)
        value = cell.decimal("value")
        if value is None:
            raise cell.fail("value", "must not be empty")
        prov = cell.provenance()
        fig = ThroughputFigure(cell.required("benchmark"), value, cell.required("unit"),
                               prov.source, prov.observed_at, prov.note)
        grouped.setdefault(cell.required("gpu_model"), []).append((cell.text("ec2_gpu_model"), fig))
    throughput: dict[str, GpuThroughput] = {}
    for model, items in grouped.items():
        ec2_names = {e for e, _ in items if e}
        if len(ec2_names) > 1:
            raise CatalogError(f"gpu_throughput.csv: {model}: conflicting ec2_gpu_model values {sorted(ec2_names)}")
        throughput[model] = GpuThroughput(model, next(iter(ec2_names), None), tuple(f for _, f in items))
    return throughput


# --------------------------------------------------------------------------- the catalog


class Catalog:
    """Lookups over the catalog tables. Build with :func:`load_catalog` or :meth:`from_rows`."""

    def __init__(self, tables: Mapping[str, Iterable[Row]], *, origin: str = "<memory>") -> None:
        self.origin = origin
        self._rows: dict[str, tuple[Row, ...]] = {}
        for name, spec in TABLES.items():
            rows = [{c: (r.get(c) or "").strip() for c in spec.columns} for r in tables.get(name, ())]
            rows.sort(key=lambda r, s=spec: tuple(r[k] for k in s.key))  # type: ignore[misc]
            self._rows[name] = tuple(rows)
        self._build()

    @classmethod
    def from_rows(cls, tables: Mapping[str, Iterable[Row]]) -> Catalog:
        return cls(tables)

    def rows(self, table: str) -> tuple[Row, ...]:
        return self._rows[table]

    # The typed indexes are built once and validated eagerly, so a broken row fails at load time
    # with its file and line rather than in the middle of a debrief.
    def _build(self) -> None:
        _check_unique_keys(self._rows)
        self._specs = _instance_specs(self._rows["instance_types"])
        self._prices = _instance_prices(self._rows["instance_prices"])
        self._advisor = _spot_advisor(self._rows["spot_advisor"])
        self._services = _service_prices(self._rows["services"])
        self._throughput = _gpu_throughput(self._rows["gpu_throughput"])
        self._seen_regions = {region for region, _, _ in self._prices} | {region for region, _ in self._advisor}

    # ---------------------------------------------------------------- lookups

    def instance(self, region: str, instance_type: str) -> InstanceType | None:
        """Specs, prices and Advisor figures of one type in one region; None if nothing is known."""
        spec = self._specs.get(instance_type)
        od, od_offered = self._prices.get((region, instance_type, ON_DEMAND), (None, None))
        spot, spot_offered = self._prices.get((region, instance_type, SPOT), (None, None))
        advisor = self._advisor.get((region, instance_type))
        if spec is None and od is None and spot is None and advisor is None and od_offered is None:
            return None
        offered = od_offered if od_offered is not None else spot_offered
        if spec is not None:
            cell, spec_prov = spec
            vcpu, mem, gpus = cell.integer("vcpu"), cell.decimal("memory_gib"), cell.integer("gpus")
            gpu_model, gpu_mem = cell.text("gpu_model"), cell.integer("gpu_memory_mib")
        else:
            vcpu = gpus = gpu_mem = None
            mem = None
            gpu_model = None
            spec_prov = None
        return InstanceType(
            region=region, instance_type=instance_type, vcpu=vcpu, memory_gib=mem, gpus=gpus,
            gpu_model=gpu_model, gpu_memory_mib=gpu_mem, on_demand=od, spot=spot,
            spot_savings_pct=advisor[0] if advisor else None,
            interruption_band=advisor[1] if advisor else None,
            offered=offered, spec=spec_prov, advisor=advisor[2] if advisor else None,
        )

    def service(self, name: str, region: str) -> ServicePrice | None:
        return self._services.get((name, region))

    def throughput(self, gpu_model: str) -> GpuThroughput | None:
        """Figures for a GPU, by the benchmark's name (``V100-16GB``) or EC2's (``V100``).

        EC2 names map only where the benchmarked part is the same part: T4, A10G, L4, L40S and
        p4d's A100 40GB SXM4 have no sourced figures and return None (A10 is not A10G).
        """
        wanted = gpu_model.strip().lower()
        for model, tp in self._throughput.items():
            if model.lower() == wanted:
                return tp
        for tp in self._throughput.values():
            if tp.ec2_gpu_model and tp.ec2_gpu_model.lower() == wanted:
                return tp
        return None

    def relative_throughput(self, gpu_model: str, baseline: str, benchmark: str) -> Decimal | None:
        """Ratio of two GPUs on one benchmark (same source), or None if either figure is missing."""
        a, b = self.throughput(gpu_model), self.throughput(baseline)
        fa = a.figure(benchmark) if a else None
        fb = b.figure(benchmark) if b else None
        if fa is None or fb is None or fb.value == 0:
            return None
        return fa.value / fb.value

    def instance_types(self) -> list[str]:
        names = set(self._specs) | {k[1] for k in self._prices} | {k[1] for k in self._advisor}
        return sorted(names)

    def regions(self) -> list[str]:
        return sorted(self._seen_regions | {k[1] for k in self._services})

    def services(self) -> list[ServicePrice]:
        return [self._services[k] for k in sorted(self._services)]

    def gpu_models(self) -> list[str]:
        return sorted(self._throughput)

    # ---------------------------------------------------------------- changing and writing

    def merged(self, table: str, rows: Iterable[Row]) -> Catalog:
        """A new catalog with ``rows`` replacing same-key rows of ``table`` (others kept)."""
        spec = TABLES[table]
        by_key = {tuple(r[k] for k in spec.key): r for r in self._rows[table]}
        for row in rows:
            clean = {c: (row.get(c) or "").strip() for c in spec.columns}
            by_key[tuple(clean[k] for k in spec.key)] = clean
        tables = dict(self._rows)
        tables[table] = tuple(by_key.values())
        return Catalog(tables, origin=self.origin)

    def to_csv_text(self) -> dict[str, str]:
        """Each file's exact text: sorted rows, fixed columns, ``\\n`` line ends."""
        out: dict[str, str] = {}
        for name, spec in TABLES.items():
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(spec.columns)
            for row in self._rows[name]:
                writer.writerow([row[c] for c in spec.columns])
            out[spec.filename] = buf.getvalue()
        return out

    def to_json(self) -> dict[str, list[Row]]:
        return {name: [dict(r) for r in rows] for name, rows in self._rows.items()}


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read the catalog folder (default: the one shipped in the package)."""
    folder = Path(path) if path is not None else default_catalog_dir()
    if not folder.is_dir():
        raise CatalogError(f"{folder}: price catalog folder not found")
    tables: dict[str, list[Row]] = {}
    for name, spec in TABLES.items():
        file = folder / spec.filename
        if not file.exists():
            raise CatalogError(f"{file}: catalog file missing")
        with file.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = tuple(reader.fieldnames or ())
            if header != spec.columns:
                raise CatalogError(f"{file}:1: columns must be {','.join(spec.columns)}; found {','.join(header)}")
            tables[name] = [dict(r) for r in reader]
    try:
        return Catalog(tables, origin=str(folder))
    except CatalogError as exc:
        raise CatalogError(f"{folder}/{exc.message}") from None


def write_catalog(catalog: Catalog, path: Path | str) -> list[str]:
    """Write the catalog files; returns the file names whose content changed."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    for filename, text in catalog.to_csv_text().items():
        file = folder / filename
        old = file.read_text(encoding="utf-8") if file.exists() else None
        if old != text:
            # Write beside and rename so a crash never leaves half a catalog file.
            tmp = file.with_suffix(file.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8", newline="")
            tmp.replace(file)
            changed.append(filename)
    return changed
