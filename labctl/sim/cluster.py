"""SimulatedCluster: one team's EKS cluster, simulated, behind labctl.k8s.interface.Cluster.

The API half reuses the in-memory object store of :mod:`labctl.k8s.fake` (server-side apply,
field managers, watch, delete propagation: the contract suite holds it to the real API), and adds
what a real cluster does that the fake does not:

- admission: ResourceQuota (requests/limits of cpu, memory, nvidia.com/gpu; count/jobs.batch)
  and LimitRange (defaults; max GPUs per container) when pods and Jobs are created;
- controllers: Job (pods per parallelism/completions; podFailurePolicy: a disruption or exit 143
  is retried without counting), Deployment (replicas, or its HPA's; see below), DaemonSet (a pod
  on every matching node);
- the scheduler (:mod:`labctl.sim.scheduler`) and the cluster-autoscaler
  (:mod:`labctl.sim.autoscaler`), which only acts while its own pod runs;
- nodes from the team's node groups, launched through a :class:`~labctl.sim.cloud.NodeSource`
  (the ASG keeps each group at its desired size, replacing reclaimed spot nodes);
- kubelets: pods start after a delay, training pods progress per :mod:`labctl.sim.workload`,
  checkpoint every LABCTL_WORKLOAD_CHECKPOINT_EVERY steps and on SIGTERM (as the trainer does),
  and GPUs report DCGM figures;
- the spot market (:mod:`labctl.sim.market`): notices, drains, reclaims, shortages.

The optional inference service (k8s/inference.yaml.j2) is modelled as capacity, not traffic.
Its Deployment's pods are created, admitted by the quota, scheduled by nodeSelector, taints and
requests like any pod, may make the autoscaler add a node, are evicted by drains and spot
reclaims and recreated, and keep their GPUs (so their nodes, and their cost in the ledger, stay
up); GPU-seconds they hold are counted in ``Stats.serving_gpu_seconds``, apart from training's
``gpu_busy_seconds``. Not modelled: requests, latency and CPU load, so the HorizontalPodAutoscaler
holds the Deployment at minReplicas (as a real HPA does when load stays under its target); the
Service routes nothing (it is stored, no endpoints); DCGM shows the serving GPUs at 0%
utilisation (an idle server), and rolling updates (a changed template does not replace pods).

Time only moves in :meth:`SimulatedCluster.step`; the runner owns the clock. Internal state is
plain dataclasses updated every tick; the object store is written on transitions only (a pod
bound, started, finished), as an API server would be.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from labctl.cost.catalog import Catalog, load_catalog
from labctl.k8s.fake import FakeCluster
from labctl.k8s.interface import FIELD_MANAGER, ClusterError, Obj, Propagation, Usage, WatchEvent
from labctl.spec.quantity import parse_quantity
from labctl.sim import autoscaler as ca
from labctl.sim import market
from labctl.sim.clock import SimClock
from labctl.errors import CapacityError
from labctl.sim.cloud import NodeSource, PureNodes
from labctl.sim.inputs import PoolSpec, TeamInputs
from labctl.sim.record import SOURCE, Recorder
from labctl.sim.scheduler import (
    ZERO,
    NodeView,
    PodView,
    Res,
    Taint,
    Victim,
    allocatable,
    pick_node,
    pick_preemption,
    selects,
    tolerates,
    why_not,
)
from labctl.sim.workload import DEFAULT_BATCH, DEFAULT_HIDDEN, JobShape, WorkModel
from labctl.spec.models import Simulation, parse_duration
from labctl.telemetry.rows import Lifecycle

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ENV_TOTAL = "LABCTL_WORKLOAD_TOTAL_STEPS"
ENV_CHECKPOINT = "LABCTL_WORKLOAD_CHECKPOINT_EVERY"
ENV_HIDDEN = "LABCTL_WORKLOAD_HIDDEN_SIZE"
ENV_BATCH = "LABCTL_WORKLOAD_BATCH_SIZE"
MIB = 2**20


def _secs(text: str) -> int:
    return int(parse_duration(text).total_seconds())


def seeded(seed: int, *parts: str) -> random.Random:
    """A generator of its own per (seed, team, purpose), so one team's draws never shift another's."""
    digest = hashlib.sha256("/".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class Node:
    name: str
    pool: str
    instance_type: str
    market: str                     # on-demand | spot
    instance_id: str
    az: str
    launched: int
    ready_at: int
    alloc: Res
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    gpu_model: str | None
    gpus: int
    spot_price: Decimal | None
    notice_at: int | None = None
    drill: bool = False             # the notice came from a facilitator's drill, not the market
    reclaim_at: int | None = None
    ready: bool = False
    draining: bool = False
    unneeded_since: int | None = None
    used: Res = ZERO


@dataclass
class Pod:
    namespace: str
    name: str
    owner_kind: str                 # Job | DaemonSet | Deployment | ""
    owner: str
    requests: Res
    limits_cpu_m: int
    limits_mem: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    priority: int
    can_preempt: bool
    created: int
    safe_to_evict: bool = True
    index: int = 0                  # Job completion index
    node: str | None = None
    start_at: int | None = None     # container running from
    running: bool = False
    reason: str = ""                # last FailedScheduling message
    busy_s: float = 0.0             # since the last sample: seconds its GPUs computed
    span_s: float = 0.0             # since the last sample: seconds it ran

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass
class JobRun:
    namespace: str
    name: str
    uid: str
    template: dict[str, Any]
    total_steps: int
    checkpoint_every: int
    parallelism: int
    completions: int
    submitted: int
    progress: dict[int, float] = field(default_factory=dict)     # index -> steps done in memory
    checkpoint: dict[int, int] = field(default_factory=dict)     # index -> last durable step
    succeeded: set[int] = field(default_factory=set)
    completed_at: int | None = None
    restarts: int = 0
    restarted_at: dict[int, int] = field(default_factory=dict)   # index -> when its pod was stopped
    lost_steps: float = 0.0
    pods_created: int = 0
    blocked: str = ""               # admission refusal
    shape: JobShape = JobShape()
    save_s: float = 0.0             # one checkpoint save (the GPU idles meanwhile)
    saving: dict[int, tuple[float, int]] = field(default_factory=dict)   # index -> (seconds left, step being saved)
    saves: int = 0
    save_seconds: float = 0.0


@dataclass
class Stats:
    gpu_seconds: float = 0.0        # GPUs on nodes that exist (launch to termination)
    gpu_busy_seconds: float = 0.0   # GPUs held by a computing training pod
    serving_gpu_seconds: float = 0.0   # GPUs held by a running Deployment pod (the inference service)
    node_seconds: dict[str, float] = field(default_factory=dict)   # instance type -> seconds
    jobs_completed: int = 0
    interruptions: int = 0
    evictions: int = 0
    preemptions: int = 0
    lost_steps: float = 0.0
    checkpoint_saves: int = 0
    checkpoint_save_seconds: float = 0.0
    scale_ups: int = 0
    scale_downs: int = 0
    capacity_failures: int = 0
    pending_seconds: float = 0.0
    unschedulable: dict[str, str] = field(default_factory=dict)


def _res_of(spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> tuple[Res, int, int]:
    cpu = mem = gpu = lcpu = lmem = 0
    for c in spec.get("containers") or []:
        r = dict((c.get("resources") or {}).get("requests") or {})
        lim = dict((c.get("resources") or {}).get("limits") or {})
        for k, v in lim.items():   # API defaulting (before admission): unset requests = limits
            r.setdefault(k, v)
        for k, v in (defaults.get("default") or {}).items():   # then LimitRange admission
            lim.setdefault(k, v)
        for k, v in (defaults.get("defaultRequest") or {}).items():
            r.setdefault(k, v)
        cpu += int(parse_quantity(r.get("cpu", "0")) * 1000)
        mem += int(parse_quantity(r.get("memory", "0")))
        gpu += int(parse_quantity(r.get("nvidia.com/gpu", lim.get("nvidia.com/gpu", "0"))))
        lcpu += int(parse_quantity(lim.get("cpu", "0")) * 1000)
        lmem += int(parse_quantity(lim.get("memory", "0")))
    return Res(cpu, mem, gpu, 1), lcpu, lmem


def _env(spec: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in spec.get("containers") or []:
        for e in c.get("env") or []:
            if "value" in e:
                out[e["name"]] = str(e["value"])
    return out


class SimulatedCluster:
    """One team's simulated cluster (see the module docstring)."""

    is_fake = False
    is_simulated = True

    def __init__(self, team: TeamInputs, *, clock: SimClock, catalog: Catalog, work: WorkModel,
                 nodes: NodeSource, seed: int = 0, recorder: Recorder | None = None) -> None:
        self.team = team
        self.sim = team.simulation
        self.clock = clock
        self.catalog = catalog
        self.work = work
        self.source = nodes
        self.rec = recorder or Recorder()
        self.t = 0
        self._store = FakeCluster()
        self._rng_market = seeded(seed, team.team, "market")
        self._rng_price = seeded(seed, team.team, "price")
        self._rng_expander = seeded(seed, team.team, "expander")
        self.pools: dict[str, PoolSpec] = {p.pool: p for p in team.pools}
        self.target: dict[str, int] = {p.pool: p.desired_size for p in team.pools}
        self.nodes: dict[str, Node] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        self.jobs: dict[tuple[str, str], JobRun] = {}
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.daemonsets: dict[tuple[str, str], dict[str, Any]] = {}
        self.hpas: dict[tuple[str, str], dict[str, Any]] = {}
        self.priority_classes: dict[str, tuple[int, str]] = {}
        self.quotas: dict[str, dict[str, Decimal]] = {}
        self.limit_ranges: dict[str, dict[str, Any]] = {}
        self.ca_cfg: ca.AutoscalerConfig | None = None
        self.ca_priorities: str | None = None
        self.ca_reported = False
        self.stats = Stats()
        self.warnings: list[str] = []
        self._counter: dict[str, int] = {}
        self._last_scale_up = -10**9
        self._launch_failing: dict[str, int] = {}
        self._backoff: dict[str, int] = {}
        self._tick = _secs(self.sim.tick)
        self._scan = max(self._tick, _secs(self.sim.scan_interval))
        self._boot = _secs(self.sim.boot_delay)
        self._pod_start = _secs(self.sim.pod_start_delay)
        self._restore = _secs(self.sim.restore_delay)
        self._notice = _secs(self.sim.spot.notice)
        self._shortages = market.shortages(self.sim)
        self._drills = market.interrupt_drills(self.sim)
        self._warned: set[str] = set()
        for ns in SYSTEM_NAMESPACES:
            self._store.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}],
                              field_manager="kube-apiserver")

    # ================================================================== the Cluster interface

    def apply(self, objects: Sequence[Mapping[str, Any]], *, field_manager: str = FIELD_MANAGER,
              force: bool = False) -> list[Obj]:
        out = []
        for body in objects:
            self._admit(body)
            [stored] = self._store.apply([body], field_manager=field_manager, force=force)
            self._observe(stored)
            out.append(stored)
        return out

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        return self._store.get(api_version, kind, name, namespace)

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[Obj]:
        return self._store.list(api_version, kind, namespace, label_selector)

    def watch(self, api_version: str, kind: str, namespace: str | None = None,
              label_selector: str | None = None, resource_version: str | None = None,
              timeout_s: int = 5) -> Iterator[WatchEvent]:
        return self._store.watch(api_version, kind, namespace, label_selector, resource_version, timeout_s)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
               propagation: Propagation = "Foreground") -> bool:
        gone = self._store.delete(api_version, kind, name, namespace, propagation)
        ns = namespace or ""
        if kind == "Job":
            self.jobs.pop((ns, name), None)
            for p in [p for p in self.pods.values() if p.owner_kind == "Job" and p.owner == name and p.namespace == ns]:
                self._drop_pod(p, store=False)
        elif kind == "Pod" and (ns, name) in self.pods:
            self._drop_pod(self.pods[(ns, name)], store=False)
        elif kind == "Deployment":
            self.deployments.pop((ns, name), None)
            if name == "cluster-autoscaler":
                self.ca_cfg = None
            for p in [p for p in self.pods.values() if p.owner_kind == "Deployment" and p.owner == name and p.namespace == ns]:
                self._drop_pod(p)
        elif kind == "HorizontalPodAutoscaler":
            self.hpas.pop((ns, name), None)
        elif kind == "DaemonSet":
            self.daemonsets.pop((ns, name), None)
            for p in [p for p in self.pods.values() if p.owner_kind == "DaemonSet" and p.owner == name]:
                self._drop_pod(p)
        elif kind == "Namespace":
            for key in [k for k in self.jobs if k[0] == name]:
                self.jobs.pop(key)
            for p in [p for p in self.pods.values() if p.namespace == name]:
                self._drop_pod(p, store=False)
        return gone

    def patch_status(self, api_version: str, kind: str, name: str, status: Mapping[str, Any],
                     namespace: str | None = None, *, field_manager: str = FIELD_MANAGER) -> Obj:
        return self._store.patch_status(api_version, kind, name, status, namespace, field_manager=field_manager)

    def node_usage(self) -> list[Usage] | None:
        return [Usage(n.name, None, f"{n.used.cpu_m}m", f"{n.used.mem // 1024}Ki")
                for n in sorted(self.nodes.values(), key=lambda n: n.name) if n.ready]

    def pod_usage(self, namespace: str | None = None) -> list[Usage] | None:
        return [Usage(p.name, p.namespace, f"{p.requests.cpu_m}m", f"{p.requests.mem // 1024}Ki")
                for p in sorted(self.pods.values(), key=lambda p: p.key)
                if p.running and (namespace is None or p.namespace == namespace)]

    # ================================================================== admission and controllers

    def _admit(self, body: Mapping[str, Any]) -> None:
        kind, md = body.get("kind"), body.get("metadata") or {}
        ns = md.get("namespace") or ""
        if kind == "Job" and (ns, md.get("name")) not in self.jobs:
            hard = self.quotas.get(ns, {}).get("count/jobs.batch")
            if hard is not None and sum(1 for k in self.jobs if k[0] == ns) + 1 > hard:
                raise ClusterError(f'jobs.batch "{md.get("name")}" is forbidden: exceeded quota: compute, '
                                   f"requested: count/jobs.batch=1, limited: count/jobs.batch={hard}")
        if kind == "Pod" and (ns, md.get("name")) not in self.pods:
            problem = self._quota_problem(ns, *_res_of(body.get("spec") or {}, self.limit_ranges.get(ns, {})))
            if problem:
                raise ClusterError(f'pods "{md.get("name")}" is forbidden: {problem}')

    def _quota_problem(self, ns: str, req: Res, lcpu: int, lmem: int) -> str | None:
        lr_max = (self.limit_ranges.get(ns) or {}).get("max") or {}
        if "nvidia.com/gpu" in lr_max and req.gpu > parse_quantity(lr_max["nvidia.com/gpu"]):
            return f"maximum nvidia.com/gpu usage per Container is {lr_max['nvidia.com/gpu']}, but limit is {req.gpu}"
        hard = self.quotas.get(ns)
        if not hard:
            return None
        used = {"requests.cpu": 0, "requests.memory": 0, "requests.nvidia.com/gpu": 0, "limits.cpu": 0, "limits.memory": 0}
        for p in self.pods.values():
            if p.namespace == ns:
                used["requests.cpu"] += p.requests.cpu_m
                used["requests.memory"] += p.requests.mem
                used["requests.nvidia.com/gpu"] += p.requests.gpu
                used["limits.cpu"] += p.limits_cpu_m
                used["limits.memory"] += p.limits_mem
        new = {"requests.cpu": req.cpu_m, "requests.memory": req.mem, "requests.nvidia.com/gpu": req.gpu,
               "limits.cpu": lcpu, "limits.memory": lmem}
        for k, v in new.items():
            if k not in hard:
                continue
            limit = hard[k] * (1000 if k.endswith(".cpu") else 1)
            if used[k] + v > limit:
                return f"exceeded quota: compute, requested: {k}={v}, used: {k}={used[k]}, limited: {k}={hard[k]}"
        return None

    def _observe(self, obj: Obj) -> None:
        kind, md = obj.get("kind"), obj["metadata"]
        ns, name = md.get("namespace") or "", md["name"]
        spec = obj.get("spec") or {}
        if kind == "PriorityClass":
            self.priority_classes[name] = (int(obj.get("value", 0)), obj.get("preemptionPolicy", "PreemptLowerPriority"))
        elif kind == "ResourceQuota":
            self.quotas[ns] = {k: parse_quantity(v) for k, v in (spec.get("hard") or {}).items()}
        elif kind == "LimitRange":
            merged: dict[str, Any] = {}
            for item in spec.get("limits") or []:
                if item.get("type") == "Container":
                    merged.update({k: item[k] for k in ("default", "defaultRequest", "max") if k in item})
            self.limit_ranges[ns] = merged
        elif kind == "Job" and (ns, name) not in self.jobs:
            pod_spec = (spec.get("template") or {}).get("spec") or {}
            env = _env(pod_spec)
            shape = JobShape(int(env.get(ENV_HIDDEN) or DEFAULT_HIDDEN), int(env.get(ENV_BATCH) or DEFAULT_BATCH))
            job = JobRun(ns, name, md["uid"], spec.get("template") or {},
                         int(env.get(ENV_TOTAL, "0") or 0), int(env.get(ENV_CHECKPOINT, "0") or 0),
                         int(spec.get("parallelism", 1)), int(spec.get("completions", 1)), self.t,
                         shape=shape, save_s=self.work.save_seconds(shape))
            self.jobs[(ns, name)] = job
            self.rec.event(self.team.team, self.clock.at(self.t), "job-submitted", f"{ns}/{name}",
                           total_steps=job.total_steps, checkpoint_every=job.checkpoint_every,
                           hidden_size=shape.hidden, batch_size=shape.batch,
                           checkpoint_save_s=round(job.save_s, 3) if job.checkpoint_every else 0)
        elif kind == "Deployment":
            self.deployments[(ns, name)] = obj
            if name == "cluster-autoscaler":
                container = ((spec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0]
                self.ca_cfg = ca.parse_command(container.get("command") or [], self.ca_priorities)
        elif kind == "DaemonSet":
            self.daemonsets[(ns, name)] = obj
        elif kind == "HorizontalPodAutoscaler":
            self.hpas[(ns, name)] = obj
        elif kind == "ConfigMap" and name == "cluster-autoscaler-priority-expander":
            self.ca_priorities = (obj.get("data") or {}).get("priorities")
            if self.ca_cfg is not None:
                self.ca_cfg = replace(self.ca_cfg, priorities=ca.parse_command([], self.ca_priorities).priorities)
        elif kind == "Pod" and (ns, name) not in self.pods:
            self._new_pod(ns, name, spec, "", "", md)

    def _new_pod(self, ns: str, name: str, spec: Mapping[str, Any], owner_kind: str, owner: str,
                 md: Mapping[str, Any], index: int = 0) -> Pod:
        req, lcpu, lmem = _res_of(spec, self.limit_ranges.get(ns, {}))
        pc = spec.get("priorityClassName")
        if pc in ("system-cluster-critical", "system-node-critical"):
            prio, policy = (2000000000 if pc == "system-cluster-critical" else 2000001000), "PreemptLowerPriority"
        else:
            prio, policy = self.priority_classes.get(pc or "", (0, "PreemptLowerPriority"))
        policy = spec.get("preemptionPolicy", policy)
        annotations = md.get("annotations") or {}
        pod = Pod(ns, name, owner_kind, owner, req, lcpu, lmem, dict(spec.get("nodeSelector") or {}),
                  list(spec.get("tolerations") or []), prio, policy != "Never", self.t,
                  annotations.get("cluster-autoscaler.kubernetes.io/safe-to-evict") != "false", index)
        self.pods[pod.key] = pod
        return pod

    def _create_owned_pod(self, ns: str, name: str, template: Mapping[str, Any], owner_kind: str, owner: str,
                          owner_uid: str, index: int = 0) -> Pod | None:
        spec = template.get("spec") or {}
        md = template.get("metadata") or {}
        problem = self._quota_problem(ns, *_res_of(spec, self.limit_ranges.get(ns, {})))
        if problem:
            self._warn_once(f"quota:{ns}/{owner}", "quota-rejected", f"{ns}/{owner}", problem)
            return None
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": dict(md.get("labels") or {}),
                             **({"annotations": dict(md["annotations"])} if md.get("annotations") else {}),
                             "ownerReferences": [{"apiVersion": "batch/v1" if owner_kind == "Job" else "apps/v1",
                                                  "kind": owner_kind, "name": owner, "uid": owner_uid,
                                                  "controller": True}]},
                "spec": spec}
        self._store.apply([body], field_manager=f"{owner_kind.lower()}-controller")
        self._store.patch_status("v1", "Pod", name, {"phase": "Pending"}, ns, field_manager="kube-apiserver")
        return self._new_pod(ns, name, spec, owner_kind, owner, md, index)

    def _warn_once(self, key: str, kind: str, entity: str, message: str) -> bool:
        if key in self._warned:
            return False
        self._warned.add(key)
        self.warnings.append(message)
        self.rec.event(self.team.team, self.clock.at(self.t), kind, entity, message=message)
        return True

    def _drop_pod(self, pod: Pod, *, store: bool = True) -> None:
        self.pods.pop(pod.key, None)
        if pod.node and pod.node in self.nodes:
            n = self.nodes[pod.node]
            n.used = n.used - pod.requests
        if store:
            self._store.delete("v1", "Pod", pod.name, pod.namespace, "Background")

    def _controllers(self) -> None:
        for (ns, name), job in sorted(self.jobs.items()):
            if job.completed_at is not None:
                continue
            active = {p.index for p in self.pods.values() if p.owner_kind == "Job" and p.owner == name and p.namespace == ns}
            want = [i for i in range(job.completions) if i not in job.succeeded and i not in active]
            room = job.parallelism - len(active)
            for i in want[:max(0, room)]:
                job.pods_created += 1
                pod_name = f"{name}-{i}-{job.pods_created:03d}"
                self._create_owned_pod(ns, pod_name, job.template, "Job", name, job.uid, i)
        for (ns, name), dep in sorted(self.deployments.items()):
            have = sum(1 for p in self.pods.values()
                       if p.owner_kind == "Deployment" and p.owner == name and p.namespace == ns)
            for _ in range(self._replicas(ns, name, dep) - have):
                self._create_owned_pod(ns, f"{name}-{self._next('dep-' + name)}", dep["spec"]["template"],
                                       "Deployment", name, dep["metadata"]["uid"])
        for (ns, name), ds in sorted(self.daemonsets.items()):
            tpl = (ds.get("spec") or {}).get("template") or {}
            spec = tpl.get("spec") or {}
            placed = {p.node for p in self.pods.values() if p.owner_kind == "DaemonSet" and p.owner == name}
            for node in sorted(self.nodes.values(), key=lambda n: n.name):
                if not node.ready or node.name in placed:
                    continue
                view = self._view(node)
                probe = PodView("", ZERO, spec.get("nodeSelector") or {}, spec.get("tolerations") or [], 0, False)
                if selects(probe.node_selector, view.labels) and tolerates(probe.tolerations, view.taints):
                    pod = self._create_owned_pod(ns, f"{name}-{node.name}", tpl, "DaemonSet", name, ds["metadata"]["uid"])
                    if pod is not None:
                        self._bind(pod, node)

    def _replicas(self, ns: str, name: str, dep: Mapping[str, Any]) -> int:
        """Replicas the Deployment should have: its HPA's, else spec.replicas (default 1).

        No load is modelled, so an HPA holds its target at minReplicas (the module docstring).
        """
        for (hns, _), hpa in sorted(self.hpas.items()):
            spec = hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            if hns == ns and ref.get("kind") == "Deployment" and ref.get("name") == name:
                return int(spec.get("minReplicas", 1))
        return int((dep.get("spec") or {}).get("replicas", 1))

    def _next(self, key: str) -> int:
        self._counter[key] = self._counter.get(key, 0) + 1
        return self._counter[key]

    # ================================================================== nodes

    def _view(self, n: Node) -> NodeView:
        return NodeView(n.name, n.labels, n.taints, n.alloc, n.used, n.ready and not n.draining)

    def _template(self, pool: PoolSpec) -> NodeView:
        itype = pool.instance_types[0]
        return NodeView(f"template-{pool.pool}", pool.labels, pool.taints, self._alloc(itype), ZERO, True)

    def _alloc(self, itype: str) -> Res:
        info = self.catalog.instance(self.team.region, itype)
        if info is None or info.vcpu is None or info.memory_gib is None:
            raise ClusterError(f"no specs for instance type {itype} in the catalog")
        return allocatable(info.vcpu, int(info.memory_gib * 1024), info.gpus or 0, self.sim.max_pods)

    def _launch(self, pool: PoolSpec) -> Node | None:
        capacity = pool.capacity_type
        order = market.launch_order(self.catalog, self.team.region, pool.instance_types, capacity,
                                    self.sim.spot.allocation_strategy)
        for itype in order:
            if market.in_shortage(self._shortages, self.t, itype, capacity):
                continue
            index = self._next("node-" + pool.pool)
            name = f"{self.team.team}-{pool.pool.replace('_', '-')}-{index:03d}"
            try:
                iid, az = self.source.launch(self.team, pool, itype, name, index)
            except CapacityError:
                continue
            info = self.catalog.instance(self.team.region, itype)
            is_spot = capacity == "SPOT"
            price = market.spot_price_at_launch(self.catalog, self.team.region, itype, self._rng_price) if is_spot else None
            labels = {**pool.labels, "node.kubernetes.io/instance-type": itype, "topology.kubernetes.io/zone": az,
                      "eks.amazonaws.com/capacityType": capacity, "eks.amazonaws.com/nodegroup": pool.nodegroup,
                      "kubernetes.io/hostname": name}
            ready_at = self.t + (0 if self.t == 0 and self._initial else self._boot)
            node = Node(name, pool.pool, itype, "spot" if is_spot else "on-demand", iid, az, self.t, ready_at,
                        self._alloc(itype), labels, pool.taints, info.gpu_model if info else None,
                        (info.gpus or 0) if info else 0, price)
            if is_spot:
                rate = market.hourly_rate(info.interruption_band if info else None, self.sim)
                after = market.draw_interruption_after(self._rng_market, rate)
                if after is not None:
                    node.notice_at = self.t + max(self._tick, int(after))
            self.nodes[name] = node
            self._lifecycle(node, None)
            self.rec.event(self.team.team, self.clock.at(self.t), "node-launched", name, instance_id=iid,
                           instance_type=itype, market=node.market, pool=pool.pool,
                           spot_price=None if price is None else str(price))
            if self.work.missing(node.gpu_model):
                self._warn_once(f"tp:{node.gpu_model}", "throughput-missing", itype, str(self.work.missing(node.gpu_model)))
            self._launch_failing.pop(pool.pool, None)
            return node
        self.stats.capacity_failures += 1
        self._launch_failing.setdefault(pool.pool, self.t)
        self.rec.event(self.team.team, self.clock.at(self.t), "capacity-shortage", pool.pool,
                       message=f"InsufficientInstanceCapacity for {', '.join(order)} ({capacity})")
        return None

    def _lifecycle(self, n: Node, end: int | None) -> None:
        info = self.catalog.instance(self.team.region, n.instance_type)
        pool = self.pools[n.pool]
        self.rec.put_lifecycle(Lifecycle(
            self.team.team, n.instance_id, "instance", self.team.region, self.clock.at(n.launched),
            None if end is None else self.clock.at(end), SOURCE, n.instance_type, n.market, n.spot_price,
            availability_zone=n.az, pool=n.pool,
            attrs={"node": n.name, "nodegroup": pool.nodegroup, "gpus": n.gpus,
                   "gpu_model": info.gpu_model if info else None}))
        self.rec.put_lifecycle(Lifecycle(
            self.team.team, f"{n.instance_id}-root", "volume", self.team.region, self.clock.at(n.launched),
            None if end is None else self.clock.at(end), SOURCE, gb=Decimal(pool.disk_gib), availability_zone=n.az,
            pool=n.pool, attrs={"node": n.name, "volume_type": "gp3", "attached_to": n.instance_id}))

    def _node_ready(self, n: Node) -> None:
        n.ready = True
        self._store.apply([{"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": n.name, "labels": n.labels},
                            "spec": {"providerID": f"aws:///{n.az}/{n.instance_id}",
                                     "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in n.taints]}}],
                          field_manager="kubelet")
        q = {"cpu": f"{n.alloc.cpu_m}m", "memory": f"{n.alloc.mem // 1024}Ki", "pods": str(n.alloc.pods)}
        if n.gpus:
            q["nvidia.com/gpu"] = str(n.gpus)
        self._store.patch_status("v1", "Node", n.name, {"allocatable": q, "conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady"}]}, field_manager="kubelet")
        self.rec.event(self.team.team, self.clock.at(self.t), "node-ready", n.name, instance_type=n.instance_type)

    def _evict(self, pod: Pod, reason: str, *, graceful: bool) -> None:
        """The pod stops; a training pod checkpoints on SIGTERM when checkpointing is on."""
        job = self.jobs.get((pod.namespace, pod.owner)) if pod.owner_kind == "Job" else None
        if job is not None:
            done = job.progress.get(pod.index, 0.0)
            if job.checkpoint_every > 0 and graceful and pod.running:
                job.checkpoint[pod.index] = int(done)          # the trainer's SIGTERM checkpoint
            job.saving.pop(pod.index, None)                    # a save in flight is abandoned
            kept = job.checkpoint.get(pod.index, 0)
            lost = done - kept
            job.lost_steps += lost
            self.stats.lost_steps += lost
            job.progress[pod.index] = float(kept)
            job.restarts += 1
            job.restarted_at.setdefault(pod.index, self.t)
            # In GPU time at the rate it ran: what the restart redoes, and what it would redo
            # without a checkpoint (the kept steps): the price of the interruption and the saving.
            node = self.nodes.get(pod.node or "")
            rate = self.work.steps_per_second(node.gpu_model if node else None, pod.requests.gpu,
                                              job.total_steps, job.shape) if pod.running else 0.0
            per_step = pod.requests.gpu / rate if rate > 0 else 0.0
            self.rec.event(self.team.team, self.clock.at(self.t), "job-restarted", f"{job.namespace}/{job.name}",
                           resume_from_step=kept, lost_steps=round(lost, 3), reason=reason,
                           from_zero=kept == 0, checkpointing=job.checkpoint_every > 0,
                           lost_gpu_seconds=round(lost * per_step, 3), kept_gpu_seconds=round(kept * per_step, 3),
                           instance_type=node.instance_type if node else None)
        if pod.owner_kind != "DaemonSet":
            self.stats.evictions += 1
            self.rec.event(self.team.team, self.clock.at(self.t), "pod-evicted", f"{pod.namespace}/{pod.name}",
                           reason=reason, node=pod.node, graceful=graceful)
        self._drop_pod(pod)

    def _terminate(self, n: Node, reason: str) -> None:
        for p in sorted([p for p in self.pods.values() if p.node == n.name], key=lambda p: p.key):
            self._evict(p, reason, graceful=False)
        self.source.terminate(n.instance_id)
        self._lifecycle(n, self.t)
        self.stats.node_seconds[n.instance_type] = self.stats.node_seconds.get(n.instance_type, 0) + (self.t - n.launched)
        del self.nodes[n.name]
        if n.ready:
            self._store.delete("v1", "Node", n.name, propagation="Background")
        self.rec.event(self.team.team, self.clock.at(self.t), "node-terminated", n.name, instance_id=n.instance_id,
                       reason=reason)

    def _drain(self, n: Node, reason: str) -> None:
        n.draining = True
        for p in sorted([p for p in self.pods.values() if p.node == n.name and p.owner_kind != "DaemonSet"],
                        key=lambda p: p.key):
            self._evict(p, reason, graceful=True)

    def _set_target(self, pool: str, size: int) -> None:
        if self.target[pool] != size:
            self.target[pool] = size
            self.source.set_size(self.team, self.pools[pool], size)

    # ================================================================== the loop

    def start(self, submit_jobs: bool = True) -> None:
        """t = 0: the node groups at their desired size (provisioned by `up`) and the manifests applied."""
        self._initial = True
        for pool in sorted(self.pools):
            for _ in range(self.target[pool]):
                self._launch(self.pools[pool])
        self._initial = False
        for sh in self._shortages:
            if sh.start <= 0:
                self._shortage_event(sh)
        for n in sorted(self.nodes.values(), key=lambda n: n.name):
            if n.ready_at <= 0:
                self._node_ready(n)
        jobs = [d for d in self.team.manifests if d.get("kind") == "Job"]
        self._job_templates = jobs
        self.apply([d for d in self.team.manifests if d.get("kind") != "Job"])
        self._runs_submitted = 0
        self._next_submit: int | None = _secs(self.sim.first_submit) if submit_jobs and self.sim.runs > 0 else None
        self._controllers()
        self._schedule()

    _initial = False

    def _shortage_event(self, sh: market.Shortage) -> None:
        self.rec.event(self.team.team, self.clock.at(sh.start), "drill", sh.instance_type or "any type",
                       drill="shortage", capacity_type=sh.capacity_type, minutes=round((sh.end - sh.start) / 60, 3))

    def step(self, dt: int) -> None:
        """Advance from self.t to self.t + dt."""
        self._progress(dt)
        self.t += dt
        t = self.t
        # nodes: boot, spot notices and reclaims, drills
        for n in sorted(self.nodes.values(), key=lambda n: n.name):
            if not n.ready and n.ready_at <= t and n.reclaim_at is None:
                self._node_ready(n)
        for at, drill in self._drills:
            if self.t - dt < at <= t:
                hit = []
                for n in sorted(self.nodes.values(), key=lambda n: n.name):
                    if n.pool == drill.pool and n.market == "spot" and n.reclaim_at is None:
                        n.notice_at, n.drill = t, True
                        hit.append(n.name)
                self.rec.event(self.team.team, self.clock.at(t), "drill", drill.pool, drill="interrupt", nodes=hit)
        for sh in self._shortages:
            if self.t - dt < sh.start <= t:
                self._shortage_event(sh)
        for n in sorted(self.nodes.values(), key=lambda n: n.name):
            if n.notice_at is not None and n.notice_at <= t and n.reclaim_at is None:
                n.reclaim_at = n.notice_at + self._notice
                self.stats.interruptions += 1
                self.rec.event(self.team.team, self.clock.at(t), "spot-interruption-notice", n.name,
                               instance_id=n.instance_id, instance_type=n.instance_type,
                               reclaim_at=self.clock.at(n.reclaim_at).isoformat(), drill=n.drill)
                if self.sim.spot.drain_on_notice:
                    self._drain(n, "spot-interruption")
                n.draining = True
            if n.reclaim_at is not None and n.reclaim_at <= t:
                self._terminate(n, "spot-reclaimed")
        # kubelets: containers that finished starting
        for p in sorted(self.pods.values(), key=lambda p: p.key):
            if p.node and not p.running and p.start_at is not None and p.start_at <= t:
                p.running = True
                self._store.patch_status("v1", "Pod", p.name, {"phase": "Running"}, p.namespace, field_manager="kubelet")
                job = self.jobs.get((p.namespace, p.owner)) if p.owner_kind == "Job" else None
                if job is not None and p.index in job.restarted_at:
                    # the run computes again: how long it waited (notice, new node, start, restore)
                    since = job.restarted_at.pop(p.index)
                    self.rec.event(self.team.team, self.clock.at(t), "job-resumed", f"{job.namespace}/{job.name}",
                                   from_step=job.checkpoint.get(p.index, 0), waited_s=t - since, gpus=p.requests.gpu,
                                   node=p.node)
        self._team_actions()
        self._asg()
        self._controllers()
        self._schedule()
        if t % self._scan == 0:
            self._autoscale()

    def _team_actions(self) -> None:
        """The team: submit the Job at first_submit, and again gap_between_runs after each completion."""
        if self._next_submit is None or self.t < self._next_submit or not self._job_templates:
            return
        if self._runs_submitted > 0:
            for d in self._job_templates:
                md = d["metadata"]
                self.delete(d["apiVersion"], "Job", md["name"], md.get("namespace"), "Background")
        try:
            self.apply(self._job_templates)
        except ClusterError as exc:
            self._warn_once(f"job-refused-{self._runs_submitted}", "job-refused", "", str(exc))
        self._runs_submitted += 1
        self._next_submit = None

    def _asg(self) -> None:
        """Each node group's ASG keeps it at its desired size (replacing reclaimed nodes)."""
        for name in sorted(self.pools):
            pool = self.pools[name]
            live = [n for n in self.nodes.values() if n.pool == name and n.reclaim_at is None]
            if len(live) < self.target[name]:
                for _ in range(self.target[name] - len(live)):
                    if self._launch(pool) is None:
                        break
            since = self._launch_failing.get(name)
            cfg = self.ca_cfg
            if since is not None and cfg is not None and self.t - since >= cfg.max_node_provision_s:
                # cluster-autoscaler gives up on a scale-up that produced no node, backs the group off
                self._set_target(name, max(pool.min_size, len(live)))
                self._backoff[name] = self.t + 300
                self._launch_failing.pop(name, None)
                self.rec.event(self.team.team, self.clock.at(self.t), "scale-up-timeout", name,
                               message=f"no node within --max-node-provision-time; {name} backed off 5 minutes")

    def _bind(self, pod: Pod, node: Node) -> None:
        pod.node = node.name
        node.used = node.used + pod.requests
        restore = 0
        job = self.jobs.get((pod.namespace, pod.owner)) if pod.owner_kind == "Job" else None
        if job is not None and job.checkpoint.get(pod.index, 0) > 0:
            restore = self._restore
        pod.start_at = self.t + (0 if pod.owner_kind == "DaemonSet" else self._pod_start + restore)
        if pod.start_at <= self.t:
            pod.running = True
        self._store.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod.name, "namespace": pod.namespace},
                            "spec": {"nodeName": node.name}}], field_manager="kube-scheduler")

    def _schedule(self) -> None:
        pending = sorted((p for p in self.pods.values() if p.node is None), key=lambda p: (-p.priority, p.created, p.key))
        if not pending:
            return
        ordered = sorted(self.nodes.values(), key=lambda n: n.name)
        for pod in pending:
            views = [self._view(n) for n in ordered]
            pv = PodView(pod.name, pod.requests, pod.node_selector, pod.tolerations, pod.priority, pod.can_preempt)
            chosen = pick_node(pv, views)
            if chosen is None:
                pods_on: dict[str, list[Victim]] = {}
                for p in self.pods.values():
                    if p.node:
                        pods_on.setdefault(p.node, []).append(Victim(f"{p.namespace}/{p.name}", p.priority, p.requests))
                pre = pick_preemption(pv, views, pods_on)
                if pre is not None:
                    node_view, victims = pre
                    for v in victims:
                        ns, name = v.name.split("/", 1)
                        self.stats.preemptions += 1
                        self.rec.event(self.team.team, self.clock.at(self.t), "pod-preempted", v.name,
                                       by=f"{pod.namespace}/{pod.name}", node=node_view.name)
                        self._evict(self.pods[(ns, name)], "preempted", graceful=True)
                    chosen = self._view(self.nodes[node_view.name])
            if chosen is None:
                msg = why_not(pv, views)
                if msg != pod.reason:
                    pod.reason = msg
                    self.rec.event(self.team.team, self.clock.at(self.t), "pod-unschedulable",
                                   f"{pod.namespace}/{pod.name}", message=msg)
                continue
            pod.reason = ""
            self._bind(pod, self.nodes[chosen.name])

    def _autoscale(self) -> None:
        cfg = self.ca_cfg
        if cfg is None:
            return
        runner = next((p for p in self.pods.values() if p.owner_kind == "Deployment" and p.owner == "cluster-autoscaler"
                       and p.running), None)
        if runner is None:
            return
        if cfg.error:
            self._warn_once("ca-error", "autoscaler-failed", "kube-system/cluster-autoscaler", cfg.error)
            return
        # scale-up
        pending = [p for p in self.pods.values() if p.node is None and p.reason]
        if pending:
            booting = [self._view(n) for n in self.nodes.values() if not n.ready and n.reclaim_at is None]
            views = [PodView(f"{p.namespace}/{p.name}", p.requests, p.node_selector, p.tolerations, p.priority, p.can_preempt)
                     for p in sorted(pending, key=lambda p: (-p.priority, p.created, p.key))]
            left = []
            for pv in views:   # pods an upcoming node will take need no new node
                for b in booting:
                    bv = NodeView(b.name, b.labels, b.taints, b.alloc, b.used, True)
                    if pick_node(pv, [bv]) is not None:
                        b.used = b.used + pv.requests
                        break
                else:
                    left.append(pv)
            groups = [ca.GroupOption(name, pool.asg_name, self._template(pool), self.target[name], pool.max_size)
                      for name, pool in sorted(self.pools.items()) if self._backoff.get(name, -1) <= self.t]
            choice = ca.expand(cfg, ca.options(left, groups), self._rng_expander)
            if choice is not None:
                self._set_target(choice.pool, self.target[choice.pool] + choice.nodes)
                self._last_scale_up = self.t
                self.stats.scale_ups += 1
                self.rec.event(self.team.team, self.clock.at(self.t), "scale-up", choice.pool,
                               nodes=choice.nodes, to=self.target[choice.pool], pods=choice.pods, expander=cfg.expander)
            else:
                for pv in left:
                    self.stats.unschedulable[pv.name] = "no node group can run it: " + why_not(
                        pv, [self._template(p) for _, p in sorted(self.pools.items())])
        # scale-down
        if not cfg.scale_down_enabled or self.t - self._last_scale_up < cfg.delay_after_add_s:
            for n in self.nodes.values():
                n.unneeded_since = None
            return
        for n in sorted(self.nodes.values(), key=lambda n: n.name):
            if not n.ready or n.draining:
                continue
            view = self._view(n)
            movable = self._movable(n)
            if ca.utilization(view) >= cfg.utilization_threshold or not movable:
                n.unneeded_since = None
                continue
            if n.unneeded_since is None:
                n.unneeded_since = self.t
            pool = self.pools[n.pool]
            if self.t - n.unneeded_since >= cfg.unneeded_s and self.target[n.pool] > pool.min_size:
                self._drain(n, "scale-down")
                self._set_target(n.pool, self.target[n.pool] - 1)
                self.stats.scale_downs += 1
                self.rec.event(self.team.team, self.clock.at(self.t), "scale-down", n.name, pool=n.pool,
                               to=self.target[n.pool])
                self._terminate(n, "scale-down")

    def _movable(self, n: Node) -> bool:
        pods = [p for p in self.pods.values() if p.node == n.name and p.owner_kind != "DaemonSet"]
        if any(not p.safe_to_evict or not p.owner_kind for p in pods):
            return False
        others = [self._view(o) for o in sorted(self.nodes.values(), key=lambda o: o.name)
                  if o.name != n.name and o.ready and not o.draining]
        for p in pods:
            pv = PodView(p.name, p.requests, p.node_selector, p.tolerations, p.priority, False)
            target = pick_node(pv, others)
            if target is None:
                return False
            target.used = target.used + p.requests
        return True

    def _progress(self, dt: int) -> None:
        """Training pods compute (and stop to save checkpoints); GPU-seconds are counted; a run that
        reaches total_steps completes."""
        for n in self.nodes.values():
            self.stats.gpu_seconds += n.gpus * dt
        for p in sorted(self.pods.values(), key=lambda p: p.key):
            if p.running and p.node and p.owner_kind == "Deployment":
                self.stats.serving_gpu_seconds += p.requests.gpu * dt
            if not p.running or p.owner_kind != "Job" or not p.node:
                continue
            job = self.jobs.get((p.namespace, p.owner))
            node = self.nodes.get(p.node)
            if job is None or node is None:
                continue
            p.span_s += dt
            rate = self.work.steps_per_second(node.gpu_model, p.requests.gpu, job.total_steps, job.shape)
            if rate <= 0:
                continue
            done, computed, left = self._advance(job, p.index, rate, float(dt))
            p.busy_s += computed
            self.stats.gpu_busy_seconds += p.requests.gpu * computed
            job.progress[p.index] = done
            if done < job.total_steps:
                continue
            used = dt - left
            job.succeeded.add(p.index)
            self._store.patch_status("v1", "Pod", p.name, {"phase": "Succeeded"}, p.namespace, field_manager="kubelet")
            self._drop_pod(p, store=False)
            if len(job.succeeded) >= job.completions:
                finished = self.t + math.ceil(used)
                job.completed_at = finished
                self.stats.jobs_completed += 1
                self.rec.event(self.team.team, self.clock.at(self.t + used), "job-completed",
                               f"{job.namespace}/{job.name}", run=self._runs_submitted, restarts=job.restarts,
                               lost_steps=round(job.lost_steps, 3),
                               minutes=round((self.t + used - job.submitted) / 60, 3),
                               checkpoint_saves=job.saves, checkpoint_save_seconds=round(job.save_seconds, 3))
                self._store.patch_status("batch/v1", "Job", job.name, {"succeeded": job.completions, "conditions": [
                    {"type": "Complete", "status": "True"}]}, job.namespace, field_manager="job-controller")
                if self._runs_submitted < self.sim.runs:
                    self._next_submit = finished + _secs(self.sim.gap_between_runs)
        for p in self.pods.values():
            if p.node is None:
                self.stats.pending_seconds += dt

    def _advance(self, job: JobRun, index: int, rate: float, seconds: float) -> tuple[float, float, float]:
        """``seconds`` of one pod's time: compute at ``rate`` steps/s, and at every multiple of
        checkpoint_every stop for a save (the checkpoint is durable once its save ends).
        Returns (steps done, seconds computed, seconds left after the run finished)."""
        done = job.progress.get(index, float(job.checkpoint.get(index, 0)))
        computed, left, every = 0.0, seconds, job.checkpoint_every
        while left > 1e-9 and done < job.total_steps:
            owed, step = job.saving.get(index, (0.0, 0))
            if owed > 0:
                use = min(owed, left)
                left -= use
                job.save_seconds += use
                self.stats.checkpoint_save_seconds += use
                if owed - use > 1e-9:
                    job.saving[index] = (owed - use, step)
                    continue
                job.saving.pop(index, None)
                job.checkpoint[index] = max(job.checkpoint.get(index, 0), step)
                continue
            target = float(job.total_steps)
            if every > 0:
                target = min(target, float((int(done + 1e-9) // every + 1) * every))
            need = (target - done) / rate
            if need > left:
                done += rate * left
                computed += left
                left = 0.0
                break
            done, left, computed = target, left - need, computed + need
            if every > 0 and done < job.total_steps:
                job.saves += 1
                self.stats.checkpoint_saves += 1
                if job.save_s > 0:
                    job.saving[index] = (job.save_s, int(done))
                else:
                    job.checkpoint[index] = max(job.checkpoint.get(index, 0), int(done))
        return done, computed, left

    # ================================================================== telemetry

    def sample(self) -> None:
        team, ts = self.team.team, self.clock.at(self.t)
        rec = self.rec
        busy: dict[str, list[Pod]] = {}
        for p in self.pods.values():
            if p.running and p.node and p.requests.gpu:
                busy.setdefault(p.node, []).append(p)
        for n in sorted(self.nodes.values(), key=lambda n: n.name):
            if not n.gpus or not n.ready:
                continue
            pods = sorted(busy.get(n.name, []), key=lambda p: p.key)
            # Each pod's GPUs, from the workload model for its Job (GPU model, width, batch, data
            # loading, GPU count) x the share of the last interval it computed (not saving a checkpoint).
            per_pod = {p.key: self._pod_util_pct(p, n) for p in pods}
            node_util = sum(per_pod[p.key] * p.requests.gpu for p in pods) / n.gpus
            attrs = {"pool": n.pool, "instance_type": n.instance_type, "gpus": n.gpus, "gpu_model": n.gpu_model}
            rec.sample(team, ts, "DCGM_FI_DEV_GPU_UTIL", round(node_util, 4), n.name, **attrs)
            rec.sample(team, ts, "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
                       round(node_util / 100 * self.sim.engine_active_per_util, 6), n.name, **attrs)
            rec.sample(team, ts, "DCGM_FI_DEV_FB_USED",
                       round(sum(self._fb_mib(p, n) * p.requests.gpu for p in pods if per_pod[p.key] > 0), 3),
                       n.name, **attrs)
            for p in pods:
                pu = per_pod[p.key]
                pattrs = {"node": n.name, "job": p.owner, "gpus": p.requests.gpu, "gpu_model": n.gpu_model,
                          "run": self._runs_submitted}   # pod names repeat across runs; the run does not
                ent = f"{p.namespace}/{p.name}"
                rec.sample(team, ts, "DCGM_FI_DEV_GPU_UTIL", round(pu, 4), ent, **pattrs)
                rec.sample(team, ts, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", round(pu / 100 * self.sim.engine_active_per_util, 6),
                           ent, **pattrs)
                rec.sample(team, ts, "DCGM_FI_DEV_FB_USED",
                           round(self._fb_mib(p, n) * p.requests.gpu if pu else 0.0, 3), ent, **pattrs)
                p.busy_s = p.span_s = 0.0
        for name in sorted(self.pools):
            rec.sample(team, ts, "nodegroup_desired_size", self.target[name], name)
            rec.sample(team, ts, "nodegroup_nodes", sum(1 for n in self.nodes.values() if n.pool == name), name)
        for (ns, name), job in sorted(self.jobs.items()):
            steps = sum(job.progress.values()) / max(1, job.completions)
            rec.sample(team, ts, "job_progress_steps", round(steps, 3), f"{ns}/{name}", run=self._runs_submitted)
            rec.sample(team, ts, "job_progress_ratio", round(steps / job.total_steps, 6) if job.total_steps else 0.0,
                       f"{ns}/{name}", run=self._runs_submitted)
        rec.sample(team, ts, "pods_pending", sum(1 for p in self.pods.values() if p.node is None))

    def _pod_util_pct(self, p: Pod, n: Node) -> float:
        job = self.jobs.get((p.namespace, p.owner)) if p.owner_kind == "Job" else None
        if job is None or not self._computing(p):
            return 0.0
        share = p.busy_s / p.span_s if p.span_s > 0 else 1.0
        return self.work.utilization_pct(n.gpu_model, job.shape, p.requests.gpu) * share

    def _fb_mib(self, p: Pod, n: Node) -> float:
        job = self.jobs.get((p.namespace, p.owner)) if p.owner_kind == "Job" else None
        return self.work.fb_used_mib(n.gpu_model, job.shape) if job else 0.0

    def _computing(self, p: Pod) -> bool:
        job = self.jobs.get((p.namespace, p.owner)) if p.owner_kind == "Job" else None
        node = self.nodes.get(p.node or "")
        return bool(job and node and self.work.steps_per_second(node.gpu_model, p.requests.gpu, job.total_steps,
                                                                 job.shape) > 0)

    def finish(self) -> None:
        """The class is over: count the node time so far (instances keep running until teardown)."""
        for n in self.nodes.values():
            self.stats.node_seconds[n.instance_type] = self.stats.node_seconds.get(n.instance_type, 0) + (self.t - n.launched)


def standalone(seed: int = 0) -> SimulatedCluster:
    """An empty simulated cluster (no node groups, no manifests): the API alone, for contract tests."""
    from datetime import datetime, timezone

    inputs = TeamInputs("contract", "contract", "none", "us-east-1", "2099-01-01T00:00:00Z", "contract",
                        (), (), Simulation())
    return SimulatedCluster(inputs, clock=SimClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), catalog=load_catalog(),
                            work=WorkModel(inputs.simulation, {}), nodes=PureNodes(), seed=seed)
