"""The state directory: everything labctl knows about a cohort, so a facilitator can stop,
reboot and carry on.

    <state-dir>/
      emulator.json                    background emulator (pid, url, boot id)
      terraformrc                      CLI config every terraform run uses
      cohorts/<cohort>/
        cohort.yaml                    the cohort file as last used by `up`
        meta.json                      target, window end, emulator boot id, per-team status
        audit.log                      one JSON line per state-changing command
        teams/<team>/                  Terraform root, terraform.tfstate, events.jsonl
        batches/batch-<team>/          a batch root that created several new teams at once; its
                                       state lives only until it is split into the teams' own
        reports/                       teardown proofs
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labctl.errors import NotFoundError


_THREAD_LOCK = threading.RLock()


def now() -> datetime:
    return datetime.now(timezone.utc)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: a reader (or a killed run)
    sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class CohortState:
    root: Path          # <state-dir>/cohorts/<cohort>

    @property
    def id(self) -> str:
        return self.root.name

    def team_dir(self, team: str) -> Path:
        return self.root / "teams" / team

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def spec_copy(self) -> Path:
        return self.root / "cohort.yaml"

    def meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "meta.json").read_text())
        except FileNotFoundError:
            return {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        with self._meta_lock():
            self._write_meta(meta)

    def _write_meta(self, meta: dict[str, Any]) -> None:
        # A unique temporary name per writer, then an atomic rename: readers never see half a file.
        tmp = self.root / f".meta.json.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        tmp.replace(self.root / "meta.json")

    @contextmanager
    def _meta_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of meta.json across threads (parallel teams) and processes
        (a reaper beside an interactive command)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _THREAD_LOCK, open(self.root / ".meta.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update_meta(self, **changes: Any) -> dict[str, Any]:
        with self._meta_lock():
            meta = self.meta()
            meta.update(changes)
            self._write_meta(meta)
        return meta

    def set_team(self, team: str, **changes: Any) -> None:
        with self._meta_lock():
            meta = self.meta()
            meta.setdefault("teams", {}).setdefault(team, {}).update(changes)
            self._write_meta(meta)

    def teams_with_state(self) -> list[str]:
        base = self.root / "teams"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def has_resources(self, team: str) -> bool:
        state = self.team_dir(team) / "terraform.tfstate"
        try:
            return bool(json.loads(state.read_text()).get("resources"))
        except (FileNotFoundError, ValueError):
            return False

    def audit(self, command: str, result: str, **details: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        entry = {"at": now().isoformat(), "who": _who(), "command": command, "result": result, **details}
        with open(self.root / "audit.log", "a") as fh:
            fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - containers without a passwd entry
        return str(os.getuid())


@dataclass(frozen=True)
class StateDir:
    root: Path

    def cohort(self, cohort_id: str) -> CohortState:
        return CohortState(self.root / "cohorts" / cohort_id)

    def existing_cohort(self, cohort_id: str) -> CohortState:
        cs = self.cohort(cohort_id)
        if not cs.root.is_dir():
            raise NotFoundError(f"no cohort {cohort_id!r} in state directory {self.root}")
        return cs

    def cohorts(self) -> list[CohortState]:
        base = self.root / "cohorts"
        if not base.is_dir():
            return []
        return [CohortState(p) for p in sorted(base.iterdir()) if p.is_dir()]

    @property
    def cli_config(self) -> Path:
        return self.root / "terraformrc"

    def forget_cohort(self, cohort_id: str) -> None:
        shutil.rmtree(self.cohort(cohort_id).root, ignore_errors=True)
