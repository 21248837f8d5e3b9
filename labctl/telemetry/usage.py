"""Store rows -> the cost engine's inputs (``labctl.cost.model.Usage`` / ``Workload``) and the
per-team time series the live view and the debrief draw. Pure: takes rows, returns values.

Conventions for rows, whichever source wrote them (collectors here, the simulator elsewhere):

- lifecycle rows of a ``labctl.cost.model.KINDS`` kind are usage; other kinds are skipped with a
  note. One resource recorded by several sources (the simulator launched an instance in the
  emulator and the AWS collector saw it too) is counted once: the rows of the first source in
  ``SOURCE_PRECEDENCE`` that has the resource win, so nothing is billed twice.
- GPU samples use DCGM names. ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` is 0..1 and preferred;
  ``DCGM_FI_DEV_GPU_UTIL`` (0..100) is used, divided by 100, only for a team without it.
  A sample is pod-level when its attrs say ``kind: pod`` (or carry ``pod``), else node-level.
- Pods: samples ``pod_gpu_request`` / ``pod_cpu_request`` / ``pod_ram_request_gib`` /
  ``pod_cpu_usage`` / ``pod_ram_usage_gib`` per pod (entity ``namespace/pod``) with attrs
  ``node`` (the node's resource id) and ``job`` (the run it belongs to). A pod seen only in DCGM
  samples with a ``node`` attr counts as a 1-GPU pod. A pod name can come back in a later run
  (a Job recreated under the same name), on another node: each run is a workload of its own, on
  the node its samples name, from its first sample to its last plus one step (``workloads``).
- ``job_progress`` is 0..1 (values above 1 are read as percent); ``job-completed`` events name the
  run in ``entity`` (or ``payload.job`` / ``payload.run``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from labctl.cost import model
from labctl.cost.model import KINDS, Usage, Workload
from labctl.telemetry.rows import Event, Lifecycle, Sample

ENGINE_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
JOB_PROGRESS = "job_progress"
JOB_PROGRESS_RATIO = "job_progress_ratio"       # the simulator's name for the same 0..1 figure
POD_GPU_REQUEST = "pod_gpu_request"
POD_CPU_REQUEST = "pod_cpu_request"
POD_RAM_REQUEST = "pod_ram_request_gib"
POD_CPU_USAGE = "pod_cpu_usage"
POD_RAM_USAGE = "pod_ram_usage_gib"
POD_METRICS = (POD_GPU_REQUEST, POD_CPU_REQUEST, POD_RAM_REQUEST, POD_CPU_USAGE, POD_RAM_USAGE)
NODEGROUP_DESIRED = "nodegroup_desired_size"
NODEGROUP_MIN = "nodegroup_min_size"
NODEGROUP_MAX = "nodegroup_max_size"
BUDGET_LIMIT = "budget_limit_usd"
BUDGET_ACTUAL = "budget_actual_usd"

# what the live view and the debrief read (the store holds more, e.g. DCGM_FI_DEV_FB_USED)
REPORT_METRICS = (ENGINE_ACTIVE, GPU_UTIL, JOB_PROGRESS, JOB_PROGRESS_RATIO, BUDGET_LIMIT, *POD_METRICS)

INTERRUPTION = "spot-interruption-notice"
EVICTION = "pod-evicted"
JOB_COMPLETED = "job-completed"

# "terraform": what `up` and `down` recorded from the state (labctl.telemetry.provisioned); a
# collector that lists the same resource knows more (a bucket's size), so it wins when present.
PROVISIONED = "terraform"
SOURCE_PRECEDENCE: tuple[str, ...] = ("simulator", "aws-api", PROVISIONED, "cluster", "dcgm")

SIMULATED, METERED, BILLED = model.SIMULATED, model.METERED, model.BILLED
basis_of = model.basis_of      # one labelling for the debrief and FOCUS (labctl.cost.model)

STEP = timedelta(minutes=1)


def _rank(source: str, precedence: Sequence[str]) -> int:
    return precedence.index(source) if source in precedence else len(precedence)


def node_ids(rows: Iterable[Lifecycle]) -> dict[str, str]:
    """Kubernetes node name -> instance id, from instance rows whose attrs name their node."""
    return {str(r.attrs["node"]): r.resource_id for r in rows if r.kind == "instance" and r.attrs.get("node")}


def to_usage(r: Lifecycle) -> Usage:
    """One lifecycle row as the ledger's Usage: a field-for-field mapping."""
    return Usage(team=r.team, resource_id=r.resource_id, kind=r.kind, region=r.region, start=r.start, end=r.end,
                 instance_type=r.instance_type, market=r.market, spot_price_usd_per_hour=r.spot_price, gb=r.gb,
                 count=r.count, availability_zone=r.availability_zone, source=r.source)


