"""Prometheus text exposition (a DCGM exporter's or the training job's ``/metrics``) and the
Prometheus HTTP API's instant-vector JSON, parsed into store samples. Pure: no I/O here; the
collector fetches the text and hands it in.

What becomes a sample:
- DCGM exporter series (``DCGM_FI_*``): one sample per GPU. The entity is the pod the GPU is
  assigned to (``namespace/pod``, with ``node`` and ``gpu`` in attrs) when the exporter maps it,
  else the node (``Hostname``) and GPU index (``node/gpu0``). ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` is a
  0..1 ratio and ``DCGM_FI_DEV_GPU_UTIL`` a 0..100 percentage, as the exporter reports them.
- The reference trainer's ``labctl_workload_step`` / ``labctl_workload_total_steps`` become
  ``job_progress`` (0..1) for the pod.
- Everything else is ignored (an exporter serves hundreds of series the debrief does not use).

The team of a series comes from a caller-supplied function of its labels (the namespace
``team-<team>`` or the node's owner), so this module knows nothing about the cohort.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from labctl.telemetry.rows import Sample

DCGM_PREFIX = "DCGM_FI_"
TRAINER_STEP = "labctl_workload_step"
TRAINER_TOTAL = "labctl_workload_total_steps"
JOB_PROGRESS = "job_progress"

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LINE = re.compile(rf"^(?P<name>{_NAME})(?:\{{(?P<labels>.*)\}})?\s+(?P<value>\S+)(?:\s+(?P<ts>-?\d+))?\s*$")
_LABEL = re.compile(r'\s*(?P<k>[a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"(?P<v>(?:[^"\\]|\\.)*)"\s*(?:,|$)')


class PromParseError(ValueError):
    """A line of exposition text that is not a sample, comment or blank (line number included)."""


@dataclass(frozen=True)
class PromSample:
    name: str
    labels: Mapping[str, str] = field(hash=False)
    value: float
    timestamp_ms: int | None = None


def _unescape(v: str) -> str:
    return v.replace("\\\\", "\x00").replace('\\"', '"').replace("\\n", "\n").replace("\x00", "\\")


def _value(text: str) -> float:
    low = text.lower()
    if low in ("nan",):
        return math.nan
    if low in ("+inf", "inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    return float(text)


def parse_text(text: str) -> list[PromSample]:
    """Every sample of Prometheus text format 0.0.4; comments and blank lines are skipped."""
    out: list[PromSample] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise PromParseError(f"line {n}: not a Prometheus sample: {line[:80]!r}")
        labels: dict[str, str] = {}
        body = m["labels"]
        if body:
            pos = 0
            while pos < len(body):
                lm = _LABEL.match(body, pos)
                if lm is None:
                    raise PromParseError(f"line {n}: bad label set near {body[pos:pos + 40]!r}")
                labels[lm["k"]] = _unescape(lm["v"])
                pos = lm.end()
        try:
            value = _value(m["value"])
        except ValueError:
            raise PromParseError(f"line {n}: bad value {m['value']!r}") from None
        out.append(PromSample(m["name"], labels, value, int(m["ts"]) if m["ts"] else None))
    return out


def parse_api_vector(payload: str | Mapping[str, Any]) -> list[PromSample]:
    """A Prometheus ``/api/v1/query`` answer (resultType vector) as samples."""
    data = json.loads(payload) if isinstance(payload, str) else payload
    if data.get("status") != "success":
        raise PromParseError(f"query failed: {data.get('errorType', '?')}: {data.get('error', '')}"[:200])
    result = data.get("data", {})
    if result.get("resultType") != "vector":
        raise PromParseError(f"expected a vector result, got {result.get('resultType')!r}")
    out = []
    for item in result.get("result", []):
        metric = dict(item.get("metric", {}))
        ts, value = item["value"]
        out.append(PromSample(metric.pop("__name__", ""), metric, _value(str(value)), int(float(ts) * 1000)))
    return out


def _entity(labels: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    node = labels.get("Hostname") or labels.get("node") or labels.get("instance", "")
    gpu = labels.get("gpu", "")
    pod = labels.get("pod") or labels.get("exported_pod") or ""
    ns = labels.get("namespace") or labels.get("exported_namespace") or ""
    attrs: dict[str, Any] = {"node": node}
    if gpu:
        attrs["gpu"] = gpu
    if labels.get("modelName"):
        attrs["model"] = labels["modelName"]
    if pod:
        attrs.update(kind="pod", pod=pod, namespace=ns)
        return (f"{ns}/{pod}" if ns else pod), attrs
    attrs["kind"] = "node"
    return (f"{node}/gpu{gpu}" if gpu else node), attrs


def to_store_samples(samples: Iterable[PromSample], team_of: Callable[[Mapping[str, str]], str | None],
                     ts: datetime, source: str = "dcgm") -> list[Sample]:
    """DCGM and trainer series as store samples at ``ts`` (the scrape time, unless the series
    carries its own timestamp). Series whose team cannot be told are left out."""
    out: list[Sample] = []
    steps: dict[tuple[str, str], dict[str, float]] = {}
    for s in samples:
        if math.isnan(s.value) or math.isinf(s.value):
            continue
        when = ts if s.timestamp_ms is None else datetime.fromtimestamp(s.timestamp_ms / 1000, timezone.utc)
        if s.name.startswith(DCGM_PREFIX):
            team = team_of(s.labels)
            if team is None:
                continue
            entity, attrs = _entity(s.labels)
            out.append(Sample(team, when, s.name, s.value, source, entity, attrs))
        elif s.name in (TRAINER_STEP, TRAINER_TOTAL):
            team = team_of(s.labels)
            if team is None:
                continue
            entity, _ = _entity(s.labels)
            steps.setdefault((team, entity), {})[s.name] = s.value
            steps[(team, entity)]["_ts"] = when.timestamp()
    for (team, entity), v in sorted(steps.items()):
        total = v.get(TRAINER_TOTAL)
        if total and TRAINER_STEP in v:
            when = datetime.fromtimestamp(v["_ts"], timezone.utc)
            out.append(Sample(team, when, JOB_PROGRESS, min(v[TRAINER_STEP] / total, 1.0), source, entity,
                              {"step": v[TRAINER_STEP], "total_steps": total, "kind": "pod"}))
    return out


def team_from_namespace(labels: Mapping[str, str]) -> str | None:
    """``team-<team>`` namespaces (labctl.render.manifests.namespace_of) name the team."""
    ns = labels.get("namespace") or labels.get("exported_namespace") or ""
    return ns[len("team-"):] if ns.startswith("team-") and len(ns) > 5 else None
