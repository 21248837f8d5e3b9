"""Shared plumbing for use cases: loading a cohort with its state, building terraform runners."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from labctl.errors import EmulatorError, SpecError, Problem
from labctl.ops.target import Connection
from labctl.spec.load import ResolvedCohort
from labctl.state import CohortState, StateDir
from labctl.tf import config as tfconfig
from labctl.tf.runner import Terraform, find_terraform


@dataclass
class RunContext:
    state: StateDir
    cohort_state: CohortState
    conn: Connection
    terraform: str
    cancel: threading.Event

    def tf(self, team: str) -> Terraform:
        d = self.cohort_state.team_dir(team)
        return Terraform(workdir=d, cli_config=self.state.cli_config, env=self.conn.env, binary=self.terraform,
                         log_path=d / "events.jsonl", cancel=self.cancel)


def prepare(state_dir: Path, cohort_id: str, conn: Connection, mirror: str | None = None) -> RunContext:
    sd = StateDir(state_dir)
    tfconfig.write_cli_config(sd.cli_config, tfconfig.detect_mirror(mirror))
    return RunContext(sd, sd.cohort(cohort_id), conn, find_terraform(), threading.Event())


def select_teams(cohort: ResolvedCohort, names: list[str] | None) -> list[str]:
    all_names = [t.name for t in cohort.teams]
    if not names:
        return all_names
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise SpecError([Problem(str(cohort.source), None, "--teams", f"unknown team {n!r} (teams: {', '.join(all_names)})") for n in unknown])
    return [n for n in all_names if n in names]


def check_emulator_matches(cs: CohortState, conn: Connection) -> None:
    """Refuse to act on a restarted emulator: its memory-only state lost what Terraform recorded."""
    if conn.target != "embedded":
        return
    recorded = cs.meta().get("emulator_boot_id")
    if recorded and recorded != conn.emulator_boot_id and any(cs.has_resources(t) for t in cs.teams_with_state()):
        raise EmulatorError(
            f"cohort {cs.id!r} was provisioned on an emulator that has since restarted (its state is in memory "
            "only, so the resources in the cohort's Terraform state no longer exist); run `labctl down` to "
            "clear the stale state, then `labctl up` again")
