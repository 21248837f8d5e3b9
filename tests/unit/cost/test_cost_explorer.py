"""Cost Explorer reader against the embedded emulator's queued results, and reconciliation that
keeps metered (ledger) and billed (Cost Explorer) figures apart."""

from __future__ import annotations

import json
import urllib.request
from datetime import date, timedelta
from decimal import Decimal as D

import boto3
import pytest

from labctl.aws.pricing import read_cost_and_usage
from labctl.cost.ledger import build_ledger
from labctl.cost.model import BILLED, METERED, Usage
from labctl.cost.reconcile import reconcile

from .conftest import T0

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def moto_url():
    from labctl.aws.emulator import Emulator

    with Emulator() as emu:
        yield emu.url


@pytest.fixture
def ce(moto_url, monkeypatch):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(k, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.client("ce", region_name="us-east-1", endpoint_url=moto_url)


def queue(moto_url: str, *results: dict) -> None:
    body = json.dumps({"results": list(results)}).encode()
    req = urllib.request.Request(f"{moto_url}/moto-api/static/ce/cost-and-usage-results", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 201


def group(cohort: str, team: str, amount: str) -> dict:
    return {"Keys": [f"labctl:cohort${cohort}", f"labctl:team${team}"],
            "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def test_reads_cost_grouped_by_cohort_and_team_tags(ce, moto_url):
    queue(moto_url, {"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-11-28", "End": "2026-11-29"}, "Total": {},
         "Groups": [group("demo", "team-a", "1.2500000000"), group("demo", "team-b", "0.3300000000"),
                    {"Keys": ["labctl:cohort$", "labctl:team$"], "Metrics": {"UnblendedCost": {"Amount": "0.01", "Unit": "USD"}}}],
         "Estimated": True}]})
    billed = read_cost_and_usage(ce, date(2026, 11, 28), date(2026, 11, 29), cohort="demo")
    assert [(b.tag("labctl:team"), b.amount) for b in billed] == [("team-a", D("1.25")), ("team-b", D("0.33")), ("", D("0.01"))]
    assert all(b.basis == BILLED and b.estimated and b.unit == "USD" for b in billed)
    assert billed[0].tag("labctl:cohort") == "demo" and billed[0].period_start == date(2026, 11, 28)


def test_nothing_queued_reads_as_nothing(ce):
    # distinct parameters take the next queued result; with none left, the emulator returns no rows
    assert read_cost_and_usage(ce, date(2026, 10, 1), date(2026, 10, 2), granularity="DAILY", cohort="other") == []


def test_reconciliation_labels_metered_and_billed(catalog, ce, moto_url):
    end = T0 + timedelta(hours=2)
    ledger = build_ledger([Usage("team-a", "eks-a", "cluster", "us-east-1", T0, end),
                           Usage("team-c", "eks-c", "cluster", "us-east-1", T0, end)], catalog, as_of=end)
    queue(moto_url, {"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-11-27", "End": "2026-11-28"}, "Total": {},
         "Groups": [group("demo", "team-a", "0.2100000000"), group("demo", "team-b", "0.5")], "Estimated": False}]})
    billed = read_cost_and_usage(ce, date(2026, 11, 27), date(2026, 11, 28))
    rows = {r.team: r for r in reconcile(ledger, billed)}
    assert rows["team-a"].metered == D("0.2") and rows["team-a"].billed == D("0.21")
    assert rows["team-a"].difference == D("0.01")
    assert rows["team-b"].metered is None and rows["team-b"].billed == D("0.5")
    assert rows["team-c"].billed is None and rows["team-c"].difference is None
    assert set(rows["team-a"].as_dict()) >= {METERED, BILLED}
