"""Plain exports of the metered ledger: CSV and JSON a reader can recompute by hand.

One row per ledger entry (a usage record with its price, provenance and hours) or per minute line.
Amounts are strings of exact decimals (dollars to the micro-dollar) plus the integer micro-dollars.
Each row names the AWS account the team's resources ran in (``account_id``, FOCUS's SubAccountId):
the team's own with ``accounts: per-team``, else the facilitator's (shared mode), given by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labctl.cost.focus import write_csv
from labctl.cost.ledger import Ledger, LedgerEntry
from labctl.cost.money import usd

ENTRY_COLUMNS: tuple[str, ...] = (
    "team", "account_id", "resource_id", "kind", "region", "availability_zone", "instance_type", "market", "count", "gb",
    "start", "end", "hours", "unit_price_usd", "unit", "quantity", "cost_usd", "cost_micro_usd",
    "price_source", "price_observed_at", "price_how", "record_source", "basis",
)
LINE_COLUMNS: tuple[str, ...] = (
    "minute", "team", "account_id", "resource_id", "kind", "start", "end", "cost_usd", "cost_micro_usd",
    "unit_price_usd", "unit", "price_source", "price_observed_at",
)


def _iso(t: Any) -> str:
    return t.isoformat().replace("+00:00", "Z")


def account_of(team: str, accounts: Mapping[str, str] | None, account: str) -> str:
    """The account a team's resources ran in: its own (``accounts``: team -> id, per-team mode),
    else ``account`` (the facilitator's, shared mode; "" when the caller does not know it)."""
    return (accounts or {}).get(team) or account


def entry_row(e: LedgerEntry, basis: str, account_id: str = "") -> dict[str, str]:
    u = e.usage
    return {
        "team": u.team, "account_id": account_id, "resource_id": u.resource_id, "kind": u.kind, "region": u.region,
        "availability_zone": u.availability_zone or "", "instance_type": u.instance_type or "",
        "market": u.market if u.kind == "instance" else "", "count": str(u.count),
        "gb": "" if u.gb is None else str(u.gb), "start": _iso(e.start), "end": _iso(e.end),
        "hours": f"{e.hours.normalize():f}", "unit_price_usd": str(e.basis.unit_price), "unit": e.basis.unit,
        "quantity": f"{e.quantity.normalize():f}", "cost_usd": str(usd(e.cost_micros)),
        "cost_micro_usd": str(e.cost_micros), "price_source": e.basis.source,
        "price_observed_at": e.basis.observed_at.isoformat() if e.basis.observed_at else "",
        "price_how": e.basis.how, "record_source": u.source, "basis": basis,
    }


def ledger_rows(ledger: Ledger, per: str = "entry", accounts: Mapping[str, str] | None = None,
                account: str = "") -> list[dict[str, str]]:
    """``accounts``: team -> account id (per-team accounts); ``account``: the facilitator's, for the rest."""
    if per == "entry":
        return [entry_row(e, ledger.basis, account_of(e.usage.team, accounts, account)) for e in ledger.entries]
    if per != "minute":
        raise ValueError("per must be entry or minute")
    rows = []
    for line in ledger.lines:
        e = line.entry
        rows.append({
            "minute": _iso(line.minute), "team": e.usage.team,
            "account_id": account_of(e.usage.team, accounts, account), "resource_id": e.usage.resource_id,
            "kind": e.usage.kind, "start": _iso(line.start), "end": _iso(line.end),
            "cost_usd": str(usd(line.cost_micros)), "cost_micro_usd": str(line.cost_micros),
            "unit_price_usd": str(e.basis.unit_price), "unit": e.basis.unit, "price_source": e.basis.source,
            "price_observed_at": e.basis.observed_at.isoformat() if e.basis.observed_at else "",
        })
    return rows


def ledger_csv(ledger: Ledger, per: str = "entry", accounts: Mapping[str, str] | None = None, account: str = "") -> str:
    return write_csv(ledger_rows(ledger, per, accounts, account), ENTRY_COLUMNS if per == "entry" else LINE_COLUMNS)


def ledger_json(ledger: Ledger, accounts: Mapping[str, str] | None = None, account: str = "") -> dict[str, Any]:
    """Entries with a how-to-recompute sentence, warnings and totals; JSON-ready (strings for money)."""
    return {
        "basis": ledger.basis,
        "as_of": _iso(ledger.as_of),
        "resolution_seconds": int(ledger.resolution.total_seconds()),
        "total_usd": str(ledger.total()),
        "by_team_usd": {t: str(usd(m)) for t, m in ledger.by_team().items()},
        "entries": [dict(entry_row(e, ledger.basis, account_of(e.usage.team, accounts, account)), explain=e.explain())
                    for e in ledger.entries],
        "warnings": [{"team": w.team, "resource_id": w.resource_id, "message": w.message,
                      "unpriced_hours": None if w.unpriced_hours is None else str(w.unpriced_hours)}
                     for w in ledger.warnings],
    }
