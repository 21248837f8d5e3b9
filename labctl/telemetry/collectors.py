"""Collectors: what exists now (AWS API, cluster, DCGM / Prometheus) as timestamped store rows.

Each collector is one pass: it lists, turns what it read into store rows here, and returns
them (AWS comes typed from labctl.aws.walker, the same walk the teardown inventory uses; cluster
and Prometheus objects do not travel past this module); :func:`write` puts a pass into the store in one
transaction. Collection is incremental and safe to restart because the store upserts: an
instance is keyed by (id, launch time), so seeing it again only updates its end; an instance
recorded as running and no longer listed is closed at the time of the pass that missed it.

Sources: ``aws-api`` (emulator, LocalStack and real accounts alike), ``cluster`` (the cluster
interface), ``dcgm`` (a DCGM exporter or Prometheus endpoint).
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from labctl.aws import walker
from labctl.aws.pricing import spot_price_at
from labctl.aws.session import AwsError, AwsTarget
from labctl.aws.walker import Walker
from labctl.cost.items import NODE_PUBLIC_IPV4
from labctl.naming import TAG_COHORT, TAG_TEAM
from labctl.spec.quantity import parse_quantity
from labctl.telemetry import prom
from labctl.telemetry import usage as tu
from labctl.telemetry.store import Event, Lifecycle, Sample, Store

AWS_SOURCE = "aws-api"
CLUSTER_SOURCE = "cluster"
DCGM_SOURCE = "dcgm"

_REASON_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")
_POOLS = ("gpu_on_demand", "gpu_spot", "system")


@dataclass
class Pass:
    """One collection pass: rows to write and what could not be read."""

    at: datetime
    lifecycle: list[Lifecycle] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"lifecycle": len(self.lifecycle), "samples": len(self.samples), "events": len(self.events)}


def write(store: Store, p: Pass) -> None:
    with store.batch():
        store.put_lifecycle(p.lifecycle)
        store.put_samples(p.samples)
        store.put_events(p.events)


def stop_time(reason: str | None) -> datetime | None:
    """EC2's StateTransitionReason carries the stop/terminate time: 'User initiated (2026-... GMT)'."""
    m = _REASON_TIME.search(reason or "")
    return datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) if m else None


def pool_of(name: str) -> str | None:
    norm = name.replace("-", "_")
    return next((p for p in _POOLS if norm.endswith(p)), None)


