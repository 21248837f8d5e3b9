"""Typed, frozen models of a lab definition and a cohort; pure (no I/O).

A lab (labs/<lab>/lab.yaml) is the starting point every team gets: node groups, autoscaler,
training job, an optional inference service, checkpoints, budget and the limits on what teams
may change. A cohort file names
the lab, the target, the region, the session window and the teams; a team may override knobs,
which are merged onto the lab and validated by the same models.
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")

# Longest names derived from these (see labctl.naming) must fit AWS limits; these caps keep every
# derived name valid and are checked again per derived name with the team named in the error.
MAX_COHORT_LEN = 20
MAX_TEAM_LEN = 20

# Ceilings that catch a typo (an extra zero, .inf) before it becomes an AWS Budget: a team's
# budget for one session, and the facilitator's cap on a whole cohort (100 teams at most).
MAX_TEAM_BUDGET_USD = Decimal(10_000)
MAX_COHORT_CAP_USD = Decimal(1_000_000)
# A lab's longest session unless its limits say otherwise (limits.max_window_hours).
DEFAULT_MAX_WINDOW_HOURS = 12

Label = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=63)]
InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", max_length=32)]
K8sQuantity = Annotated[str,
                        # `cpu: 4` is as natural to write as `cpu: "4"`; both are the quantity 4.
                        BeforeValidator(lambda v: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v),
                        StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")]
Budget = Annotated[Decimal, Field(gt=0, le=MAX_TEAM_BUDGET_USD, allow_inf_nan=False)]


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

    @field_validator("expander")
    @classmethod
    def _expander_on_aws(cls, v: str) -> str:
        # Every target is EKS; the autoscaler refuses to start with this expander there.
        if v == "price":
            raise ValueError("the 'price' expander works only on GCE, GKE and Equinix Metal (cluster-autoscaler "
                             "FAQ), not on AWS; use 'priority' (labctl ranks spot above on-demand) or 'least-waste'")
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
    # The workload's step (labs/workload/env-contract.json): compute per step, GPU busy share and
    # checkpoint size follow them (labctl.sim.workload).
    batch_size: int = Field(default=1024, ge=1, le=65536)
    hidden_size: int = Field(default=4096, ge=8, le=65536)


class InferenceReplicas(Strict):
    """Bounds of the HorizontalPodAutoscaler (minReplicas, maxReplicas)."""

    min: int = Field(default=1, ge=1, le=16)
    max: int = Field(default=2, ge=1, le=16)

    @model_validator(mode="after")
    def _bounds(self) -> InferenceReplicas:
        if self.max < self.min:
            raise ValueError(f"need min <= max, got min {self.min} > max {self.max}")
        return self


class Inference(Strict):
    """An optional inference Deployment behind a ClusterIP Service, scaled by an HPA on CPU.

    Off by default in every lab; a lab or a team's knobs switch it on. Its GPUs at max replicas
    count against the same per-team quota as the training job (labctl.spec.load checks it).
    """

    enabled: bool = False
    name: Label = "inference"
    # A placeholder in the training job's registry; a team points it at its own server image.
    image: str = Field(default="ghcr.io/labctl/inference:0.1.0", pattern=r"^[a-z0-9][a-z0-9._/:@-]*$", max_length=255)
    pool: Literal["on-demand", "spot"] = "on-demand"
    replicas: InferenceReplicas = InferenceReplicas()
    gpus_per_replica: int = Field(default=1, ge=1, le=8)
    target_cpu_utilization: int = Field(default=70, ge=10, le=95)
    cpu: K8sQuantity = "2"
    memory: K8sQuantity = "8Gi"
    port: int = Field(default=8080, ge=1024, le=65535)   # the pods run as non-root: no port below 1024


class Checkpoints(Strict):
    expiry_days: int = Field(default=7, ge=1, le=365)


class Limits(Strict):
    """What teams may change: knobs outside these are refused."""

    max_gpus_per_team: int = Field(ge=0, le=256)
    max_nodes_per_group: int = Field(default=10, ge=1, le=100)
    max_window_hours: int = Field(default=DEFAULT_MAX_WINDOW_HOURS, ge=1, le=168,
                                  description="Longest session window a cohort of this lab may ask for.")
    gpu_instance_types: list[InstanceType] = Field(min_length=1)
    system_instance_types: list[InstanceType] = Field(min_length=1)


class SimThroughput(Strict):
    """The workload's speed on one GPU model, overriding labs/workload/calibration.json."""

    samples_per_second: float = Field(gt=0, description="Training samples per second on one GPU of this model.")
    gpu_utilization_pct: float = Field(default=95, ge=0, le=100,
                                       description="DCGM_FI_DEV_GPU_UTIL while the job computes on this GPU.")
    gpu_memory_used_mib: float = Field(default=0, ge=0, description="DCGM_FI_DEV_FB_USED while the job runs.")
    source: str = Field(min_length=1, description="Where the figures come from (a measurement, a datasheet).")


