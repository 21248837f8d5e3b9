"""`labctl sweep`: find everything that carries the cohort's tag, per service, and delete it in
dependency order (labctl/aws/sweep.py), then list again. Under the cohort's lock, audited."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl.aws.accounts import inventory_in, sweep_in
from labctl.aws.inventory import Resource
from labctl.aws.sweep import SweepResult, plan_sweep
from labctl.ops.common import resolve_cohort_id
from labctl.ops.target import connect_recorded
from labctl.state import StateDir


@dataclass
class SweepReport:
    cohort: str
    dry_run: bool
    result: SweepResult
    left: list[Resource]
    unreadable: list[str]

    @property
    def count(self) -> int:
        """What was deleted (or, in a dry run, would be)."""
        return len(self.result.would_delete) if self.dry_run else len(self.result.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "dry_run": self.dry_run,
                "actions": [{"status": o.status, "resource": o.resource.describe(), "team": o.resource.team,
                             "reason": o.reason} for o in self.result.outcomes],
                "left": [r.describe() for r in self.left], "unreadable": list(self.unreadable)}


def sweep(cohort_ref: str | Path, state_dir: Path, dry_run: bool = False) -> SweepReport:
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    with contextlib.nullcontext() if dry_run else cs.exclusive("sweep"):      # one writer per cohort
        targets = connect_recorded(cs.meta(), state_dir).aws_accounts()     # per-team: every team's account
        found = inventory_in(targets, cohort_id)
        result = sweep_in(targets, plan_sweep(found.resources), dry_run=dry_run)
        left = [] if dry_run else list(inventory_in(targets, cohort_id).resources)
        if not dry_run:
            cs.audit("sweep", "clean" if not left else "leftovers", deleted=len(result.deleted))
    return SweepReport(cohort_id, dry_run, result, left, list(found.unreadable))