class AwsInventoryCollector:
    """Instances (type, market, launch/stop), volumes, clusters, node group sizes, buckets and
    budgets of one cohort, found by the ``labctl:cohort`` tag (clusters also by the
    ``<cohort>-<team>`` name, budgets by the ``<cohort>-`` prefix, as labctl.aws.inventory does).
    The walk itself is labctl.aws.walker's, the one inventory's listers share; this class turns
    its typed records into store rows."""

    def __init__(self, target: AwsTarget, cohort: str, teams: Sequence[str] = ()) -> None:
        self.target = target
        self.cohort = cohort
        self.teams = sorted(teams, key=len, reverse=True)
        self.walker = Walker(target, cohort)

    def team_of(self, tags: Mapping[str, str], name: str = "") -> str | None:
        if tags.get(TAG_TEAM):
            return tags[TAG_TEAM]
        cluster = tags.get("eks:cluster-name") or name
        for t in self.teams:
            if cluster == f"{self.cohort}-{t}" or cluster.startswith(f"{self.cohort}-{t}-"):
                return t
        return None

    def collect(self, store: Store, at: datetime) -> Pass:
        p = Pass(at)
        for part in (self._instances, self._volumes, self._clusters, self._buckets, self._budgets):
            try:
                part(p, store)
            except AwsError as exc:
                p.unreadable.append(str(exc))
        return p

    def _instances(self, p: Pass, store: Store) -> None:
        seen: set[str] = set()
        for inst in walker.cohort_instances(self.walker):
            team = self.team_of(inst.tags)
            if team is None:
                continue
            iid = inst.id
            seen.add(iid)
            end = None
            if inst.state in ("stopped", "terminated", "shutting-down", "stopping"):
                end = stop_time(inst.state_reason) or p.at
            market = "spot" if inst.spot else "on-demand"
            az = inst.availability_zone
            ng = inst.tags.get("eks:nodegroup-name", "")
            p.lifecycle.append(Lifecycle(
                team, iid, "instance", self.target.region, inst.launch_time, end, AWS_SOURCE, inst.instance_type,
                market, self._spot_price(inst, market, inst.launch_time, az), availability_zone=az,
                pool=inst.tags.get("labctl:pool") or pool_of(ng), attrs={"state": inst.state, "nodegroup": ng}))
            if inst.public_ip or end is not None and self._had_public_ip(store, iid):
                # a public IPv4 address is billed hourly while the instance holds it
                p.lifecycle.append(Lifecycle(
                    team, iid + NODE_PUBLIC_IPV4, "ipv4", self.target.region, inst.launch_time, end, AWS_SOURCE,
                    availability_zone=az, attrs={"attached_to": iid}))
                seen.add(iid + NODE_PUBLIC_IPV4)
        # running in the store, gone from the listing: ended, at the latest, now
        for r in store.lifecycle():
            if r.kind in ("instance", "ipv4") and r.source == AWS_SOURCE and r.end is None and r.resource_id not in seen:
                p.lifecycle.append(Lifecycle(r.team, r.resource_id, r.kind, r.region, r.start, p.at, r.source,
                                             r.instance_type, r.market, r.spot_price, r.gb, r.count,
                                             r.availability_zone, r.pool, {**r.attrs, "closed": "not listed"}))

    @staticmethod
    def _had_public_ip(store: Store, iid: str) -> bool:
        """A stopped instance lists no address any more; its open ipv4 row still needs its end."""
        return any(r.resource_id == iid + NODE_PUBLIC_IPV4 and r.end is None for r in store.lifecycle())

    def _spot_price(self, inst: walker.Instance, market: str, start: datetime, az: str | None) -> Decimal | None:
        """The spot price in force at launch, from real AWS only: the emulator's
        DescribeSpotPriceHistory is a constant placeholder (reference/pricing.md), never a price."""
        if market != "spot" or self.target.kind != "aws" or inst.instance_type is None:
            return None
        return spot_price_at(self.target, inst.instance_type, start, az)

    def _volumes(self, p: Pass, store: Store) -> None:
        for v in walker.cohort_volumes(self.walker):
            team = self.team_of(v.tags)
            if team:
                p.lifecycle.append(Lifecycle(team, v.id, "volume", self.target.region, v.created, None, AWS_SOURCE,
                                             gb=v.gb, availability_zone=v.availability_zone))

    def _close_unlisted(self, p: Pass, store: Store, kind: str, seen: set[str]) -> None:
        """Recorded as existing, no longer listed: ended, at the latest, now (as instances are)."""
        for r in store.lifecycle():
            if r.kind == kind and r.source == AWS_SOURCE and r.end is None and r.resource_id not in seen:
                p.lifecycle.append(Lifecycle(r.team, r.resource_id, r.kind, r.region, r.start, p.at, r.source,
                                             gb=r.gb, availability_zone=r.availability_zone,
                                             attrs={**r.attrs, "closed": "not listed"}))

    def _clusters(self, p: Pass, store: Store) -> None:
        seen: set[str] = set()
        self._cluster_pass(p, store, seen)
        self._close_unlisted(p, store, "cluster", seen)

    def _cluster_pass(self, p: Pass, store: Store, seen: set[str]) -> None:
        for c in walker.clusters(self.walker):
            name = c.name
            if c.tags.get(TAG_COHORT, self.cohort if name.startswith(f"{self.cohort}-") else None) != self.cohort:
                continue
            team = self.team_of(c.tags, name)
            if team is None:
                continue
            seen.add(name)
            p.lifecycle.append(Lifecycle(team, name, "cluster", self.target.region, c.created, None,
                                         AWS_SOURCE, attrs={"status": c.status}))
            for ng in walker.nodegroups(self.walker, name):
                attrs = {"pool": pool_of(ng.name), "capacity_type": ng.capacity_type or "",
                         "instance_types": list(ng.instance_types), "cluster": name}
                for metric, size in ((tu.NODEGROUP_DESIRED, ng.desired_size), (tu.NODEGROUP_MIN, ng.min_size),
                                     (tu.NODEGROUP_MAX, ng.max_size)):
                    p.samples.append(Sample(team, p.at, metric, float(size), AWS_SOURCE, ng.name, attrs))

    def _buckets(self, p: Pass, store: Store) -> None:
        seen: set[str] = set()
        for b in walker.buckets(self.walker):
            seen.add(b.name)
            try:
                tags = self.walker.bucket_tags(b.name)
            except AwsError:
                continue  # untagged (NoSuchTagSet), gone, or not ours to read
            team = self.team_of(tags)
            if tags.get(TAG_COHORT) != self.cohort or not team:
                continue
            size = walker.bucket_bytes(self.walker, b.name)
            p.lifecycle.append(Lifecycle(team, b.name, "bucket", self.target.region, b.created, None, AWS_SOURCE,
                                         gb=(Decimal(size) / Decimal(10**9)).quantize(Decimal("0.000001"))))
        self._close_unlisted(p, store, "bucket", seen)

    def _budgets(self, p: Pass, store: Store) -> None:
        for b in walker.budgets(self.walker):
            team = self.team_of({}, b.name) if b.name.startswith(f"{self.cohort}-") else None
            if team is None:
                continue
            if b.limit_usd is not None:
                p.samples.append(Sample(team, p.at, tu.BUDGET_LIMIT, float(b.limit_usd), AWS_SOURCE, b.name))
            if b.actual_usd is not None:
                p.samples.append(Sample(team, p.at, tu.BUDGET_ACTUAL, float(b.actual_usd), "billing", b.name))