class SimDrill(Strict):
    """A facilitator's drill: something the market does at a fixed time of the class."""

    kind: Literal["interrupt", "shortage"] = Field(
        description="interrupt: every running spot node of the pool gets the 2-minute notice at `at`; "
                    "shortage: no capacity for `instance_type` (in `capacity_type`) from `at` for `duration`.")
    at: str = Field(default="0m", description="Offset from the start of the simulated class, e.g. '90m'.")
    duration: str = Field(default="4h", description="How long a shortage lasts (ignored for interrupt).")
    pool: Literal["gpu_spot", "gpu_on_demand", "system"] = Field(
        default="gpu_spot", description="Node group an interrupt drill hits.")
    instance_type: InstanceType | None = Field(default=None, description="Type a shortage removes (None: every type).")
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(default="SPOT", description="Market a shortage hits.")

    @field_validator("at", "duration")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


class SimSpot(Strict):
    """How the simulated spot market behaves (labctl.sim.market documents the mapping)."""

    interruption_band_monthly_pct: dict[str, float] = Field(
        default={"<5%": 2.5, "5-10%": 7.5, "10-15%": 12.5, "15-20%": 17.5, ">20%": 25.0},
        description="Spot Instance Advisor interruption band -> assumed % of instances interrupted per "
                    "730-hour month (band midpoints; '>20%' read as 25). Turned into a per-node Poisson "
                    "rate: -ln(1 - pct/100) / 730 per hour.")
    interruption_multiplier: float = Field(
        default=1.0, ge=0, description="Scales every interruption rate (1 = the Advisor's figures; a "
                                       "facilitator may raise it to make interruptions likely in 4 hours).")
    notice: str = Field(default="2m", description="Time between the interruption notice and the reclaim (AWS: 2 minutes).")
    drain_on_notice: bool = Field(
        default=True, description="The node is cordoned and drained at the notice (EKS managed node groups drain "
                                  "spot nodes; the trainer checkpoints on SIGTERM when checkpointing is on). "
                                  "False: pods die at the reclaim and resume from the last periodic checkpoint.")
    allocation_strategy: Literal["capacity-optimized", "lowest-price"] = Field(
        default="capacity-optimized",
        description="How a spot node group picks among its instance types: capacity-optimized (the lowest "
                    "interruption band, then the lowest price; EKS managed node groups' strategy) or lowest-price.")

    @field_validator("notice")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


