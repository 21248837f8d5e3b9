"""`labctl debrief --billed`: Cost Explorer's figures beside the ledger's, per team, labelled
``billed`` (and ``estimated`` when Cost Explorer says so); without --billed the page says why they
are absent; a Cost Explorer that cannot be read leaves the debrief written with one line saying why.
Cost Explorer is moto in-process with queued results (no emulator process)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from labctl.cost.catalog import load_catalog
from labctl.cost.reconcile import billing_period
from labctl.ops.debrief import write_debrief
from tests.unit.report.synth import write_class

moto = pytest.importorskip("moto")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()



def _group(team: str, amount: str) -> dict:
    return {"Keys": ["labctl:cohort$c1", f"labctl:team${team}"],
            "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def _queue(*periods: dict) -> None:
    """moto's documented way to set what GetCostAndUsage answers next."""
    import requests

    resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                         json={"results": [{"ResultsByTime": list(periods)}]})
    assert resp.status_code == 201


def _html(tmp_path) -> str:
    return (tmp_path / "out" / "debrief.html").read_text()


def _json(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "debrief.json").read_text())


def test_billed_figures_and_their_difference_per_team(tmp_path, aws, catalog):
    write_class(tmp_path, "c1", 3)
    _queue({"TimePeriod": {"Start": "2026-12-01", "End": "2026-12-02"}, "Total": {}, "Estimated": True,
            "Groups": [_group("baseline", "50.25"), _group("rightsized", "3.1"),
                       {"Keys": ["labctl:cohort$c1", "labctl:team$"],
                        "Metrics": {"UnblendedCost": {"Amount": "0.40", "Unit": "USD"}}}]})
    out = write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog, billed=True, target=aws)
    data = _json(tmp_path)
    b = data["billed"]
    assert b["included"] and b["basis"] == "billed" and b["reason"] is None
    assert b["period"] == {"start": "2026-12-01", "end_exclusive": "2026-12-02"}
    base = data["teams"]["baseline"]
    metered = Decimal(base["cost_usd"]["value"])
    assert base["billed_cost_usd"]["value"] == "50.25" and base["billed_cost_usd"]["basis"] == "billed"
    assert base["billed_cost_usd"]["estimated"] is True
    assert Decimal(base["billed_minus_metered_usd"]["value"]) == Decimal("50.25") - metered
    assert base["billed_minus_metered_usd"]["basis"] == "billed"
    assert base["cost_usd"]["basis"] == "simulated"          # the ledger's figure keeps its own basis
    assert data["teams"]["spot"]["billed_cost_usd"]["value"] is None     # nothing billed: none, not $0
    rows = {r["team"]: r for r in b["teams"]}
    assert set(rows) == {"baseline", "rightsized", "spot"}     # the untagged $0.40 belongs to no team
    assert rows["baseline"]["billed_usd"] == "50.25" and rows["baseline"]["metered_usd"] == str(metered)
    assert Decimal(rows["baseline"]["difference_usd"]) == Decimal("50.25") - metered
    assert data["totals"]["billed_cost_usd"]["value"] == "53.35"
    assert data["totals"]["cost_usd"]["value"] == str(sum(Decimal(t["cost_usd"]["value"]) for t in data["teams"].values()))
    assert out["summary"]["billed"] == {"included": True, "reason": None, "total_usd": "53.35", "estimated": True}

    html = _html(tmp_path)
    section = html.split('<section id="billed">', 1)[1].split("</section>", 1)[0]
    row = section.split('data-team="baseline"', 1)[1].split("</tr>", 1)[0]
    assert "$50.25" in row and f"${Decimal('50.25') - metered:,.2f}" in row
    assert row.count('class="b b-billed"') == 2 and "estimated" in row
    team = html.split('id="team-baseline"', 1)[1].split("</section>", 1)[0]
    assert 'data-figure="billed_cost_usd"' in team and 'data-figure="billed_minus_metered_usd"' in team
    assert "Not in this debrief" not in html


def test_without_billed_the_page_says_why_they_are_absent(tmp_path, catalog):
    write_class(tmp_path, "c1", 3)
    out = write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    data = _json(tmp_path)
    assert data["billed"]["included"] is False and "Cost Explorer lags metering by hours to a day" in data["billed"]["reason"]
    assert not any("billed_cost_usd" in t for t in data["teams"].values())
    assert "billed_cost_usd" not in data["totals"] and out["summary"]["billed"]["included"] is False
    html = _html(tmp_path)
    assert "Not in this debrief: billed figures are not included: Cost Explorer lags" in html
    assert "add --billed to include them" in html


class _Denied:
    """A target whose Cost Explorer refuses: what an account without ce:GetCostAndUsage gets."""

    kind = "aws"
    fake_credentials = False

    def client(self, service):
        from botocore.exceptions import ClientError

        class CE:
            def get_cost_and_usage(self, **kw):
                raise ClientError({"Error": {"Code": "AccessDeniedException",
                                             "Message": "not authorized to perform: ce:GetCostAndUsage"}},
                                  "GetCostAndUsage")
        return CE()


def test_unreadable_cost_explorer_still_writes_the_debrief_with_one_line(tmp_path, catalog):
    write_class(tmp_path, "c1", 3)
    out = write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog, billed=True, target=_Denied())
    reason = ("billed figures unavailable: ce GetCostAndUsage: AccessDeniedException: "
              "not authorized to perform: ce:GetCostAndUsage")
    assert out["summary"]["billed"]["reason"] == reason
    data = _json(tmp_path)
    assert data["billed"]["included"] is False and data["billed"]["reason"] == reason
    assert not any("billed_cost_usd" in t for t in data["teams"].values())
    assert reason in _html(tmp_path)


def test_cli_billed_on_embedded_without_emulator_is_one_line_and_exit_0(tmp_path, run_cli):
    state = tmp_path / "state"
    write_class(state, "c1", 1, hours=1)
    r = run_cli("debrief", "c1", "--out", str(tmp_path / "out"), "--billed")
    assert r.exit_code == 0, r.output
    lines = [x for x in r.output.splitlines() if "unavailable" in x or "billed:" in x]
    assert lines == ["  billed figures unavailable: the embedded emulator is not running; "
                     "start it with `labctl emulator start`"]
    assert "Traceback" not in r.output and (tmp_path / "out" / "debrief.html").exists()


@pytest.mark.parametrize(("start", "end", "period"), [
    ("2026-12-01T09:00", "2026-12-01T13:00", ("2026-12-01", "2026-12-02")),
    ("2026-12-01T22:00", "2026-12-02T02:00", ("2026-12-01", "2026-12-03")),
    ("2026-12-01T09:00", "2026-12-02T00:00", ("2026-12-01", "2026-12-02")),
    ("2026-12-01T09:00", "2026-12-01T09:00", ("2026-12-01", "2026-12-02")),
])
def test_billing_period_is_the_whole_utc_days_of_the_window(start, end, period):
    t = [datetime.fromisoformat(x).replace(tzinfo=timezone.utc) for x in (start, end)]
    assert billing_period(*t) == tuple(date.fromisoformat(p) for p in period)
