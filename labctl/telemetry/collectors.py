"""Collectors: what exists now (AWS API, cluster, DCGM / Prometheus) as timestamped store rows.

Each collector is one pass: it lists, turns raw SDK / API objects into store rows here (they do
not travel further), and returns them; :func:`write` puts a pass into the store in one
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

from labctl.aws.session import AwsError, AwsNotFound, AwsTarget, aws_errors
from labctl.cost.items import NODE_PUBLIC_IPV4
from labctl.naming import TAG_COHORT, TAG_TEAM
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


def _tags(pairs: Any) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in (pairs or [])}


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


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
    ``<cohort>-<team>`` name, budgets by the ``<cohort>-`` prefix, as labctl.aws.inventory does)."""

    def __init__(self, target: AwsTarget, cohort: str, teams: Sequence[str] = ()) -> None:
        self.target = target
        self.cohort = cohort
        self.teams = sorted(teams, key=len, reverse=True)

    def _call(self, service: str, op: str, **kw: Any) -> Any:
        with aws_errors(service, op, emulator=self.target.fake_credentials):
            return getattr(self.target.client(service), op)(**kw)

    def _pages(self, service: str, op: str, **kw: Any) -> list[Any]:
        with aws_errors(service, op, emulator=self.target.fake_credentials):
            return list(self.target.client(service).get_paginator(op).paginate(**kw))

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
        pages = self._pages("ec2", "describe_instances",
                            Filters=[{"Name": f"tag:{TAG_COHORT}", "Values": [self.cohort]}])
        for page in pages:
            for res in page.get("Reservations", []):
                for inst in res.get("Instances", []):
                    tags = _tags(inst.get("Tags"))
                    team = self.team_of(tags)
                    if team is None:
                        continue
                    iid = inst["InstanceId"]
                    seen.add(iid)
                    state = inst.get("State", {}).get("Name", "")
                    end = None
                    if state in ("stopped", "terminated", "shutting-down", "stopping"):
                        end = stop_time(inst.get("StateTransitionReason")) or p.at
                    market = "spot" if inst.get("InstanceLifecycle") == "spot" else "on-demand"
                    az = inst.get("Placement", {}).get("AvailabilityZone")
                    start = _aware(inst["LaunchTime"])
                    ng = tags.get("eks:nodegroup-name", "")
                    p.lifecycle.append(Lifecycle(
                        team, iid, "instance", self.target.region, start, end, AWS_SOURCE, inst.get("InstanceType"),
                        market, self._spot_price(inst, market, start, az), availability_zone=az,
                        pool=tags.get("labctl:pool") or pool_of(ng), attrs={"state": state, "nodegroup": ng}))
                    if inst.get("PublicIpAddress") or end is not None and self._had_public_ip(store, iid):
                        # a public IPv4 address is billed hourly while the instance holds it
                        p.lifecycle.append(Lifecycle(
                            team, iid + NODE_PUBLIC_IPV4, "ipv4", self.target.region, start, end, AWS_SOURCE,
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

    def _spot_price(self, inst: Mapping[str, Any], market: str, start: datetime, az: str | None) -> Decimal | None:
        """The spot price in force at launch, from real AWS only: the emulator's
        DescribeSpotPriceHistory is a constant placeholder (reference/pricing.md), never a price."""
        if market != "spot" or self.target.kind != "aws":
            return None
        try:
            hist = self._call("ec2", "describe_spot_price_history", InstanceTypes=[inst["InstanceType"]],
                              ProductDescriptions=["Linux/UNIX"], StartTime=start, EndTime=start,
                              **({"AvailabilityZone": az} if az else {}))
        except AwsError:
            return None
        prices = hist.get("SpotPriceHistory", [])
        return Decimal(prices[0]["SpotPrice"]) if prices else None

    def _volumes(self, p: Pass, store: Store) -> None:
        for page in self._pages("ec2", "describe_volumes",
                                Filters=[{"Name": f"tag:{TAG_COHORT}", "Values": [self.cohort]}]):
            for v in page.get("Volumes", []):
                team = self.team_of(_tags(v.get("Tags")))
                if team:
                    p.lifecycle.append(Lifecycle(team, v["VolumeId"], "volume", self.target.region,
                                                 _aware(v["CreateTime"]), None, AWS_SOURCE, gb=Decimal(v.get("Size", 0)),
                                                 availability_zone=v.get("AvailabilityZone")))

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
        for page in self._pages("eks", "list_clusters"):
            for name in page.get("clusters", []):
                try:
                    c = self._call("eks", "describe_cluster", name=name)["cluster"]
                except AwsNotFound:
                    continue
                tags = dict(c.get("tags") or {})
                if tags.get(TAG_COHORT, self.cohort if name.startswith(f"{self.cohort}-") else None) != self.cohort:
                    continue
                team = self.team_of(tags, name)
                if team is None:
                    continue
                seen.add(name)
                p.lifecycle.append(Lifecycle(team, name, "cluster", self.target.region, _aware(c["createdAt"]), None,
                                             AWS_SOURCE, attrs={"status": c.get("status", "")}))
                for ng_page in self._pages("eks", "list_nodegroups", clusterName=name):
                    for ng in ng_page.get("nodegroups", []):
                        try:
                            d = self._call("eks", "describe_nodegroup", clusterName=name, nodegroupName=ng)["nodegroup"]
                        except AwsNotFound:
                            continue
                        sc = d.get("scalingConfig", {})
                        attrs = {"pool": pool_of(ng), "capacity_type": d.get("capacityType", ""),
                                 "instance_types": d.get("instanceTypes", []), "cluster": name}
                        for metric, key in ((tu.NODEGROUP_DESIRED, "desiredSize"), (tu.NODEGROUP_MIN, "minSize"),
                                            (tu.NODEGROUP_MAX, "maxSize")):
                            p.samples.append(Sample(team, p.at, metric, float(sc.get(key, 0)), AWS_SOURCE, ng, attrs))

    def _buckets(self, p: Pass, store: Store) -> None:
        seen: set[str] = set()
        for b in self._call("s3", "list_buckets").get("Buckets", []):
            name = b["Name"]
            seen.add(name)
            try:
                tags = _tags(self._call("s3", "get_bucket_tagging", Bucket=name).get("TagSet"))
            except AwsError:
                continue  # untagged (NoSuchTagSet), gone, or not ours to read
            if tags.get(TAG_COHORT) != self.cohort or not self.team_of(tags):
                continue
            size = 0
            for page in self._pages("s3", "list_objects_v2", Bucket=name):
                size += sum(o.get("Size", 0) for o in page.get("Contents", []))
            p.lifecycle.append(Lifecycle(self.team_of(tags) or "", name, "bucket", self.target.region,
                                         _aware(b["CreationDate"]), None, AWS_SOURCE,
                                         gb=(Decimal(size) / Decimal(10**9)).quantize(Decimal("0.000001"))))
        self._close_unlisted(p, store, "bucket", seen)

    def _budgets(self, p: Pass, store: Store) -> None:
        account = self._call("sts", "get_caller_identity")["Account"]
        try:
            pages = self._pages("budgets", "describe_budgets", AccountId=account)
        except AwsNotFound:
            return
        for page in pages:
            for b in page.get("Budgets", []):
                name = b["BudgetName"]
                team = self.team_of({}, name) if name.startswith(f"{self.cohort}-") else None
                if team is None:
                    continue
                limit = b.get("BudgetLimit", {}).get("Amount")
                if limit is not None:
                    p.samples.append(Sample(team, p.at, tu.BUDGET_LIMIT, float(limit), AWS_SOURCE, name))
                actual = (b.get("CalculatedSpend") or {}).get("ActualSpend", {}).get("Amount")
                if actual is not None:
                    p.samples.append(Sample(team, p.at, tu.BUDGET_ACTUAL, float(actual), "billing", name))


def _quantity(q: str | None) -> float:
    """A Kubernetes quantity as a float (cores for CPU, bytes for memory)."""
    if not q:
        return 0.0
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for suffix in ("Ki", "Mi", "Gi", "Ti", "m", "k", "M", "G", "T"):
        if q.endswith(suffix):
            return float(q[: -len(suffix)]) * units[suffix]
    return float(q)


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
