"""Render a team's Kubernetes manifests from the k8s/ templates; pure except :func:`write_manifests`.

Why Jinja templates rather than dicts dumped with ``yaml.safe_dump``: the manifests are a
teaching artefact (k8s/ is at the top of the repository for people to read, with comments saying
why), and reviewers diff them against upstream examples. Injection is ruled out the way a dict
dump would rule it out: every value reaches the text through the ``j`` filter (JSON, which is
YAML, so a value can never open a key or a document) and quantities through ``q``/``qmap``,
which refuse anything but strings. The environment is ``StrictUndefined``, and every rendered
file is parsed back before it is returned, so a template bug fails here and not in the cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from labctl import naming, resources
from labctl.errors import RenderError
from labctl.render import pools
from labctl.render.consistency import discovery_tags
from labctl.spec.load import ResolvedCohort, TeamSpec
from labctl.spec.offerings import type_info
from labctl.workload import job_env, metrics_port

# relative output path -> template under k8s/; the numeric prefix is the apply order.
FILES: tuple[tuple[str, str], ...] = (
    ("00-namespace.yaml", "namespace.yaml.j2"),
    ("10-rbac.yaml", "rbac.yaml.j2"),
    ("20-priorityclasses.yaml", "priorityclasses.yaml.j2"),
    ("30-cluster-autoscaler.yaml", "cluster-autoscaler.yaml.j2"),
    ("40-nvidia-device-plugin.yaml", "nvidia-device-plugin.yaml.j2"),
    ("50-training-job.yaml", "training-job.yaml.j2"),
    ("60-inference.yaml", "inference.yaml.j2"),
)
# Rendered only when the lab or the team's knobs switch them on.
OPTIONAL = {"cluster-autoscaler.yaml.j2": "autoscaler", "inference.yaml.j2": "inference"}

TRAINING_PRIORITY_CLASS = "labctl-training"
# Serving replicas share the training class: with labctl-best-effort every training run could
# preempt them (an outage per run, while the HPA holds them at minReplicas); with the same value
# neither preempts the other, and both still outrank best-effort experiments. See inference.yaml.j2.
INFERENCE_PRIORITY_CLASS = TRAINING_PRIORITY_CLASS
PLACEHOLDER_ACCOUNT = "000000000000"
PLACEHOLDER_ANNOTATION = "labctl.io/placeholder"
# app.kubernetes.io/name of a component; any other is named after itself.
APP_NAMES = {"training": "labctl-trainer", "inference": "labctl-inference"}

# cluster-autoscaler's minor must match the cluster's; patch releases are bumped deliberately.
AUTOSCALER_TAGS = {"1.29": "v1.29.5", "1.30": "v1.30.3", "1.31": "v1.31.1", "1.32": "v1.32.0",
                   "1.33": "v1.33.0", "1.34": "v1.34.0"}
DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"

# Priority expander: prefer the cheapest pool that can take the pod.
POOL_PRIORITIES = {"gpu_spot": 50, "gpu_on_demand": 10, "system": 1}




def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)


def _quantity(value: Any) -> str:
    if not isinstance(value, str):
        raise RenderError(f"quantity {value!r} must be a string (the kubernetes client rejects numbers)")
    return _json(value)


def _quantity_map(values: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{_json(k)}: {_quantity(v)}" for k, v in values.items()) + "}"


@lru_cache(maxsize=4)
def environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The one Jinja environment for manifests: strict, no HTML escaping (the output is YAML)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir or resources.k8s_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(j=_json, q=_quantity, qmap=_quantity_map)
    return env


def namespace_of(team: str) -> str:
    # A prefix keeps a team called "default" or "kube-system" out of the system namespaces.
    return f"team-{team}"


def _out(tf_outputs: Mapping[str, Any] | None, key: str) -> Any:
    """Accepts both `terraform output -json` ({k: {value, type}}) and plain {k: value}."""
    if not tf_outputs or key not in tf_outputs:
        return None
    v = tf_outputs[key]
    return v["value"] if isinstance(v, dict) and "value" in v and "type" in v else v


def _enabled(team: TeamSpec) -> list[tuple[str, Any]]:
    return [(g, grp) for g, grp in team.lab.node_groups.items() if grp.max_size >= 1]


def _per_node(group: Any, attr: str) -> int:
    return max((getattr(type_info(t), attr) if type_info(t) else 0 for t in group.instance_types), default=0)


def _quota(team: TeamSpec) -> dict[str, str]:
    gpu_groups = [grp for g, grp in _enabled(team) if grp.gpu]
    gpu_capacity = sum(grp.max_size * _per_node(grp, "gpus") for grp in gpu_groups)
    cpu = sum(grp.max_size * _per_node(grp, "vcpu") for grp in gpu_groups)
    mem_mib = sum(grp.max_size * _per_node(grp, "memory_mib") for grp in gpu_groups)
    return {"gpus": str(min(team.lab.limits.max_gpus_per_team, gpu_capacity)), "cpu": str(cpu),
            "memory": f"{mem_mib}Mi", "jobs": "10"}


def _tolerations(taints: list[pools.Taint], operator: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for t in taints:
        item = {"key": t.key, "operator": operator, "effect": t.effect}
        if operator == "Equal":
            item["value"] = t.value
        if item not in out:
            out.append(item)
    return out


def _pool_selection(pool: str) -> dict[str, Any]:
    """nodeSelector and tolerations of a GPU workload on its ``pool`` knob (spot | on-demand).

    The training Job and the inference Deployment share this: the selector names one pool, and
    the tolerations (operator Equal) tolerate that pool's taints exactly, nothing wider.
    """
    group = "gpu_spot" if pool == "spot" else "gpu_on_demand"
    return {"node_selector": pools.labels(group), "tolerations": _tolerations(pools.taints(group), "Equal")}


def _priorities(cluster: str, groups: list[str], ng_outputs: Mapping[str, Any]) -> str:
    by_priority: dict[int, list[str]] = {}
    for g in groups:
        name = (ng_outputs.get(g) or {}).get("name") or f"{cluster}-{g}"
        # EKS names the ASG eks-<node group name>-<uuid>.
        by_priority.setdefault(POOL_PRIORITIES[g], []).append(f".*{re.escape(name)}.*")
    return yaml.safe_dump({p: sorted(v) for p, v in sorted(by_priority.items(), reverse=True)},
                          default_flow_style=False, sort_keys=False)


def context(cohort: ResolvedCohort, team: TeamSpec, tf_outputs: Mapping[str, Any] | None = None,
            *, s3_endpoint_url: str = "") -> dict[str, Any]:
    """Everything the templates see; pure data, no user text spliced into strings."""
    c = cohort.cohort
    lab = team.lab
    names = naming.derived_names(c.cohort, team.name)
    cluster = _out(tf_outputs, "cluster_name") or names["cluster"]
    labels = _labeller(c.cohort, team, naming.prefix(c.cohort, team.name))
    enabled = _enabled(team)
    return {
        "namespace": namespace_of(team.name),
        "instance": naming.prefix(c.cohort, team.name),
        "region": c.region,
        "labels": labels,
        "budget_usd": f"{team.budget_usd:.2f}",
        "quota": _quota(team),
        "limit_range": {"max_gpus": str(max((_per_node(grp, "gpus") for _, grp in enabled if grp.gpu), default=0))},
        "team_group": f"labctl:{c.cohort}:{team.name}",
        "members": list(team.members),
        "priority_classes": [
            {"name": TRAINING_PRIORITY_CLASS, "value": 1000, "preemption": "PreemptLowerPriority",
             "description": "labctl training jobs: may preempt best-effort pods."},
            {"name": "labctl-best-effort", "value": 100, "preemption": "Never",
             "description": "labctl experiments that yield to training jobs and never preempt."},
        ],
        "system_pool": {"node_selector": pools.labels("system"),
                        "tolerations": _tolerations(pools.taints("system"), "Exists")},
        "autoscaler": _autoscaler(team, cluster, names["iam_role"], tf_outputs),
        "device_plugin": {"image": DEVICE_PLUGIN_IMAGE, "node_selector": {"nvidia.com/gpu.present": "true"},
                          "tolerations": _tolerations([t for g, grp in enabled if grp.gpu for t in pools.taints(g)],
                                                      "Exists")},
        "job": _job(cohort, team, tf_outputs, s3_endpoint_url),
        "inference": _inference(lab.inference, labels),
    }


def _labeller(cohort: str, team: TeamSpec, instance: str) -> Callable[[str], dict[str, str]]:
    """``labels(component)`` for the templates: the recommended app.kubernetes.io labels and labctl's own."""
    def labels(component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": APP_NAMES.get(component, component),
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "labctl",
            "app.kubernetes.io/managed-by": "labctl",
            "labctl.io/cohort": cohort,
            "labctl.io/team": team.name,
            "labctl.io/lab": team.lab.name,
        }
    return labels


