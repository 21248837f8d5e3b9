"""The live price adapter (labctl.aws.pricing) against botocore's Stubber, on response shapes
recorded from the AWS API reference: request builders as tables, parsing, the emulator's constant
spot price rejected, and `labctl prices refresh` writing the catalog deterministically."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from decimal import Decimal as D

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from labctl.aws import pricing as live
from labctl.cli.context import AppContext
from labctl.cli.prices import prices
from labctl.cost.catalog import default_catalog_dir, load_catalog

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def product(instance_type: str, usd: str, region: str = "us-east-1") -> str:
    """One PriceList entry as GetProducts returns it: a JSON *string*."""
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": "JRTCKXETXF2F6EZB",
                    "attributes": {"instanceType": instance_type, "regionCode": region, "operatingSystem": "Linux",
                                   "tenancy": "Shared", "capacitystatus": "Used", "preInstalledSw": "NA",
                                   "vcpu": "4", "memory": "16 GiB", "gpu": "1"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {"JRTCKXETXF2F6EZB.JRTCKXETXF": {
            "priceDimensions": {"JRTCKXETXF2F6EZB.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "description": f"${usd} per On Demand Linux {instance_type} Instance Hour",
                "rateCode": "JRTCKXETXF2F6EZB.JRTCKXETXF.6YS6EN2CT7", "pricePerUnit": {"USD": usd}}},
            "sku": "JRTCKXETXF2F6EZB", "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
            "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def spot(instance_type: str, az: str, price: str, ts=NOW) -> dict:
    return {"AvailabilityZone": az, "InstanceType": instance_type, "ProductDescription": "Linux/UNIX",
            "SpotPrice": price, "Timestamp": ts}


G5_RECORD = {"InstanceType": "g5.xlarge", "VCpuInfo": {"DefaultVCpus": 4}, "MemoryInfo": {"SizeInMiB": 16384},
             "GpuInfo": {"Gpus": [{"Name": "A10G", "Manufacturer": "NVIDIA", "Count": 1,
                                   "MemoryInfo": {"SizeInMiB": 22888}}], "TotalGpuMemoryInMiB": 22888}}


@pytest.fixture(autouse=True)
def registered():
    """The commands carry --output and --state-dir once the CLI registered them (as `labctl` does
    at start), whichever test of the session runs first."""
    from labctl.cli.main import _register

    _register()


@pytest.fixture
def clients(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(k, v)
    sess = boto3.session.Session(region_name="us-east-1")
    return sess.client("pricing", region_name="us-east-1"), sess.client("ec2", region_name="us-east-1")


def test_get_products_request_uses_the_reference_filters():
    params = live.get_products_params("us-east-1", "g5.xlarge")
    assert params["ServiceCode"] == "AmazonEC2"
    assert {(f["Field"], f["Value"]) for f in params["Filters"]} == {
        ("regionCode", "us-east-1"), ("instanceType", "g5.xlarge"), ("operatingSystem", "Linux"),
        ("preInstalledSw", "NA"), ("capacitystatus", "Used"), ("marketoption", "OnDemand"),
        ("tenancy", "Shared"), ("productFamily", "Compute Instance")}
    assert all(f["Type"] == "TERM_MATCH" for f in params["Filters"])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"GroupBy": [{"Type": "TAG", "Key": "labctl:cohort"}, {"Type": "TAG", "Key": "labctl:team"}]}),
        ({"cohort": "demo"}, {"Filter": {"Tags": {"Key": "labctl:cohort", "Values": ["demo"], "MatchOptions": ["EQUALS"]}}}),
        ({"granularity": "HOURLY"}, {"Granularity": "HOURLY"}),
    ],
)
def test_cost_and_usage_request_table(kwargs, expected):
    from datetime import date

    params = live.cost_and_usage_params(date(2026, 11, 28), date(2026, 11, 29), **kwargs)
    assert params["TimePeriod"] == {"Start": "2026-11-28", "End": "2026-11-29"}
    for k, v in expected.items():
        assert params[k] == v


def test_on_demand_price_parsed_from_price_list_strings():
    row = live.parse_on_demand([product("g5.xlarge", "1.0060000000")], "us-east-1", "g5.xlarge", NOW.date())
    assert row["usd_per_hour"] == "1.006" and row["source"].startswith("AWS Price List API")
    assert row["observed_at"] == "2026-11-28"


def test_ambiguous_on_demand_prices_are_an_error():
    with pytest.raises(live.PricingError, match="several on-demand prices"):
        live.parse_on_demand([product("g5.xlarge", "1.006"), product("g5.xlarge", "1.2")], "us-east-1", "g5.xlarge", NOW.date())


def test_emulator_constant_spot_price_is_rejected():
    # moto answers every DescribeSpotPriceHistory with 0.00001 stamped 2006-01-02
    moto_like = [spot("g5.xlarge", "us-east-1a", "0.00001", "2006-01-02T15:04:05.999999999Z"),
                 spot("g5.xlarge", "us-east-1b", "0.00001", NOW)]
    rows, rejected = live.parse_spot(moto_like, "us-east-1", NOW.date())
    assert rows == []
    assert len(rejected) == 2 and all("emulator" in r.reason for r in rejected)


def test_old_or_zero_spot_prices_are_rejected():
    rows, rejected = live.parse_spot([spot("g5.xlarge", "us-east-1a", "0.43", "2006-01-02T15:04:05Z"),
                                      spot("g5.xlarge", "us-east-1b", "0", NOW)], "us-east-1", NOW.date())
    assert rows == [] and {r.reason.split()[0] for r in rejected} == {"timestamp", "not"}


def test_spot_rows_keep_the_latest_price_per_az_as_a_range():
    older = datetime(2026, 11, 20, tzinfo=timezone.utc)
    rows, rejected = live.parse_spot([
        spot("g5.xlarge", "us-east-1a", "0.4250", NOW), spot("g5.xlarge", "us-east-1a", "0.9000", older),
        spot("g5.xlarge", "us-east-1b", "0.4510", NOW), spot("g4dn.xlarge", "us-east-1a", "0.2000", NOW),
    ], "us-east-1", NOW.date())
    assert rejected == []
    g5 = [r for r in rows if r["instance_type"] == "g5.xlarge"][0]
    assert (g5["usd_per_hour_low"], g5["usd_per_hour_high"]) == ("0.425", "0.451")
    assert "2 AZ" in g5["source"]


def test_refresh_with_stubbed_apis(clients):
    pricing_client, ec2_client = clients
    catalog = load_catalog()
    with Stubber(pricing_client) as ps, Stubber(ec2_client) as es:
        ps.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [product("g5.xlarge", "1.0100000000")],
                                         "NextToken": "page-2"}, {**live.get_products_params("us-east-1", "g5.xlarge")})
        ps.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                        {**live.get_products_params("us-east-1", "g5.xlarge"), "NextToken": "page-2"})
        es.add_response("describe_spot_price_history",
                        {"SpotPriceHistory": [spot("g5.xlarge", "us-east-1a", "0.4300"),
                                              spot("g5.xlarge", "us-east-1c", "0.00001")]},
                        {"InstanceTypes": ["g5.xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": ANY})
        es.add_response("describe_instance_types", {"InstanceTypes": [G5_RECORD]}, {"InstanceTypes": ["g5.xlarge"]})
        result = live.refresh_catalog(catalog, "us-east-1", ["g5.xlarge"], pricing_client=pricing_client,
                                      ec2_client=ec2_client, now=NOW)
        ps.assert_no_pending_responses()
        es.assert_no_pending_responses()
    g5 = result.catalog.instance("us-east-1", "g5.xlarge")
    assert g5.on_demand.usd_per_hour == D("1.01") and g5.on_demand.observed_at == NOW.date()
    assert (g5.spot.low, g5.spot.high) == (D("0.43"), D("0.43"))
    assert g5.gpu_memory_mib == 22888 and g5.spec.source.startswith("AWS EC2 DescribeInstanceTypes")
    assert [r.price for r in result.rejected_spot] == ["0.00001"]
    # other rows are untouched
    assert result.catalog.instance("us-east-1", "g4dn.xlarge").on_demand.usd_per_hour == D("0.526")


def stub_everything(pricing_client, ec2_client, types):
    ps, es = Stubber(pricing_client), Stubber(ec2_client)
    for t in sorted(types):
        ps.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [product(t, "1.0060000000")]})
    es.add_response("describe_spot_price_history", {"SpotPriceHistory": [spot(t, "us-east-1a", "0.00001") for t in types]})
    es.add_response("describe_instance_types", {"InstanceTypes": [dict(G5_RECORD, InstanceType=t) for t in types]})
    ps.activate()
    es.activate()
    return ps, es


def test_prices_refresh_command_writes_a_reviewable_catalog(clients, monkeypatch, tmp_path):
    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    pricing_client, ec2_client = clients
    stubs = stub_everything(pricing_client, ec2_client, ["g5.xlarge"])
    monkeypatch.setattr(live, "make_clients", lambda region, **kw: (pricing_client, ec2_client))
    before = {p.name: p.read_text() for p in folder.iterdir()}
    result = CliRunner().invoke(prices, ["refresh", "--region", "us-east-1", "--instance-type", "g5.xlarge",
                                         "--catalog-dir", str(folder)], obj=AppContext(state_dir=tmp_path))
    assert result.exit_code == 0, result.output
    assert "rejected spot price 0.00001" in result.output
    after = {p.name: p.read_text() for p in folder.iterdir()}
    assert after["services.csv"] == before["services.csv"]
    # only the g5.xlarge us-east-1 on-demand line changed in instance_prices.csv (same price, new source/date)
    changed = set(after["instance_prices.csv"].splitlines()) ^ set(before["instance_prices.csv"].splitlines())
    assert all("g5.xlarge,on-demand" in line for line in changed) and len(changed) == 2
    # a second identical refresh changes nothing
    for stub in stubs:
        stub.assert_no_pending_responses()
        stub.deactivate()
    stub_everything(pricing_client, ec2_client, ["g5.xlarge"])
    again = CliRunner().invoke(prices, ["refresh", "--region", "us-east-1", "--instance-type", "g5.xlarge",
                                        "--catalog-dir", str(folder), "--output", "json"], obj=AppContext(state_dir=tmp_path))
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["changed_files"] == []


def test_prices_refresh_api_failure_is_one_line_and_exit_8_catalog_untouched(clients, monkeypatch, tmp_path):
    """A refused API call is the outside world's problem (exit 8), said in one line; the
    botocore error is mapped inside aws/, not by the CLI."""
    from labctl.cli.main import _register, cli

    _register()
    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    before = {p.name: p.read_text() for p in folder.iterdir()}
    pricing_client, ec2_client = clients
    stub = Stubber(pricing_client)
    stub.add_client_error("get_products", service_error_code="AccessDeniedException",
                          service_message="not authorized to perform pricing:GetProducts")
    stub.activate()
    monkeypatch.setattr(live, "make_clients", lambda region, **kw: (pricing_client, ec2_client))
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "s"), "prices", "refresh", "--region",
                                      "us-east-1", "--instance-type", "g5.xlarge", "--catalog-dir", str(folder)])
    assert result.exit_code == 8, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "price refresh for us-east-1 failed" in errors[0]
    assert "AccessDeniedException" in errors[0] and "Traceback" not in result.output
    assert {p.name: p.read_text() for p in folder.iterdir()} == before


def test_prices_refresh_dry_run_calls_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(live, "make_clients", lambda *a, **k: pytest.fail("dry run must not create clients"))
    result = CliRunner().invoke(prices, ["refresh", "--region", "eu-central-1", "--dry-run", "--output", "json"],
                                obj=AppContext(state_dir=tmp_path))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["dry_run"] is True and doc["requests"][0]["api"] == "pricing:GetProducts"


def test_prices_show_text_and_json(tmp_path):
    obj = AppContext(state_dir=tmp_path)
    text = CliRunner().invoke(prices, ["show", "--region", "us-east-1"], obj=obj)
    assert text.exit_code == 0 and "g5.xlarge" in text.output and "0.425-0.451" in text.output
    doc = json.loads(CliRunner().invoke(prices, ["show", "--output", "json"], obj=AppContext(state_dir=tmp_path)).output)
    g5 = [i for i in doc["instances"] if i["region"] == "us-east-1" and i["instance_type"] == "g5.xlarge"][0]
    assert g5["on_demand"] == {"usd_per_hour": "1.006", "observed_at": "2026-07-20",
                               "source": g5["on_demand"]["source"]}
    assert g5["spot"]["usd_per_hour_low"] == "0.425"
    assert all(s["source"] and s["observed_at"] for s in doc["services"])


def test_prices_show_bad_catalog_is_one_line_error(tmp_path):
    result = CliRunner().invoke(prices, ["show", "--catalog-dir", str(tmp_path / "missing")], obj=AppContext(state_dir=tmp_path))
    assert result.exit_code != 0
    from labctl.cost.catalog import CatalogError

    assert isinstance(result.exception, CatalogError)
