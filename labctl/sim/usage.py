"""Lifecycle rows (labctl.telemetry.store) -> Usage records (labctl.cost.model) for the ledger,
for the simulator's own rows (one source, so nothing to de-duplicate)."""

from __future__ import annotations

from collections.abc import Iterable

from labctl.cost.model import KINDS, Usage
from labctl.telemetry.rows import Lifecycle
from labctl.telemetry.usage import to_usage


def lifecycle_to_usage(rows: Iterable[Lifecycle]) -> list[Usage]:
    """One Usage per row of a kind the ledger prices; rows of other kinds are left out."""
    return [to_usage(r) for r in rows if r.kind in KINDS]
