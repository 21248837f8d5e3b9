"""Metered vs billed: the ledger's figures beside Cost Explorer's, per team, each labelled.

Billing lags metering by hours to a day and includes charges labctl does not meter (requests,
support, tax), so a difference is expected; this module only lines the two up and says which is
which. It never mixes them into one figure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
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


def reconcile(ledger: Ledger, billed: Iterable[BilledCost], *, tag: str = TEAM_TAG) -> list[ReconciledTeam]:
    metered = {t: usd(m) for t, m in ledger.by_team().items()}
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    estimated: dict[str, bool] = defaultdict(bool)
    for b in billed:
        team = b.tag(tag)
        if team is None:
            continue
        amounts[team] += b.amount
        estimated[team] |= b.estimated
    teams = sorted(set(metered) | set(amounts))
    return [ReconciledTeam(t, metered.get(t), amounts.get(t), estimated.get(t, False)) for t in teams]
