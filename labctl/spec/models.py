"""Typed, frozen models of a lab definition and a cohort; pure (no I/O).

A lab (labs/<lab>/lab.yaml) is the starting point every team gets: node groups, autoscaler,
training job, checkpoints, budget and the limits on what teams may change. A cohort file names
the lab, the target, the region, the session window and the teams; a team may override knobs,
which are merged onto the lab and validated by the same models.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")

# Longest names derived from these (see labctl.naming) must fit AWS limits; these caps keep every
# derived name valid and are checked again per derived name with the team named in the error.
MAX_COHORT_LEN = 20
MAX_TEAM_LEN = 20

Label = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=63)]
InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", max_length=32)]
K8sQuantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def parse_duration(text: str) -> timedelta:
    """'4h', '90m', '3h30m', '45s' -> timedelta; raises ValueError otherwise."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groupdict().values()):
        raise ValueError(f"{text!r} is not a duration like '4h', '90m' or '3h30m'")
    return timedelta(hours=int(m["h"] or 0), minutes=int(m["m"] or 0), seconds=int(m["s"] or 0))


class NodeGroup(Strict):
    instance_types: list[InstanceType] = Field(min_length=1, max_length=20)
    capacity_type: Literal["ON_DEMAND", "SPOT"]
    min_size: int = Field(ge=0, le=100)
    max_size: int = Field(ge=0, le=100)
    desired_size: int = Field(ge=0, le=100)
    disk_gib: int = Field(default=50, ge=20, le=2000)
    gpu: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> NodeGroup:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"need min_size <= desired_size <= max_size, got {self.min_size} <= {self.desired_size} <= {self.max_size}"
            )
        return self


class NodeGroups(Strict):
    system: NodeGroup
    gpu_on_demand: NodeGroup
    gpu_spot: NodeGroup

    @model_validator(mode="after")
    def _capacity_types(self) -> NodeGroups:
        if self.gpu_spot.capacity_type != "SPOT":
            raise ValueError("gpu_spot.capacity_type must be SPOT")
        if self.gpu_on_demand.capacity_type != "ON_DEMAND":
            raise ValueError("gpu_on_demand.capacity_type must be ON_DEMAND")
        return self

    def items(self) -> list[tuple[str, NodeGroup]]:
        return [("system", self.system), ("gpu_on_demand", self.gpu_on_demand), ("gpu_spot", self.gpu_spot)]


class Autoscaler(Strict):
    enabled: bool = True
    expander: Literal["random", "most-pods", "least-waste", "price", "priority"] = "least-waste"
    scale_down_enabled: bool = True
    scale_down_unneeded_time: str = "10m"
    scale_down_delay_after_add: str = "10m"
    scale_down_utilization_threshold: float = Field(default=0.5, gt=0, le=1)
    max_node_provision_time: str = "15m"

    @field_validator("scale_down_unneeded_time", "scale_down_delay_after_add", "max_node_provision_time")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


class Job(Strict):
    name: Label = "train"
    image: str = Field(default="ghcr.io/labctl/trainer:0.1.0", pattern=r"^[a-z0-9][a-z0-9._/:@-]*$", max_length=255)
    pool: Literal["on-demand", "spot"] = "on-demand"
    gpus: int = Field(default=1, ge=0, le=8)
    cpu: K8sQuantity = "4"
    memory: K8sQuantity = "16Gi"
    parallelism: int = Field(default=1, ge=1, le=16)
    completions: int = Field(default=1, ge=1, le=64)
    backoff_limit: int = Field(default=4, ge=0, le=20)
    total_steps: int = Field(default=20000, ge=1)
    checkpoint_every_steps: int = Field(default=0, ge=0)


class Checkpoints(Strict):
    expiry_days: int = Field(default=7, ge=1, le=365)


class Limits(Strict):
    """What teams may change: knobs outside these are refused."""

    max_gpus_per_team: int = Field(ge=0, le=256)
    max_nodes_per_group: int = Field(default=10, ge=1, le=100)
    gpu_instance_types: list[InstanceType] = Field(min_length=1)
    system_instance_types: list[InstanceType] = Field(min_length=1)


class Lab(Strict):
    name: Label
    title: str
    description: str = ""
    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.\d{2}$")] = "1.31"
    budget_usd: Decimal = Field(gt=0)
    node_groups: NodeGroups
    autoscaler: Autoscaler = Autoscaler()
    job: Job = Job()
    checkpoints: Checkpoints = Checkpoints()
    limits: Limits


class Window(Strict):
    start: datetime
    duration: str | None = None
    end: datetime | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamp needs a timezone, e.g. 2026-12-01T09:00:00Z")
        return v.astimezone(timezone.utc) if v is not None else v

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and parse_duration(v) <= timedelta(0):
            raise ValueError("duration must be positive")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Window:
        if (self.duration is None) == (self.end is None):
            raise ValueError("give exactly one of 'duration' or 'end'")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")
        return self

    @property
    def ends_at(self) -> datetime:
        return self.end if self.end is not None else self.start + parse_duration(self.duration or "0s")

    @property
    def hours(self) -> Decimal:
        return Decimal((self.ends_at - self.start).total_seconds()) / Decimal(3600)


class Team(Strict):
    name: Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=MAX_TEAM_LEN)]
    members: list[Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@+-]+$")]] = []
    budget_usd: Decimal | None = Field(default=None, gt=0)
    knobs: dict[str, object] = {}


class Endpoints(Strict):
    """Override endpoints (the localstack target defaults to http://localhost:4566)."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/.*)?$")] | None = None


class Cohort(Strict):
    cohort: Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=MAX_COHORT_LEN)]
    target: Literal["embedded", "localstack", "aws"] = "embedded"
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")] = "us-east-1"
    window: Window
    lab: Label
    teams: list[Team] = Field(min_length=1, max_length=100)
    endpoints: Endpoints = Endpoints()
    aws_profile: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    facilitator_cap_usd: Decimal | None = Field(default=None, gt=0)
