"""The shipped catalog: seed values as in the reference, provenance on every row, unknowns left
empty, deterministic writing, and errors that point at the file and line."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal as D

import pytest

from labctl.cost.catalog import TABLES, Catalog, CatalogError, default_catalog_dir, load_catalog, write_catalog


@pytest.mark.parametrize(
    ("region", "itype", "od", "spot_low", "spot_high", "savings", "band"),
    [
        ("us-east-1", "g4dn.xlarge", "0.526", "0.200", "0.216", "64", "15-20%"),
        ("us-east-1", "g5.xlarge", "1.006", "0.425", "0.451", "59", ">20%"),
        ("us-east-1", "g6e.xlarge", "1.861", "0.915", "1.198", "58", "5-10%"),
        ("us-east-1", "p4d.24xlarge", "21.957642", None, None, "67", "10-15%"),
        ("us-east-1", "t3.medium", "0.0416", None, None, "56", "<5%"),
        ("eu-central-1", "g5.12xlarge", "7.09282", None, None, "80", ">20%"),
        ("eu-central-1", "g5.2xlarge", None, None, None, "66", "15-20%"),
        ("eu-west-1", "g5.xlarge", "1.123", None, None, None, None),
    ],
)
def test_seed_prices_match_the_reference_table(catalog, region, itype, od, spot_low, spot_high, savings, band):
    info = catalog.instance(region, itype)
    assert info is not None
    assert (info.on_demand.usd_per_hour if info.on_demand else None) == (D(od) if od else None)
    assert (info.spot.low if info.spot else None) == (D(spot_low) if spot_low else None)
    assert (info.spot.high if info.spot else None) == (D(spot_high) if spot_high else None)
    assert info.spot_savings_pct == (D(savings) if savings else None)
    assert info.interruption_band == band


def test_specs_come_from_the_reference(catalog):
    g5 = catalog.instance("us-east-1", "g5.xlarge")
    assert (g5.vcpu, g5.memory_gib, g5.gpus, g5.gpu_model, g5.gpu_memory_mib) == (4, D(16), 1, "A10G", 22888)
    p5 = catalog.instance("us-east-1", "p5.48xlarge")
    assert (p5.vcpu, p5.memory_gib, p5.gpus, p5.gpu_model, p5.gpu_memory_mib) == (192, D(2048), 8, "H100", 81920)
    m5 = catalog.instance("us-east-1", "m5.large")
    assert (m5.gpus, m5.gpu_model) == (0, None)


def test_spot_price_is_the_range_midpoint_and_keeps_the_range(catalog):
    spot = catalog.instance("us-east-1", "g5.xlarge").spot
    assert spot.usd_per_hour == D("0.438") and spot.is_range


def test_not_offered_is_distinct_from_unknown(catalog):
    g6 = catalog.instance("eu-west-1", "g6.xlarge")
    assert g6.offered is False and g6.on_demand is None
    unknown = catalog.instance("eu-west-1", "p3.2xlarge")   # blank cell in the reference: not gathered
    assert unknown.offered is None and unknown.on_demand is None
    assert catalog.instance("us-east-1", "x9.huge") is None


def test_every_row_of_every_file_has_source_and_observed_at(catalog):
    for name in TABLES:
        for row in catalog.rows(name):
            assert row["source"], (name, row)
            date.fromisoformat(row["observed_at"])


def test_services_seeded_for_us_east_1_only(catalog):
    assert catalog.service("eks-cluster", "us-east-1").usd_per_unit == D("0.10")
    assert catalog.service("ebs-gp3", "us-east-1").unit == "GB-month"
    assert catalog.service("nat-gateway-data", "us-east-1").usd_per_unit == D("0.045")
    assert catalog.service("public-ipv4", "us-east-1").usd_per_unit == D("0.005")
    assert catalog.service("eks-cluster", "eu-central-1") is None   # not gathered: unknown, not copied


def test_throughput_only_for_sourced_parts(catalog):
    assert catalog.throughput("V100").figure("resnet50-train-fp16").value == D(833)
    assert catalog.throughput("H100").gpu_model == "H100-SXM5"
    for unsourced in ("T4", "A10G", "L4", "L40S", "A100"):
        assert catalog.throughput(unsourced) is None, unsourced
    assert catalog.throughput("A10").figure("bert-base-squad-finetune").value == D(135)
    ratio = catalog.relative_throughput("A100-80GB-SXM4", "V100-16GB", "resnet50-train-ngc-21.03")
    assert ratio == D(2470) / D(1200)
    assert catalog.relative_throughput("A10G", "V100", "resnet50-train-fp16") is None


def test_writing_the_shipped_catalog_is_byte_identical(catalog, tmp_path):
    write_catalog(catalog, tmp_path)
    for spec in TABLES.values():
        assert (tmp_path / spec.filename).read_bytes() == (default_catalog_dir() / spec.filename).read_bytes()
    assert write_catalog(load_catalog(tmp_path), tmp_path) == []


def test_merged_rows_replace_by_key_and_stay_sorted(catalog):
    row = {"region": "us-east-1", "instance_type": "g5.xlarge", "pricing_model": "on-demand", "usd_per_hour": "1.1",
           "offered": "yes", "source": "test", "observed_at": "2026-11-28"}
    new = catalog.merged("instance_prices", [row])
    assert new.instance("us-east-1", "g5.xlarge").on_demand.usd_per_hour == D("1.1")
    assert catalog.instance("us-east-1", "g5.xlarge").on_demand.usd_per_hour == D("1.006")
    keys = [(r["region"], r["instance_type"], r["pricing_model"]) for r in new.rows("instance_prices")]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("usd_per_hour", "cheap"), "instance_prices.csv:2: usd_per_hour: not a decimal number"),
        (("observed_at", ""), "instance_prices.csv:2: observed_at: must not be empty"),
        (("source", ""), "instance_prices.csv:2: source: must not be empty"),
        (("pricing_model", "reserved"), "instance_prices.csv:2: pricing_model: must be one of"),
        (("usd_per_hour", "-1"), "usd_per_hour: must be a finite, non-negative number"),
    ],
)
def test_a_bad_cell_names_file_line_and_column(tmp_path, edit, message):
    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    cat = load_catalog(folder)
    rows = [dict(r) for r in cat.rows("instance_prices")]
    rows[0][edit[0]] = edit[1]
    with pytest.raises(CatalogError, match=message.replace("(", r"\(")):
        text = Catalog({**{n: cat.rows(n) for n in TABLES}, "instance_prices": rows}).to_csv_text()
        (folder / "instance_prices.csv").write_text(text["instance_prices.csv"])
        load_catalog(folder)


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope")