def _quantity(q: str | None) -> float:
    """A Kubernetes quantity as a float (cores for CPU, bytes for memory); none is 0."""
    return float(parse_quantity(q)) if q else 0.0


class ClusterCollector:
    """Nodes (by capacity type), pods (requests, node, job), jobs (progress, completions) and
    metrics.k8s.io usage of one team's cluster, through the cluster interface."""

    def __init__(self, team: str, cluster: Any, namespace: str | None = None) -> None:
        self.team = team
        self.cluster = cluster
        self.namespace = namespace or f"team-{team}"

    def collect(self, store: Store, at: datetime) -> Pass:
        p = Pass(at)
        t = self.team
        try:
            nodes = self.cluster.list("v1", "Node")
            pods = self.cluster.list("v1", "Pod", namespace=self.namespace)
            jobs = self.cluster.list("batch/v1", "Job", namespace=self.namespace)
            pod_usage = {u.name: u for u in (self.cluster.pod_usage(self.namespace) or [])}
        except Exception as exc:  # noqa: BLE001 - a cluster that does not answer is reported, not fatal
            p.unreadable.append(f"cluster of {t}: {type(exc).__name__}: {str(exc)[:160]}")
            return p
        by_capacity: dict[str, int] = {}
        node_id: dict[str, str] = {}
        for n in nodes:
            labels = n.get("metadata", {}).get("labels", {})
            cap = labels.get("eks.amazonaws.com/capacityType", labels.get("karpenter.sh/capacity-type", "ON_DEMAND")).upper()
            by_capacity[cap] = by_capacity.get(cap, 0) + 1
            provider = (n.get("spec") or {}).get("providerID", "")
            node_id[n["metadata"]["name"]] = provider.rsplit("/", 1)[-1] if provider else n["metadata"]["name"]
        for cap in ("ON_DEMAND", "SPOT"):
            p.samples.append(Sample(t, at, f"nodes_{cap.lower()}", float(by_capacity.get(cap, 0)), CLUSTER_SOURCE))
        for pod in pods:
            md, spec = pod.get("metadata", {}), pod.get("spec", {})
            if (pod.get("status") or {}).get("phase") not in ("Running",) or not spec.get("nodeName"):
                continue
            entity = f"{md.get('namespace', self.namespace)}/{md['name']}"
            req = {"cpu": 0.0, "memory": 0.0, "gpu": 0.0}
            for c in spec.get("containers", []):
                r = (c.get("resources") or {}).get("requests") or {}
                lim = (c.get("resources") or {}).get("limits") or {}
                req["cpu"] += _quantity(r.get("cpu"))
                req["memory"] += _quantity(r.get("memory"))
                req["gpu"] += _quantity(r.get("nvidia.com/gpu") or lim.get("nvidia.com/gpu"))
            attrs = {"kind": "pod", "node": node_id.get(spec["nodeName"], spec["nodeName"]),
                     "job": (md.get("labels") or {}).get("job-name") or (md.get("labels") or {}).get("batch.kubernetes.io/job-name")}
            p.samples += [Sample(t, at, tu.POD_CPU_REQUEST, req["cpu"], CLUSTER_SOURCE, entity, attrs),
                          Sample(t, at, tu.POD_RAM_REQUEST, req["memory"] / 2**30, CLUSTER_SOURCE, entity, attrs),
                          Sample(t, at, tu.POD_GPU_REQUEST, req["gpu"], CLUSTER_SOURCE, entity, attrs)]
            u = pod_usage.get(md["name"])
            if u is not None:
                p.samples += [Sample(t, at, tu.POD_CPU_USAGE, _quantity(u.cpu), CLUSTER_SOURCE, entity, attrs),
                              Sample(t, at, tu.POD_RAM_USAGE, _quantity(u.memory) / 2**30, CLUSTER_SOURCE, entity, attrs)]
        for job in jobs:
            md, spec, st = job.get("metadata", {}), job.get("spec", {}), job.get("status") or {}
            completions = spec.get("completions") or 1
            p.samples.append(Sample(t, at, tu.JOB_PROGRESS, min(st.get("succeeded", 0) / completions, 1.0),
                                    CLUSTER_SOURCE, md["name"], {"job": md["name"], "active": st.get("active", 0)}))
            if st.get("completionTime"):
                done = datetime.fromisoformat(st["completionTime"].replace("Z", "+00:00"))
                p.events.append(Event(t, done, tu.JOB_COMPLETED, CLUSTER_SOURCE, md["name"]))
        return p


class DcgmCollector:
    """A DCGM exporter's ``/metrics`` (or the trainer's), or a Prometheus ``/api/v1/query`` URL."""

    def __init__(self, url: str, team_of: Callable[[Mapping[str, str]], str | None] = prom.team_from_namespace,
                 fetch: Callable[[str], str] | None = None, timeout_s: float = 10.0) -> None:
        self.url = url
        self.team_of = team_of
        self.timeout_s = timeout_s
        self.fetch = fetch or self._fetch

    def _fetch(self, url: str) -> str:
        with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:  # noqa: S310 - configured endpoint
            return resp.read().decode("utf-8", "replace")

    def collect(self, store: Store, at: datetime) -> Pass:
        p = Pass(at)
        try:
            text = self.fetch(self.url)
            parsed = prom.parse_api_vector(text) if "/api/v1/query" in self.url else prom.parse_text(text)
        except (OSError, ValueError) as exc:
            p.unreadable.append(f"{self.url}: {type(exc).__name__}: {str(exc)[:160]}")
            return p
        p.samples = prom.to_store_samples(parsed, self.team_of, at, DCGM_SOURCE)
        return p