class Simulation(Strict):
    """The simulated class (labctl.sim): every modelling assumption, with its meaning. Figures that
    are assumptions rather than sourced facts say so; override any of them here or per cohort."""

    tick: str = Field(default="30s", description="Simulated time step of the scheduler, kubelets and job progress.")
    scan_interval: str = Field(default="30s", description="cluster-autoscaler --scan-interval (upstream default 10s; "
                                                         "rounded up to the tick).")
    sample_every: str = Field(default="1m", description="Telemetry scrape interval (DCGM exporter / metrics-server).")
    boot_delay: str = Field(default="3m", description="From RunInstances to a Ready node with GPUs advertised "
                                                      "(assumption: EKS GPU AMI boot + join + device plugin).")
    pod_start_delay: str = Field(default="1m", description="From binding to the container running (image pull, "
                                                           "start; assumption).")
    restore_delay: str = Field(default="1m", description="Extra start time when a job resumes from a checkpoint "
                                                         "(download + load; assumption).")
    max_pods: int = Field(default=110, ge=1, le=737, description="Pods per node the kubelet allows; also sizes "
                                                                  "kube-reserved memory (255 MiB + 11 MiB per pod, EKS AMI).")
    runs: int = Field(default=2, ge=0, le=50, description="How many times each team runs its training Job during the class.")
    first_submit: str = Field(default="5m", description="When the first run is submitted, from the class start.")
    gap_between_runs: str = Field(default="10m", description="Think time between a run's completion and the next submission.")
    reference_gpu: str = Field(default="A10G", description="GPU model the work amount is measured on.")
    run_reference_gpu_hours: float = Field(
        default=1.0, gt=0, description="Work of one run (the Job's total_steps) in hours of one reference GPU at "
                                      "full efficiency; other GPUs take it × their relative throughput.")
    data_loading_efficiency: float = Field(
        default=0.9, gt=0, le=1, description="Fraction of the GPU's throughput the input pipeline lets through "
                                             "(assumption; 1 = compute bound).")
    multi_gpu_scaling: float = Field(
        default=0.9, gt=0, le=1, description="Each GPU beyond the first adds this fraction of one GPU's throughput "
                                             "(assumption for data-parallel training on one node).")
    engine_active_per_util: float = Field(
        default=1.0, gt=0, le=1, description="DCGM_FI_PROF_GR_ENGINE_ACTIVE as a fraction of GPU_UTIL/100 "
                                             "(1 = no separate figure; real kernels often show less).")
    throughput: dict[str, SimThroughput] = Field(
        default={}, description="Per GPU model (T4, A10G, L4, L40S, V100, A100, H100): overrides the workload's "
                                "calibration.json estimate.")
    spot: SimSpot = SimSpot()
    drills: list[SimDrill] = Field(default=[], description="Scheduled interruptions and capacity shortages.")

    @field_validator("tick", "scan_interval", "sample_every", "boot_delay", "pod_start_delay", "restore_delay",
                     "first_submit", "gap_between_runs")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


class Lab(Strict):
    name: Label
    title: str
    description: str = ""
    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.\d{2}$")] = "1.31"
    budget_usd: Budget
    node_groups: NodeGroups
    autoscaler: Autoscaler = Autoscaler()
    job: Job = Job()
    inference: Inference = Inference()
    checkpoints: Checkpoints = Checkpoints()
    limits: Limits
    simulation: Simulation = Simulation()


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
    budget_usd: Budget | None = None
    knobs: dict[str, object] = {}


class Endpoints(Strict):
    """Override endpoints (the localstack target defaults to http://localhost:4566)."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/.*)?$")] | None = None


def _account_id(value: object) -> object:
    """An AWS account id is twelve digits; YAML reads an unquoted one as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        if len(text) != 12:
            raise ValueError(f"{value} is not a 12-digit AWS account id (write it in quotes, e.g. \"012345678901\": "
                             "YAML reads a number and drops its leading zeros)")
        return text
    if not isinstance(value, str) or not re.fullmatch(r"\d{12}", value):
        raise ValueError(f"{value!r} is not a 12-digit AWS account id like \"111122223333\"")
    return value


AccountId = Annotated[str, BeforeValidator(_account_id)]
ROLE_NAME = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
DEFAULT_ACCOUNT_ROLE = "OrganizationAccountAccessRole"


# Organizations ids (the API's own patterns): an OU, or the organization's root.
OU_ID = r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
ROOT_ID = r"^r-[0-9a-z]{4,32}$"
# What CreateAccount takes as Email (6-64 characters, one @, a dot in the domain).
EMAIL = r"^[^\s@]+@[^\s@]+\.[^\s@]+$"
EMAIL_PLACEHOLDERS = ("cohort", "team")


def email_template_fields(template: str) -> list[str]:
    """The ``{placeholders}`` in ``template`` (ValueError when its braces do not parse)."""
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


class Organization(Strict):
    """Teams without an account under ``accounts.teams`` get one from AWS Organizations: labctl
    reuses the ACTIVE account named ``<cohort>-<team>`` (or with the email below) in ``parent_id``,
    else creates it and moves it there (labctl.ops.target, labctl.aws.organizations)."""

    parent_id: str
    email: str

    @field_validator("parent_id")
    @classmethod
    def _parent_id(cls, v: str) -> str:
        if not (re.fullmatch(OU_ID, v) or re.fullmatch(ROOT_ID, v)):
            raise ValueError(f"{v!r} is neither an organizational unit id (ou-ab12-cd34ef56) nor a root id (r-ab12)")
        return v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        try:
            fields = email_template_fields(v)
        except ValueError as exc:
            raise ValueError(f"{v!r} is not an email template: {exc}") from None
        bad = [f for f in fields if f not in EMAIL_PLACEHOLDERS]
        if bad:
            raise ValueError(f"{v!r} uses {{{bad[0]}}}: an account's email template may use only {{cohort}} and {{team}}")
        if "team" not in fields:
            raise ValueError(f"{v!r} has no {{team}}: every team's account needs an email of its own")
        if not re.fullmatch(EMAIL, v.format(cohort="c", team="t")):
            raise ValueError(f"{v!r} does not make an email address, e.g. \"labs+{{cohort}}-{{team}}@example.com\"")
        return v

    def email_of(self, cohort: str, team: str) -> str:
        return self.email.format(cohort=cohort, team=team)


