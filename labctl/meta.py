"""What a cohort's meta.json records, as typed frozen values: ``CohortMeta`` (what `up` deployed
and how `down` ended it) and a ``TeamRecord`` per team (its last terraform outcome). Pure: the
reading, locking and atomic writing are ``labctl.state.CohortState``'s.

A meta.json written by an earlier release loads: a missing key takes its default, and a key this
release does not know is kept (``extra``) and written back unchanged. Changes name fields, and a
name that is not a field is a bug (``TypeError``), never a silent new key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar


class MetaUnreadable(ValueError):
    """meta.json is JSON, but a field holds what no release writes there (a time that is not one,
    a team list that is not a list): read as unreadable, like a file cut off."""


_R = TypeVar("_R", bound="_Record")


class _Record:
    """from_dict / as_dict / updated for the two record types below."""

    extra: Mapping[str, Any]

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls) if f.name != "extra")  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[_R], data: Mapping[str, Any]) -> _R:
        if not isinstance(data, Mapping):
            raise MetaUnreadable(f"{cls.__name__}: expected an object, found {type(data).__name__}")
        names = cls.field_names()
        return cls(**{k: v for k, v in data.items() if k in names},
                   extra={k: v for k, v in data.items() if k not in names})

    def updated(self: _R, **changes: Any) -> _R:
        unknown = sorted(set(changes) - self.field_names())
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(unknown)} "
                            f"(fields: {', '.join(sorted(self.field_names()))})")
        return replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; a field that holds nothing (None, empty) is left out, as before it was set."""
        out: dict[str, Any] = dict(self.extra)
        for f in fields(self):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            value = _plain(getattr(self, f.name))
            if value is not None and value != [] and value != {}:
                out[f.name] = value
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, _Record):
        return value.as_dict()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _time(name: str, value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MetaUnreadable(f"{name}: not an ISO 8601 time: {value!r}") from None


def _names(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not all(isinstance(v, str) for v in value):
        raise MetaUnreadable(f"{name}: not a list of names: {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class TeamRecord(_Record):
    """A team's last terraform outcome, as `up`, `team apply` and `down` record it."""

    status: str | None = None               # created, changed, failed, destroyed, destroy-failed, ...
    error: str | None = None                # the one line that says why it failed
    at: str | None = None                   # when ``status`` was recorded (ISO 8601)
    summary: Mapping[str, Any] | None = None    # terraform's change summary of the last run
    # Set before terraform applies and cleared when it has finished on its own: still set at the
    # next apply, the last one was interrupted (a time, or "interrupted batch").
    applying: str | None = None
    knobs_sha: str | None = None            # the knobs file `team apply` applied last
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CohortMeta(_Record):
    """What `up` recorded of a cohort's deployment, and how `down` ended it. ``target`` and
    ``region`` default as the cohort file does, so a file without them reads as that file did."""

    cohort: str | None = None
    source: str | None = None               # the cohort file `up` was given (absolute path)
    target: str = "embedded"                # embedded, localstack or aws
    region: str = "us-east-1"
    lab: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None      # the reaper tears the cohort down after it
    emulator_boot_id: str | None = None     # embedded: the emulator run that holds the resources
    endpoint_url: str | None = None         # embedded or localstack: the AWS API endpoint
    aws_profile: str | None = None          # aws: the profile the cohort file named
    all_teams: tuple[str, ...] = ()
    status: str | None = None               # up, down, down-with-leftovers
    down_at: str | None = None              # when `down` finished (the proof's time)
    k8s: str | None = None                  # "kind" when the clusters are kind clusters
    kind_cluster: str | None = None
    metrics_urls: tuple[str, ...] = ()      # DCGM exporters `collect` reads (written by hand)
    recovered: Mapping[str, Any] | None = None   # set when an unreadable meta.json was rebuilt
    teams: Mapping[str, TeamRecord] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Values arrive as JSON gives them (strings, lists, objects) or typed; hold them typed.
        for name in ("window_start", "window_end"):
            object.__setattr__(self, name, _time(name, getattr(self, name)))
        for name in ("all_teams", "metrics_urls"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        if not isinstance(self.teams, Mapping):
            raise MetaUnreadable(f"teams: not an object: {self.teams!r}")
        object.__setattr__(self, "teams", {name: rec if isinstance(rec, TeamRecord) else TeamRecord.from_dict(rec)
                                           for name, rec in self.teams.items()})

    @property
    def recorded(self) -> bool:
        """Whether anything was recorded (a cohort `up` never reached has nothing)."""
        return self != CohortMeta()

    @property
    def localstack_endpoint(self) -> str | None:
        """The endpoint that tools outside labctl (the AWS CLI in a kubeconfig) must be pointed
        at: LocalStack's; the emulator's is for labctl only, and AWS's is the default."""
        return self.endpoint_url if self.target == "localstack" else None

    def team(self, name: str) -> TeamRecord:
        return self.teams.get(name) or TeamRecord()

    def with_team(self, name: str, **changes: Any) -> CohortMeta:
        """This record with team ``name``'s fields changed (the others kept)."""
        return replace(self, teams={**self.teams, name: self.team(name).updated(**changes)})
