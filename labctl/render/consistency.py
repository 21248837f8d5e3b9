"""Do the manifests fit the Terraform side? Pure checks over parsed manifests and tfvars.

The autoscaler sees a node group through the ASG tags terraform/modules/node-group sets (the
discovery tags, and the node-template tags it reads to scale a group up from zero). This module
mirrors those locals; ``TF_*`` constants are spelled exactly as in the .tf text, and a test parses
terraform/modules/node-group/main.tf and terraform/root/main.tf to keep the two in step.

Checks: every pod template fits at least one node group (labels, taints, GPUs per node, as the
autoscaler's node template shows them), tolerates no taint that no group has; every
priorityClassName exists; ResourceQuotas cover what the namespace's workloads request, a
workload scaled by a HorizontalPodAutoscaler counted at its maxReplicas; every HPA targets a
rendered workload with cpu requests; every Service is ClusterIP and selects a rendered pod
template; the autoscaler's discovery tags are on the node groups' ASGs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from labctl.errors import Problem
from labctl.render.docs import Doc
from labctl.spec.quantity import parse_quantity

# -- mirror of terraform/root/main.tf and terraform/modules/node-group/main.tf locals ----------

TF_CLUSTER_NAME = "${var.cohort}-${var.team}"                                   # root: local.name
TF_DISCOVERY_TAGS = {
    "k8s.io/cluster-autoscaler/enabled": "true",
    "k8s.io/cluster-autoscaler/${var.cluster_name}": "owned",
}
TF_LABEL_TAG = "k8s.io/cluster-autoscaler/node-template/label/${k}"
TF_TAINT_TAG = "k8s.io/cluster-autoscaler/node-template/taint/${t.key}"
TF_TAINT_VALUE = "${t.value}:${t.effect}"
TF_GPU_TAG = "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"

BUILTIN_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
# Taints the kubelet and node lifecycle controller set on any node; tolerating them is normal.
WELL_KNOWN_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/", "CriticalAddonsOnly")
AUTO_DISCOVERY_FLAG = "--node-group-auto-discovery="
PRIORITY_EXPANDER_CONFIGMAP = "cluster-autoscaler-priority-expander"


def _sub(template: str, **values: str) -> str:
    return re.sub(r"\$\{([a-z_.]+)\}", lambda m: values[m.group(1)], template)


def cluster_name(tfvars: Mapping[str, Any]) -> str:
    return _sub(TF_CLUSTER_NAME, **{"var.cohort": tfvars["cohort"], "var.team": tfvars["team"]})


def discovery_tags(cluster: str) -> dict[str, str]:
    return {_sub(k, **{"var.cluster_name": cluster}): v for k, v in TF_DISCOVERY_TAGS.items()}


def node_template_tags(group: Mapping[str, Any]) -> dict[str, str]:
    tags = {_sub(TF_LABEL_TAG, k=k): v for k, v in group.get("labels", {}).items()}
    for t in group.get("taints", []):
        tags[_sub(TF_TAINT_TAG, **{"t.key": t["key"]})] = _sub(
            TF_TAINT_VALUE, **{"t.value": t["value"], "t.effect": t["effect"]})
    if int(group.get("gpus_per_node", 0)) > 0:
        tags[TF_GPU_TAG] = str(int(group["gpus_per_node"]))
    return tags


def asg_tags(cluster: str, group: Mapping[str, Any]) -> dict[str, str]:
    """The tags the node-group module puts on the group's ASG (local.asg_tags)."""
    return {**discovery_tags(cluster), **node_template_tags(group)}


@dataclass(frozen=True)
class NodeTemplate:
    """A node of a group as the autoscaler imagines it from the ASG tags (scale from zero)."""

    group: str
    labels: dict[str, str]
    taints: tuple[tuple[str, str, str], ...]   # (key, value, effect)
    gpus: int


def node_template(group_name: str, tags: Mapping[str, str]) -> NodeTemplate:
    label_p, taint_p = _sub(TF_LABEL_TAG, k=""), _sub(TF_TAINT_TAG, **{"t.key": ""})
    labels = {k[len(label_p):]: v for k, v in tags.items() if k.startswith(label_p)}
    taints = []
    for k, v in sorted(tags.items()):
        if k.startswith(taint_p):
            value, _, effect = v.rpartition(":")
            taints.append((k[len(taint_p):], value, effect))
    return NodeTemplate(group_name, labels, tuple(taints), int(tags.get(TF_GPU_TAG, "0")))