def account_name(cohort: str, team: str) -> str:
    """The AccountName labctl gives (and looks for) in Organizations: ``<cohort>-<team>``."""
    return f"{cohort}-{team}"


class Accounts(Strict):
    """Where the teams' resources live. ``shared`` (the default): every team in the account the
    facilitator's credentials reach, kept apart by tag-scoped IAM. ``per-team``: each team in its
    own account (``teams``: team -> account id), reached by assuming ``role_name`` there; which
    team has which account, and that no two share one, is checked in labctl.spec.accounts.
    With ``organization``, a team not named under ``teams`` gets its account from that OU (found
    or created at `up`); a team named under ``teams`` keeps the account named there."""

    mode: Literal["shared", "per-team"] = "shared"
    role_name: str = DEFAULT_ACCOUNT_ROLE
    teams: dict[str, AccountId] = {}
    organization: Organization | None = None

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, v: str) -> str:
        if not re.fullmatch(ROLE_NAME, v):
            raise ValueError(f"{v!r} is not an IAM role name (1-64 letters, digits and + = , . @ _ -), "
                             f"e.g. {DEFAULT_ACCOUNT_ROLE}")
        return v

    @model_validator(mode="after")
    def _organization_needs_per_team(self) -> Accounts:
        if self.organization is not None and self.mode != "per-team":
            raise ValueError("accounts.organization is read only with `mode: per-team`")
        return self

    @property
    def per_team(self) -> bool:
        return self.mode == "per-team"

    def account_of(self, team: str) -> str | None:
        """The team's own account id; None in shared mode (the facilitator's account)."""
        return self.teams.get(team) if self.per_team else None


class StateStorage(Strict):
    """Where each team's Terraform state lives. ``local`` (the default): ``terraform.tfstate`` in the
    team's directory of the state directory, as offline rehearsals want. ``s3``: one bucket per cohort
    in the facilitator's account (versioned, encrypted, private), locked by Terraform's S3 lock file,
    so a second machine with the cohort file and credentials can act on the cohort. ``keep`` leaves
    the bucket, with every state version, after `down` has written its proofs (for audit)."""

    backend: Literal["local", "s3"] = "local"
    keep: bool = False

    @model_validator(mode="after")
    def _keep_needs_s3(self) -> StateStorage:
        if self.keep and self.backend != "s3":
            raise ValueError("state.keep is read only with `backend: s3` (a local state stays in the state directory)")
        return self

    @property
    def remote(self) -> bool:
        return self.backend == "s3"


class Cohort(Strict):
    cohort: Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=MAX_COHORT_LEN)]
    target: Literal["embedded", "localstack", "aws"] = "embedded"
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")] = "us-east-1"
    window: Window
    lab: Label
    teams: list[Team] = Field(min_length=1, max_length=100)
    endpoints: Endpoints = Endpoints()
    aws_profile: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    facilitator_cap_usd: Annotated[Decimal, Field(gt=0, le=MAX_COHORT_CAP_USD, allow_inf_nan=False)] | None = None
    # target aws: IAM principals (e.g. the workshop SSO role) allowed to assume each team's role;
    # empty means the account root, so the facilitator delegates by IAM policy.
    team_access_principal_arns: list[Annotated[str, StringConstraints(
        pattern=r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]+$")]] = []
    # Addresses (e.g. the venue's egress, 203.0.113.0/24) allowed to reach each team's public
    # Kubernetes API endpoint; empty means from anywhere (0.0.0.0/0), still behind IAM.
    api_access_cidrs: list[IPv4Network] = Field(default=[], max_length=40)
    # One account per team (per-team) or all in the facilitator's (shared, the default).
    accounts: Accounts = Accounts()
    # Where the teams' Terraform state lives: local files (the default) or an S3 bucket per cohort.
    state: StateStorage = StateStorage()