def _autoscaler(team: TeamSpec, cluster: str, iam_role: str, tf_outputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """cluster-autoscaler: image for the cluster's minor, flags from the lab's knobs, its IRSA role."""
    a = team.lab.autoscaler
    role_arn = _out(tf_outputs, "autoscaler_role_arn")
    sa_annotations = {"eks.amazonaws.com/role-arn": role_arn or f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/{iam_role}"}
    if not role_arn:
        sa_annotations[PLACEHOLDER_ANNOTATION] = (
            "role-arn: Terraform outputs were not known at render time; `up` renders again with the real ARN")
    command = [
        "./cluster-autoscaler", "--v=4", "--stderrthreshold=info", "--cloud-provider=aws",
        "--skip-nodes-with-local-storage=false", "--skip-nodes-with-system-pods=false",
        "--balance-similar-node-groups",
        f"--expander={a.expander}",
        "--node-group-auto-discovery=asg:tag=" + ",".join(discovery_tags(cluster)),
        f"--scale-down-enabled={'true' if a.scale_down_enabled else 'false'}",
        f"--scale-down-unneeded-time={a.scale_down_unneeded_time}",
        f"--scale-down-delay-after-add={a.scale_down_delay_after_add}",
        f"--scale-down-utilization-threshold={a.scale_down_utilization_threshold:g}",
        f"--max-node-provision-time={a.max_node_provision_time}",
    ]
    ng_outputs = _out(tf_outputs, "node_groups") or {}
    version = team.lab.kubernetes_version
    return {
        "enabled": a.enabled,
        "image": "registry.k8s.io/autoscaling/cluster-autoscaler:" + AUTOSCALER_TAGS.get(version, f"v{version}.0"),
        "command": command,
        "sa_annotations": sa_annotations,
        "priorities": (_priorities(cluster, [g for g, _ in _enabled(team)], ng_outputs)
                       if a.expander == "priority" else ""),
    }


def _job(cohort: ResolvedCohort, team: TeamSpec, tf_outputs: Mapping[str, Any] | None,
         s3_endpoint_url: str) -> dict[str, Any]:
    """The training Job: its pool, resources, and the workload's environment (checkpoint bucket and prefix)."""
    c = cohort.cohort
    job = team.lab.job
    bucket = _out(tf_outputs, "checkpoint_bucket") or naming.bucket_name(c.cohort, team.name)
    env = job_env(bucket=bucket, prefix=f"{team.name}/{job.name}", total_steps=job.total_steps,
                  checkpoint_every=job.checkpoint_every_steps,
                  endpoint_url=s3_endpoint_url if c.target != "aws" else "", region=c.region,
                  batch_size=job.batch_size, hidden_size=job.hidden_size)
    if c.target != "aws":
        # Emulator and LocalStack accept any key; real accounts use IRSA, never keys in a manifest.
        env += [{"name": "AWS_ACCESS_KEY_ID", "value": "testing"},
                {"name": "AWS_SECRET_ACCESS_KEY", "value": "testing"}]
    job_resources = {"cpu": job.cpu, "memory": job.memory}
    if job.gpus > 0:
        job_resources["nvidia.com/gpu"] = str(job.gpus)
    return {
        "name": job.name, "image": job.image, "pool": job.pool,
        "parallelism": job.parallelism, "completions": job.completions, "backoff_limit": job.backoff_limit,
        "priority_class": TRAINING_PRIORITY_CLASS,
        **_pool_selection(job.pool),
        "env": env,
        "metrics_port": metrics_port(),
        "resources": job_resources,
    }


def _inference(inf: Any, labels: Any) -> dict[str, Any]:
    # The selector is the labels that never change for the life of the Deployment (it is
    # immutable): name, instance and component; cohort/lab labels stay off it.
    selector_keys = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
    return {
        "enabled": inf.enabled,
        "name": inf.name,
        "image": inf.image,
        "pool": inf.pool,
        "priority_class": INFERENCE_PRIORITY_CLASS,
        **_pool_selection(inf.pool),
        "selector": {k: v for k, v in labels("inference").items() if k in selector_keys},
        "port": inf.port,
        "min_replicas": inf.replicas.min,
        "max_replicas": inf.replicas.max,
        "target_cpu_utilization": inf.target_cpu_utilization,
        "resources": {"cpu": inf.cpu, "memory": inf.memory, "nvidia.com/gpu": str(inf.gpus_per_replica)},
    }


def render_team_manifests(cohort: ResolvedCohort, team: TeamSpec, tf_outputs: dict | None = None,
                          *, s3_endpoint_url: str = "", parse_back: bool = True) -> dict[str, str]:
    """Relative path -> YAML text for one team; deterministic (same inputs, same bytes).

    ``tf_outputs`` are the team's Terraform outputs when known (after `up`); before that the
    autoscaler's IRSA role is a placeholder ARN in account 000000000000, marked with the
    ``labctl.io/placeholder`` annotation. The autoscaler file is left out when the lab (or the
    team) switches the autoscaler off, the inference file unless they switch inference on.
    ``parse_back=False`` skips parsing the text back: only for a caller that checks it itself
    (validating a cohort parses one team of each shape; see labctl.ops.validate).
    """
    ctx = context(cohort, team, tf_outputs, s3_endpoint_url=s3_endpoint_url)
    env = environment()
    files: dict[str, str] = {}
    for rel, template in FILES:
        if template in OPTIONAL and not ctx[OPTIONAL[template]]["enabled"]:
            continue
        try:
            text = env.get_template(template).render(ctx)
        except jinja2.TemplateError as exc:
            raise RenderError(f"k8s/{template}: {exc}") from exc
        files[rel] = text
        if not parse_back:
            continue
        try:
            # libyaml's parser when installed: the pure-Python one was most of validating 100 teams
            docs = [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))]
        except yaml.YAMLError as exc:
            raise RenderError(f"k8s/{template} rendered invalid YAML for team {team.name}: {exc}") from exc
        if not docs or any(not isinstance(d, dict) for d in docs):
            raise RenderError(f"k8s/{template} rendered an empty or non-mapping document for team {team.name}")
    return files


def write_manifests(dest_dir: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` under ``dest_dir``; remove rendered YAML no longer produced.

    Returns the paths that changed (written or removed), so a no-op render is visible as such.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for rel, text in sorted(files.items()):
        dst = dest_dir / rel
        if dst.exists() and dst.read_text() == text:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(dst)
        changed.append(dst)
    for old in sorted(dest_dir.rglob("*.yaml")):
        if old.relative_to(dest_dir).as_posix() not in files:
            old.unlink()
            changed.append(old)
    return changed