def usages(rows: Iterable[Lifecycle], precedence: Sequence[str] = SOURCE_PRECEDENCE) -> tuple[list[Usage], list[str]]:
    """Lifecycle rows as ledger usage, one source per resource; notes say what was left out."""
    by_resource: dict[tuple[str, str], list[Lifecycle]] = defaultdict(list)
    notes: list[str] = []
    for r in rows:
        if r.kind not in KINDS:
            continue  # node groups, budgets...: not usage (sizes are samples, instances are priced)
        by_resource[(r.team, r.resource_id)].append(r)
    out: list[Usage] = []
    provisioned: dict[str, int] = defaultdict(int)
    for (team, rid), group in by_resource.items():
        best = min(_rank(r.source, precedence) for r in group)
        chosen = [r for r in group if _rank(r.source, precedence) == best]
        dropped = sorted({r.source for r in group} - {r.source for r in chosen})
        if dropped == [PROVISIONED]:
            provisioned[chosen[0].source] += 1     # expected: `up` records what a collector also sees
        elif dropped:
            notes.append(f"{team}/{rid}: also recorded by {', '.join(dropped)}; counted once, from {chosen[0].source}")
        for r in chosen:
            try:
                out.append(to_usage(r))
            except ValueError as exc:
                notes.append(f"{team}/{rid}: left out: {exc}")
    for source, n in sorted(provisioned.items()):
        notes.append(f"{n} resource(s) recorded by `up` from the Terraform state and by {source}: "
                     f"counted once, from {source}")
    out.sort(key=lambda u: (u.team, u.start, u.resource_id))
    return out, notes


def is_pod(s: Sample) -> bool:
    """Pod-level: says so, names its pod, or names the node it ran on (node series do not)."""
    kind = s.attrs.get("kind")
    if kind in ("pod", "node"):
        return kind == "pod"
    return "pod" in s.attrs or "node" in s.attrs or s.metric in POD_METRICS


def _ratio(s: Sample) -> float:
    v = s.value / 100.0 if s.metric == GPU_UTIL else s.value
    return min(max(v, 0.0), 1.0)