# -- quantities: one parser for all of labctl, in spec/quantity.py ----------------------------------


def _fmt(q: Decimal) -> str:
    return format(q.normalize(), "f")


# -- pod templates ------------------------------------------------------------------------------

_POD_SPEC_PATH = {
    "Pod": ("spec",),
    "Job": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _get(obj: Any, path: tuple) -> Any:
    for p in path:
        if isinstance(obj, dict):
            obj = obj.get(p)
        elif isinstance(obj, list) and isinstance(p, int) and p < len(obj):
            obj = obj[p]
        else:
            return None
    return obj


@dataclass(frozen=True)
class PodTemplate:
    doc: Doc
    path: tuple
    spec: dict
    hpa_max: int | None = None      # maxReplicas of the HPA that scales this workload, if any

    @property
    def pods(self) -> int:
        """How many pods of this template run at once (for quota arithmetic)."""
        obj, kind = self.doc.obj, self.doc.kind
        if self.hpa_max is not None:
            return self.hpa_max     # the HPA, not spec.replicas, decides; count its ceiling
        if kind in ("Job",):
            return int(_get(obj, ("spec", "parallelism")) or 1)
        if kind == "CronJob":
            return int(_get(obj, ("spec", "jobTemplate", "spec", "parallelism")) or 1)
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            r = _get(obj, ("spec", "replicas"))
            return 1 if r is None else int(r)
        return 1

    def totals(self, section: str) -> dict[str, Decimal]:
        """Per pod: sum over containers of requests (section='requests') or limits."""
        out: dict[str, Decimal] = {}
        for c in self.spec.get("containers") or []:
            res = c.get("resources") or {}
            values = dict(res.get("limits") or {}) if section == "requests" else {}
            values.update(res.get(section) or {})   # a missing request defaults to the limit
            for k, v in values.items():
                try:
                    out[k] = out.get(k, Decimal(0)) + parse_quantity(v)
                except ValueError:
                    continue   # the schema check reports malformed quantities
        return out


_SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet")


def _hpa_targets(docs: Iterable[Doc]) -> dict[tuple[str, str, str], int]:
    """(namespace, kind, name) -> maxReplicas of the HPA scaling it."""
    out = {}
    for d in docs:
        if d.kind != "HorizontalPodAutoscaler":
            continue
        ref = _get(d.obj, ("spec", "scaleTargetRef")) or {}
        try:
            out[(d.namespace, str(ref.get("kind", "")), str(ref.get("name", "")))] = int(_get(d.obj, ("spec", "maxReplicas")))
        except (TypeError, ValueError):
            continue   # the schema check reports a missing or malformed maxReplicas
    return out


def pod_templates(docs: Iterable[Doc]) -> list[PodTemplate]:
    docs = list(docs)
    hpas = _hpa_targets(docs)
    out = []
    for d in docs:
        path = _POD_SPEC_PATH.get(d.kind)
        spec = _get(d.obj, path) if path else None
        if isinstance(spec, dict):
            hpa_max = hpas.get((d.namespace, d.kind, d.name)) if d.kind in _SCALABLE else None
            out.append(PodTemplate(d, path, spec, hpa_max))  # type: ignore[arg-type]
    return out


def _tolerates(tol: Mapping[str, Any], key: str, value: str, effect: str) -> bool:
    if tol.get("effect") and tol["effect"] != effect:
        return False
    if not tol.get("key"):
        return tol.get("operator") == "Exists"
    if tol["key"] != key:
        return False
    return tol.get("operator", "Equal") == "Exists" or str(tol.get("value", "")) == value


def _taint_str(t: tuple[str, str, str]) -> str:
    return f"{t[0]}={t[1]}:{t[2]}"


# -- the check ----------------------------------------------------------------------------------


def check(docs: list[Doc], tfvars: Mapping[str, Any]) -> list[Problem]:
    """Every way the manifests disagree with the node groups Terraform will create."""
    cluster = cluster_name(tfvars)
    groups = tfvars.get("node_groups") or {}
    templates = [node_template(g, asg_tags(cluster, v)) for g, v in sorted(groups.items())]
    problems: list[Problem] = []
    pods = pod_templates(docs)
    problems += _check_scheduling(pods, templates)
    problems += _check_priority_classes(pods, docs)
    problems += _check_quotas(pods, docs)
    problems += _check_hpas(pods, docs)
    problems += _check_services(pods, docs)
    problems += _check_autoscaler(docs, cluster, groups)
    return problems


def _check_scheduling(pods: list[PodTemplate], templates: list[NodeTemplate]) -> list[Problem]:
    problems = []
    all_taints = sorted({t for nt in templates for t in nt.taints})
    for p in pods:
        selector = p.spec.get("nodeSelector") or {}
        tolerations = p.spec.get("tolerations") or []
        for i, tol in enumerate(tolerations):
            key = tol.get("key") or ""
            if not key or key.startswith(WELL_KNOWN_TAINT_PREFIXES):
                continue
            if not any(_tolerates(tol, *t) for t in all_taints):
                have = ", ".join(_taint_str(t) for t in all_taints) or "none"
                shown = key + (f"={tol['value']}" if tol.get("value") else "") + (f":{tol['effect']}" if tol.get("effect") else "")
                problems.append(p.doc.problem((*p.path, "tolerations", i),
                                              f"tolerates taint {shown}, which no node group has (node group taints: {have})"))
        gpus = int(p.totals("limits").get("nvidia.com/gpu", p.totals("requests").get("nvidia.com/gpu", Decimal(0))))
        reasons = []
        for nt in templates:
            why = [f"label {k}={v} missing" for k, v in sorted(selector.items()) if nt.labels.get(k) != str(v)]
            why += [f"taint {_taint_str(t)} not tolerated" for t in nt.taints
                    if t[2] in ("NoSchedule", "NoExecute") and not any(_tolerates(tol, *t) for tol in tolerations)]
            if gpus > nt.gpus:
                why.append(f"needs {gpus} GPU(s) per pod, nodes have {nt.gpus}")
            if not why:
                break
            reasons.append(f"{nt.group}: {', '.join(why)}")
        else:
            detail = "; ".join(reasons) if reasons else "no node groups are rendered in tfvars"
            problems.append(p.doc.problem(p.path, f"fits no node group ({detail})"))
    return problems


def _check_priority_classes(pods: list[PodTemplate], docs: list[Doc]) -> list[Problem]:
    known = BUILTIN_PRIORITY_CLASSES | {d.name for d in docs if d.kind == "PriorityClass"}
    problems = []
    for p in pods:
        name = p.spec.get("priorityClassName")
        if name and name not in known:
            problems.append(p.doc.problem((*p.path, "priorityClassName"),
                                          f"priorityClassName {name!r} does not exist (known: {', '.join(sorted(known))})"))
    return problems


def _check_quotas(pods: list[PodTemplate], docs: list[Doc]) -> list[Problem]:
    problems = []
    for q in (d for d in docs if d.kind == "ResourceQuota"):
        hard = _get(q.obj, ("spec", "hard")) or {}
        users = [p for p in pods if p.doc.namespace == q.namespace and p.doc.kind != "DaemonSet"]
        for key, limit in sorted(hard.items()):
            section, _, resource = key.partition(".") if key.startswith(("requests.", "limits.")) else ("requests", "", key)
            if resource not in ("cpu", "memory", "nvidia.com/gpu", "ephemeral-storage"):
                continue
            try:
                allowed = parse_quantity(limit)
            except ValueError:
                continue
            parts, total = [], Decimal(0)
            for p in users:
                per_pod = p.totals(section).get(resource)
                if per_pod:
                    total += per_pod * p.pods
                    via = " (HPA maxReplicas)" if p.hpa_max is not None else ""
                    parts.append(f"{p.doc.ref}: {p.pods} pods{via} x {_fmt(per_pod)}")
            if total > allowed:
                problems.append(q.problem(("spec", "hard", key),
                                          f"quota allows {limit} but the namespace's workloads need {_fmt(total)} ({'; '.join(parts)})"))
    return problems


def _check_hpas(pods: list[PodTemplate], docs: list[Doc]) -> list[Problem]:
    problems = []
    by_ref = {(p.doc.namespace, p.doc.kind, p.doc.name): p for p in pods}
    for h in (d for d in docs if d.kind == "HorizontalPodAutoscaler"):
        ref = _get(h.obj, ("spec", "scaleTargetRef")) or {}
        target = by_ref.get((h.namespace, str(ref.get("kind", "")), str(ref.get("name", ""))))
        if target is None or target.doc.kind not in _SCALABLE:
            problems.append(h.problem(("spec", "scaleTargetRef"),
                                      f"scales {ref.get('kind', '?')}/{ref.get('name', '?')}, which is not rendered "
                                      f"in namespace {h.namespace}"))
            continue
        # A Utilization target is a share of the request: a container without one leaves the
        # HPA unable to compute it (it reports the metric as unknown and never scales).
        for i, m in enumerate(_get(h.obj, ("spec", "metrics")) or []):
            res = (m.get("resource") or {}) if m.get("type") == "Resource" else {}
            if (res.get("target") or {}).get("type") != "Utilization":
                continue
            name = res.get("name")
            missing = [c.get("name", "?") for c in target.spec.get("containers") or []
                       if name not in ((c.get("resources") or {}).get("requests") or {})]
            if missing:
                problems.append(h.problem(("spec", "metrics", i),
                                          f"{name} utilisation needs a {name} request on every container of "
                                          f"{target.doc.ref}; missing on {', '.join(missing)}"))
    return problems


def _check_services(pods: list[PodTemplate], docs: list[Doc]) -> list[Problem]:
    problems = []
    for s in (d for d in docs if d.kind == "Service"):
        kind = _get(s.obj, ("spec", "type")) or "ClusterIP"
        if kind != "ClusterIP":
            # Teardown destroys what Terraform knows and sweeps by tag; a load balancer a
            # Service creates has neither, so it would outlive the session and keep billing.
            problems.append(s.problem(("spec", "type"),
                                      f"type {kind} creates cloud resources Terraform does not manage; use ClusterIP"))
        selector = _get(s.obj, ("spec", "selector")) or {}
        if not selector:
            continue
        if not any(p.doc.namespace == s.namespace
                   and all((_get(p.doc.obj, (*p.path[:-1], "metadata", "labels")) or {}).get(k) == v
                           for k, v in selector.items())
                   for p in pods):
            problems.append(s.problem(("spec", "selector"),
                                      f"selects no rendered pod template in namespace {s.namespace}"))
    return problems


def _check_autoscaler(docs: list[Doc], cluster: str, groups: Mapping[str, Any]) -> list[Problem]:
    problems = []
    group_tags = {g: asg_tags(cluster, v) for g, v in sorted(groups.items())}
    expected = ", ".join(discovery_tags(cluster))
    has_priority_cm = any(d.kind == "ConfigMap" and d.name == PRIORITY_EXPANDER_CONFIGMAP for d in docs)
    for p in pod_templates(docs):
        for ci, c in enumerate(p.spec.get("containers") or []):
            for field in ("command", "args"):
                for ai, arg in enumerate(c.get(field) or []):
                    arg = str(arg)
                    path = (*p.path, "containers", ci, field, ai)
                    if arg == "--expander=priority" and not has_priority_cm:
                        problems.append(p.doc.problem(path, "--expander=priority needs the ConfigMap kube-system/"
                                                            f"{PRIORITY_EXPANDER_CONFIGMAP}, which is not rendered"))
                    if not arg.startswith(AUTO_DISCOVERY_FLAG):
                        continue
                    spec = arg[len(AUTO_DISCOVERY_FLAG):]
                    if not spec.startswith("asg:tag="):
                        problems.append(p.doc.problem(path, f"{AUTO_DISCOVERY_FLAG}{spec}: expected asg:tag=<tag>[,<tag>...]"))
                        continue
                    for tag in spec[len("asg:tag="):].split(","):
                        key, eq, value = tag.partition("=")
                        missing = [g for g, tags in group_tags.items()
                                   if key not in tags or (eq and tags[key] != value)]
                        if missing and len(missing) == len(group_tags):
                            problems.append(p.doc.problem(
                                path, f"auto-discovery tag {tag!r} is on no node group's ASG (Terraform tags them: {expected})"))
                        elif missing:
                            problems.append(p.doc.problem(
                                path, f"auto-discovery tag {tag!r} is missing on node group(s) {', '.join(missing)}; "
                                      "the autoscaler will not manage them"))
    return problems
