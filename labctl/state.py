"""The state directory: everything labctl knows about a cohort, so a facilitator can stop,
reboot and carry on.

    <state-dir>/
      emulator.json                    background emulator (pid, url, boot id)
      terraformrc                      CLI config every terraform run uses
      cohorts/<cohort>/
        cohort.yaml                    the cohort file as last used by `up`
        meta.json                      target, window end, emulator boot id, per-team status
                                       (typed: labctl.meta.CohortMeta)
        audit.log                      one JSON line per state-changing command
        .cohort.lock                   the one-writer lock and who holds it (CohortState.exclusive)
        modules/                       the one copy of the Terraform modules every team root links to
        tf-data/                       the terraform init shared by the cohort's team roots
        teams/<team>/                  Terraform root, terraform.tfstate, events.jsonl
        batches/batch-<team>/          a batch root that created several new teams at once; its
                                       state lives only until it is split into the teams' own
        batches/down-<team>/           a batch root that destroys several teams at once (`down`),
                                       its state likewise
        teardown-journal.jsonl         what a `down` has removed so far, until its proofs are written
                                       (labctl.ops.teardown_journal)
        telemetry.sqlite               lifecycle rows, samples and events (labctl.telemetry.store)
        reports/                       teardown proofs (earlier ones kept, named by their time)

Writes are atomic (a temporary file, fsync, rename); a file found unreadable is set aside as
``<name>.unreadable-<time>`` by whoever needs it, never a reason to stop a teardown.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labctl.errors import NotFoundError, RefusedError
from labctl.meta import CohortMeta, MetaUnreadable
from labctl.tf import state as tfstate


_THREAD_LOCK = threading.RLock()

# Whether a command that finds its cohort locked by another waits for it (the default) or is
# refused at once (`--no-wait`); set by the CLI for the command it runs.
LOCK_WAIT: ContextVar[bool] = ContextVar("LOCK_WAIT", default=True)
# Cohort locks this process holds, with a count: `demo` holds one while its `up` and `down` take
# the same lock again; threads of one command share it.
_HELD: dict[Path, int] = {}
_HELD_GUARD = threading.Lock()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def now() -> datetime:
    return datetime.now(timezone.utc)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: a reader (or a killed run)
    sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer; fsync before the rename, so a crash or a full disk leaves the
    # old file or the new one, never an empty or cut-off one (rename alone does not promise that).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class CohortState:
    root: Path          # <state-dir>/cohorts/<cohort>

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).absolute())

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

    def meta(self) -> CohortMeta:
        """What meta.json records (``CohortMeta()`` when there is none); an unreadable one is set
        aside and rebuilt (``_recover_meta``)."""
        raw = self._read_meta()
        if raw is None:
            return self._recover_meta()
        try:
            return CohortMeta.from_dict(raw)
        except MetaUnreadable:
            return self._recover_meta()

    def _read_meta(self) -> dict[str, Any] | None:
        """meta.json as JSON gives it: {} when there is none, None when it is not a JSON object."""
        try:
            raw = json.loads((self.root / "meta.json").read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            return None
        return raw if isinstance(raw, dict) else None

    def _recover_meta(self) -> CohortMeta:
        """meta.json is unreadable (cut off by a full disk, say): set it aside and rebuild what
        teardown needs (target, region, teams) from the cohort file `up` copied beside it, so
        `down` and the reaper can still act. Audited."""
        import yaml

        with self._meta_lock():
            path = self.root / "meta.json"
            raw = self._read_meta()
            if raw is not None and raw:
                try:
                    return CohortMeta.from_dict(raw)     # another thread or process recovered it meanwhile
                except MetaUnreadable:
                    pass
            aside = path.with_name(f"meta.json.unreadable-{int(datetime.now().timestamp())}")
            if path.exists():
                path.replace(aside)
            try:
                spec = yaml.safe_load(self.spec_copy.read_text()) or {}
            except (OSError, yaml.YAMLError):
                spec = {}
            spec = spec if isinstance(spec, dict) else {}
            teams = [t["name"] for t in spec.get("teams") or [] if isinstance(t, dict) and isinstance(t.get("name"), str)]
            meta = CohortMeta(cohort=self.id, target=str(spec.get("target", "embedded")),
                              region=str(spec.get("region", "us-east-1")), all_teams=tuple(teams), status="up",
                              recovered={"at": now().isoformat(), "set_aside": str(aside),
                                         "from": str(self.spec_copy) if spec else None})
            self._write_meta(meta)
        self.audit("recover", "meta-unreadable", set_aside=str(aside))
        return meta

    def write_meta(self, meta: CohortMeta) -> None:
        with self._meta_lock():
            self._write_meta(meta)

    def _write_meta(self, meta: CohortMeta) -> None:
        # Readers never see half a file (write_atomic: a temporary file, fsync, rename).
        write_atomic(self.root / "meta.json", json.dumps(meta.as_dict(), indent=2, sort_keys=True, default=str))

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

    def update_meta(self, **changes: Any) -> CohortMeta:
        """Change the named fields of CohortMeta and keep the rest (read, change, write under the
        lock); a name that is not a field raises TypeError and writes nothing."""
        with self._meta_lock():
            meta = self.meta().updated(**changes)
            self._write_meta(meta)
        return meta

    def set_team(self, team: str, **changes: Any) -> None:
        """Change the named fields of ``team``'s TeamRecord, as update_meta does for the cohort."""
        with self._meta_lock():
            self._write_meta(self.meta().with_team(team, **changes))

    @property
    def lock_file(self) -> Path:
        return self.root / ".cohort.lock"

    def lock_holder(self) -> LockHolder | None:
        """Who holds (or last held, if it died holding) the cohort lock, as recorded in the lock file."""
        try:
            text = self.lock_file.read_text()
        except FileNotFoundError:
            return None
        try:
            holder = json.loads(text) if text.strip() else None
        except ValueError:
            return None
        return LockHolder.from_dict(holder) if isinstance(holder, dict) else None

    @contextmanager
    def exclusive(self, command: str, wait: bool | None = None,
                  say: Callable[[str], None] = _say) -> Iterator[None]:
        """One state-changing command per cohort at a time, across processes and machines' shells.

        The kernel's flock does the locking, so a lock whose holder was killed is free at once; the
        holder's record (pid, host, command, start) stays in the file and is reported when the next
        command takes over. A second command waits and says for whom, or is refused (``--no-wait``).
        """
        key = self.lock_file
        with _HELD_GUARD:
            if _HELD.get(key):
                _HELD[key] += 1
                reentered = True
            else:
                reentered = False
        if reentered:
            try:
                yield
            finally:
                with _HELD_GUARD:
                    _HELD[key] -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(key, "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = describe_holder(self.lock_holder())
                if not (LOCK_WAIT.get() if wait is None else wait):
                    raise RefusedError(f"cohort {self.id} is busy: {who}; rerun without --no-wait to wait for it") from None
                say(f"waiting for cohort {self.id}: {who} (Ctrl-C to stop waiting)")
                fcntl.flock(fh, fcntl.LOCK_EX)
            previous = self.lock_holder()
            if previous and not previous.alive_here():
                say(f"cohort {self.id}: taking over the lock left by {describe_holder(previous)}, "
                    "which ended without releasing it (killed?)")
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(LockHolder(os.getpid(), socket.gethostname(), _who(), command,
                                           now().isoformat(timespec="seconds")).as_dict()))
            fh.flush()
            with _HELD_GUARD:
                _HELD[key] = 1
            try:
                yield
            finally:
                with _HELD_GUARD:
                    _HELD.pop(key, None)
                fh.seek(0)
                fh.truncate()
                fh.flush()
        finally:
            fh.close()      # closing releases the flock

    def teams_with_state(self) -> list[str]:
        base = self.root / "teams"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def has_resources(self, team: str) -> bool:
        return tfstate.has_resources(tfstate.read_or_none(self.team_dir(team) / tfstate.STATE_FILE))

    def audit_entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit log's entries, oldest first (the last ``limit`` with a limit). A line that is
        not JSON (a write cut off by a full disk) is kept as what it is, not dropped or fatal."""
        try:
            lines = [ln for ln in (self.root / "audit.log").read_text().splitlines() if ln.strip()]
        except FileNotFoundError:
            return []
        if limit:
            lines = lines[-limit:]
        out = []
        for ln in lines:
            try:
                entry = json.loads(ln)
            except ValueError:
                entry = None
            out.append(entry if isinstance(entry, dict) else {"result": "unreadable line", "line": ln[:200]})
        return out

    def audit(self, command: str, result: str, **details: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        entry = {"at": now().isoformat(), "who": _who(), "command": command, "result": result, **details}
        line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
        with open(self.root / "audit.log", "ab+") as fh:
            # A previous write cut off mid-line (a full disk) must not swallow this entry.
            if fh.seek(0, os.SEEK_END) and (fh.seek(-1, os.SEEK_END), fh.read(1))[1] != b"\n":
                line = b"\n" + line
            fh.write(line)


@dataclass(frozen=True)
class LockHolder:
    """The record in ``.cohort.lock`` of the command that holds (or last held) the cohort lock.
    A field a damaged or foreign record lacks reads as None and is shown as '?'."""

    pid: int | None
    host: str | None
    user: str | None
    command: str | None
    since: str | None          # ISO 8601, to the second

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LockHolder:
        def text(key: str) -> str | None:
            value = doc.get(key)
            return None if value is None else str(value)

        pid = doc.get("pid")
        try:
            pid = int(pid) if pid is not None and not isinstance(pid, bool) else None
        except (TypeError, ValueError):
            pid = None
        return cls(pid, text("host"), text("user"), text("command"), text("since"))

    def as_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "user": self.user, "command": self.command, "since": self.since}

    def describe(self) -> str:
        def shown(value: object) -> str:
            return "?" if value is None else str(value)

        # Not written as "labctl <command>": that reads as a next step to run, and it is not one.
        return (f"'{shown(self.command)}' (pid {shown(self.pid)} on {shown(self.host)}, "
                f"user {shown(self.user)}, since {shown(self.since)})")

    def alive_here(self) -> bool:
        """Whether the recorded holder still runs; one on another host is taken as gone (its flock,
        which is what excludes, is already free)."""
        if self.host != socket.gethostname() or self.pid is None or self.pid <= 0:   # 0, -1: a group, not a process
            return False
        try:
            os.kill(self.pid, 0)
        except (ProcessLookupError, OverflowError):
            return False
        except PermissionError:
            return True
        return True


def describe_holder(holder: LockHolder | None) -> str:
    return holder.describe() if holder else "another labctl command holds its lock"


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - containers without a passwd entry
        return str(os.getuid())


@dataclass(frozen=True)
class StateDir:
    root: Path

    def __post_init__(self) -> None:
        # Paths under the state directory reach terraform (which runs in each team's directory)
        # and files other processes read: they must not depend on the working directory.
        object.__setattr__(self, "root", Path(self.root).absolute())

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
