"""Metered vs billed: the ledger's figures beside Cost Explorer's, per team, each labelled.

Billing lags metering by hours to a day and includes charges labctl does not meter (requests,
support, tax), so a difference is expected; this module only lines the two up and says which is
which. It never mixes them into one figure.

:class:`BilledReport` is what the debrief shows of it (`labctl debrief --billed`): the rows, the
Cost Explorer period they cover, or why billed figures are absent. :func:`billing_period` turns the
cohort's window into Cost Explorer's whole UTC days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from labctl.cost.ledger import Ledger
from labctl.cost.model import BILLED, METERED, BilledCost
from labctl.cost.money import usd

TEAM_TAG = "labctl:team"


@dataclass(frozen=True)
class ReconciledTeam:
    team: str
    metered: Decimal | None         # basis "metered" (labctl ledger)
    billed: Decimal | None          # basis "billed" (Cost Explorer)
    billed_estimated: bool          # Cost Explorer flagged some of it as estimated

    @property
    def difference(self) -> Decimal | None:
        if self.metered is None or self.billed is None:
            return None
        return self.billed - self.metered

    def as_dict(self) -> dict[str, str | bool | None]:
        return {"team": self.team, METERED: None if self.metered is None else str(self.metered),
                BILLED: None if self.billed is None else str(self.billed),
                "billed_estimated": self.billed_estimated,
                "difference": None if self.difference is None else str(self.difference)}


COHORT_TAG = "labctl:cohort"
NOT_REQUESTED = ("billed figures are not included: Cost Explorer lags metering by hours to a day, so a debrief "
                 "written right after class would show an incomplete bill; add --billed to include them")


def reconcile(ledger: Ledger, billed: Iterable[BilledCost], *, tag: str = TEAM_TAG,
              cohort: str | None = None) -> list[ReconciledTeam]:
    """Per team, the ledger's figure beside the bill's. Billed rows of another cohort (when
    ``cohort`` is given) or without a team tag (Cost Explorer's "untagged" group) belong to no
    team and are left out."""
    metered = {t: usd(m) for t, m in ledger.by_team().items()}
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    estimated: dict[str, bool] = defaultdict(bool)
    for b in billed:
        team = b.tag(tag)
        if not team:
            continue
        if cohort is not None and b.tag(COHORT_TAG) not in (None, cohort):
            continue
        amounts[team] += b.amount
        estimated[team] |= b.estimated
    teams = sorted(set(metered) | set(amounts))
    return [ReconciledTeam(t, metered.get(t), amounts.get(t), estimated.get(t, False)) for t in teams]


def billing_period(start: datetime, end: datetime) -> tuple[date, date]:
    """Cost Explorer's [start, end) for a window: the whole UTC days it touches (DAILY
    granularity cannot cut a day, so the bill of a 4-hour class is the bill of its day)."""
    s = start.astimezone(timezone.utc)
    e = end.astimezone(timezone.utc)
    last = e.date() if e.time() == datetime.min.time() and e > s else e.date() + timedelta(days=1)
    return s.date(), max(last, s.date() + timedelta(days=1))


@dataclass(frozen=True)
class BilledReport:
    """What a debrief shows of the bill: not asked for (``requested`` False), the rows for a
    period, or ``unavailable`` with the reason Cost Explorer could not be read."""

    requested: bool
    rows: tuple[ReconciledTeam, ...] = ()
    period: tuple[date, date] | None = None        # [start, end) as Cost Explorer took it
    unavailable: str | None = None

    @property
    def included(self) -> bool:
        return self.requested and self.unavailable is None

    @property
    def reason(self) -> str | None:
        """Why there are no billed figures (None when there are)."""
        if not self.requested:
            return NOT_REQUESTED
        return None if self.unavailable is None else f"billed figures unavailable: {self.unavailable}"