def completed_runs(events: Iterable[Event]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.kind == JOB_COMPLETED:
            out[e.team].add(str(e.payload.get("run") or e.payload.get("job") or e.entity or e.ts.isoformat()))
    return dict(out)


def _cadence(times: Iterable[datetime], default: timedelta) -> timedelta:
    """The sampling interval: the smallest step between distinct sample times (``default`` if one)."""
    ts = sorted(set(times))
    gaps = [b - a for a, b in zip(ts, ts[1:], strict=False) if b > a]
    return min(gaps) if gaps else default


def _runs_of(series: list[Sample], cadence: timedelta) -> list[list[Sample]]:
    """One pod name's samples cut into runs: a new run starts where the node the samples name
    changes, where the run the samples name changes, or after a gap of more than one sampling
    interval (a Job's pod name repeats across runs, e.g. ``train-0-001``: each run is its own
    workload, on the node it really used, and the time between runs belongs to nobody)."""
    runs: list[list[Sample]] = []
    last_ts: datetime | None = None
    node: object = None
    run: object = None
    for s in series:
        n, r = s.attrs.get("node"), s.attrs.get("run")
        if (not runs or (last_ts is not None and s.ts - last_ts > cadence * 3 / 2)
                or (n is not None and node is not None and n != node)
                or (r is not None and run is not None and r != run)):
            runs.append([])
            node = run = None
        runs[-1].append(s)
        node, run, last_ts = node if node is not None else n, run if run is not None else r, s.ts
    return runs


def workloads(samples: Iterable[Sample], events: Iterable[Event], step: timedelta = STEP,
              node_ids: dict[str, str] | None = None) -> list[Workload]:
    """Pods (see the module docstring) as allocation workloads; pods without a node are skipped.
    ``node_ids`` maps a Kubernetes node name to the instance id the ledger knows it by.

    A pod name seen in several runs (see :func:`_runs_of`) gives one workload per run, with the
    identity ``<namespace/pod>@<first sample time>`` and the node its own samples name."""
    node_ids = node_ids or {}
    done = completed_runs(events)
    series: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    team_times: dict[str, set[datetime]] = defaultdict(set)
    for s in samples:
        if not is_pod(s) or s.metric not in POD_METRICS + (ENGINE_ACTIVE, GPU_UTIL):
            continue
        series[(s.team, s.entity)].append(s)
        team_times[s.team].add(s.ts)
    cadence = {team: _cadence(times, step) for team, times in team_times.items()}
    out: list[Workload] = []
    for (team, entity), rows in sorted(series.items()):
        rows.sort(key=lambda s: s.ts)
        runs = _runs_of(rows, cadence[team])
        for run_samples in runs:
            w = _workload(team, entity, run_samples, step, node_ids, done, unique=len(runs) > 1)
            if w is not None:
                out.append(w)
    return out


def _workload(team: str, entity: str, rows: list[Sample], step: timedelta, node_ids: dict[str, str],
              done: dict[str, set[str]], *, unique: bool) -> Workload | None:
    node = next((s.attrs.get("node") for s in rows if s.attrs.get("node")), None)
    if not node:
        return None
    # the run a job-completed event names (the simulator numbers runs), else the job's name
    run_attr = next((s.attrs["run"] for s in rows if s.attrs.get("run") is not None), None)
    job = run_attr if run_attr is not None else next((s.attrs["job"] for s in rows if s.attrs.get("job")), None)
    gpus_attr = next((s.attrs["gpus"] for s in rows if isinstance(s.attrs.get("gpus"), (int, float))), None)
    vals: dict[str, list[float]] = defaultdict(list)
    ea: list[float] = []
    util: list[float] = []
    for s in rows:
        if s.metric == ENGINE_ACTIVE:
            ea.append(_ratio(s))
        elif s.metric == GPU_UTIL:
            util.append(_ratio(s))
        else:
            vals[s.metric].append(s.value)

    def mean(xs: list[float]) -> Decimal:
        return Decimal(str(round(sum(xs) / len(xs), 6))) if xs else Decimal(0)

    gpus = (int(max(vals[POD_GPU_REQUEST])) if vals.get(POD_GPU_REQUEST)
            else int(gpus_attr) if gpus_attr is not None else (1 if ea or util else 0))
    active = ea or util
    first, last = rows[0].ts, rows[-1].ts
    run = str(job or entity)
    return Workload(
        workload_id=f"{entity}@{first.strftime('%Y-%m-%dT%H:%M:%SZ')}" if unique else entity, team=team,
        node_id=node_ids.get(str(node), str(node)), start=first, end=last + step,
        cpu_request=mean(vals.get(POD_CPU_REQUEST, [])), cpu_usage=mean(vals.get(POD_CPU_USAGE, [])),
        ram_request_gib=mean(vals.get(POD_RAM_REQUEST, [])), ram_usage_gib=mean(vals.get(POD_RAM_USAGE, [])),
        gpu_request=gpus, gpu_engine_active=min(mean(active), Decimal(1)) if active else None,
        run_id=run, completed=run in done.get(team, set()))


def floor_step(t: datetime, step: timedelta = STEP) -> datetime:
    secs = int(step.total_seconds())
    ts = int(t.timestamp())
    return t - timedelta(seconds=ts % secs, microseconds=t.microsecond)


def gpu_utilisation(samples: Iterable[Sample], step: timedelta = STEP) -> dict[str, dict[datetime, float]]:
    """Per team, per step: mean GPU busy ratio (0..1) over the GPUs reported in that step.

    Node-level series are used when a team has them (they include GPUs no pod uses, which are
    the waste a debrief must show), else pod-level ones; engine-active is preferred over
    GPU_UTIL for a team that has both.
    """
    rows: dict[tuple[str, str, bool], list[Sample]] = defaultdict(list)
    for s in samples:
        if s.metric in (ENGINE_ACTIVE, GPU_UTIL):
            rows[(s.team, s.metric, is_pod(s))].append(s)
    out: dict[str, dict[datetime, float]] = {}
    for team in sorted({k[0] for k in rows}):
        for metric in (ENGINE_ACTIVE, GPU_UTIL):
            chosen = rows.get((team, metric, False)) or rows.get((team, metric, True))
            if chosen:
                break
        sums: dict[datetime, list[float]] = defaultdict(lambda: [0.0, 0])
        for s in chosen or []:
            b = sums[floor_step(s.ts, step)]
            b[0] += _ratio(s)
            b[1] += 1
        out[team] = {t: v[0] / v[1] for t, v in sorted(sums.items())}
    return out


def utilisation_metric(samples: Iterable[Sample]) -> dict[str, str]:
    """Which DCGM field each team's utilisation comes from."""
    seen: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        if s.metric in (ENGINE_ACTIVE, GPU_UTIL):
            seen[s.team].add(s.metric)
    return {t: ENGINE_ACTIVE if ENGINE_ACTIVE in m else GPU_UTIL for t, m in seen.items()}


def job_progress(samples: Iterable[Sample]) -> dict[str, float]:
    """Per team: the latest progress of each job, averaged over its jobs (0..1)."""
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    for s in samples:
        if s.metric not in (JOB_PROGRESS, JOB_PROGRESS_RATIO):
            continue
        v = s.value / 100.0 if s.value > 1 else s.value
        key = (s.team, str(s.attrs.get("job") or s.entity))
        if key not in latest or s.ts >= latest[key][0]:
            latest[key] = (s.ts, min(max(v, 0.0), 1.0))
    per: dict[str, list[float]] = defaultdict(list)
    for (team, _job), (_ts, v) in latest.items():
        per[team].append(v)
    return {t: sum(v) / len(v) for t, v in per.items()}


def latest_value(samples: Iterable[Sample], metric: str) -> dict[str, tuple[float, str]]:
    """Per team: the sum over entities of each entity's latest value of ``metric``, with a source."""
    latest: dict[tuple[str, str], Sample] = {}
    for s in samples:
        if s.metric == metric and ((s.team, s.entity) not in latest or s.ts >= latest[(s.team, s.entity)].ts):
            latest[(s.team, s.entity)] = s
    out: dict[str, tuple[float, str]] = {}
    for (team, _), s in latest.items():
        v, src = out.get(team, (0.0, s.source))
        out[team] = (v + s.value, src)
    return out
