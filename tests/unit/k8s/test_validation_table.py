"""A table of broken manifests and Terraform mismatches, each caught with its exact message
(file:line: Kind/name field.path: message)."""

from __future__ import annotations

import pytest

from labctl.render.k8s_validate import validate_team

JOB = "50-training-job.yaml"
CA = "30-cluster-autoscaler.yaml"
INF = "60-inference.yaml"


def _edit(files: dict[str, str], rel: str, old: str, new: str, count: int = 1) -> dict[str, str]:
    assert files[rel].count(old) >= count, (rel, old)
    return {**files, rel: files[rel].replace(old, new, count)}


WIDGET = "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: team-baseline}\n"

CASES = {
    "typo field": ("baseline", lambda f: _edit(f, JOB, "terminationGracePeriodSeconds:", "terminationGracePeriodSecond:"), [
        "50-training-job.yaml:37: Job/train spec.template.spec.terminationGracePeriodSecond: unknown field "
        "'terminationGracePeriodSecond' (did you mean 'terminationGracePeriodSeconds'?)"]),
    "all errors of one object": ("baseline", lambda f: _edit(_edit(f, JOB, "restartPolicy:", "restartPolicyy:"),
                                                             JOB, "backoffLimit:", "backofLimit:"), [
        "50-training-job.yaml:14: Job/train spec.backofLimit: unknown field 'backofLimit' (did you mean 'backoffLimit'?)",
        "50-training-job.yaml:35: Job/train spec.template.spec.restartPolicyy: unknown field 'restartPolicyy' "
        "(did you mean 'restartPolicy'?)"]),
    "integer quantity": ("baseline", lambda f: _edit(f, JOB, '"cpu": "3"', '"cpu": 3'), [
        "50-training-job.yaml:55: Job/train spec.template.spec.containers[0].resources.requests.cpu: quantity 3 is a "
        "number; write it as a string (\"3\"): the kubernetes client 37 rejects numeric quantities"]),
    "malformed quantity": ("baseline", lambda f: _edit(f, JOB, '"memory": "12Gi"', '"memory": "16GB"'), [
        "50-training-job.yaml:55: Job/train spec.template.spec.containers[0].resources.requests.memory: "
        "'16GB' is not a quantity (like '500m', '4', '16Gi')"]),
    "job tolerates a taint no node group has": ("baseline", lambda f: _edit(
        f, JOB, '"value": "true"}]', '"value": "true"}, {"key": "labctl.io/spot", "operator": "Exists"}]'), [
        "50-training-job.yaml:40: Job/train spec.template.spec.tolerations[1]: tolerates taint labctl.io/spot, which "
        "no node group has (node group taints: nvidia.com/gpu=true:NoSchedule)"]),
    "job does not tolerate the GPU taint": ("baseline", lambda f: _edit(
        f, JOB, 'tolerations: [{"key": "nvidia.com/gpu", "operator": "Equal", "effect": "NoSchedule", "value": "true"}]',
        "tolerations: []"), [
        "50-training-job.yaml:34: Job/train spec.template.spec: fits no node group (gpu_on_demand: taint "
        "nvidia.com/gpu=true:NoSchedule not tolerated; system: label labctl.io/pool=gpu-on-demand missing, "
        "label nvidia.com/gpu.present=true missing, needs 1 GPU(s) per pod, nodes have 0)"]),
    "job wants more GPUs than a node has": ("spot-team", lambda f: _edit(f, JOB, '"nvidia.com/gpu": "1"', '"nvidia.com/gpu": "2"', 2), [
        "50-training-job.yaml:34: Job/train spec.template.spec: fits no node group (gpu_on_demand: label "
        "labctl.io/pool=gpu-spot missing, needs 2 GPU(s) per pod, nodes have 1; gpu_spot: needs 2 GPU(s) per pod, "
        "nodes have 1; system: label labctl.io/pool=gpu-spot missing, label nvidia.com/gpu.present=true missing, "
        "needs 2 GPU(s) per pod, nodes have 0)"]),
    "autoscaler tags don't match": ("baseline", lambda f: _edit(f, CA, "k8s.io/cluster-autoscaler/golden-baseline",
                                                                "k8s.io/cluster-autoscaler/golden-baselin"), [
        "30-cluster-autoscaler.yaml:142: Deployment/cluster-autoscaler spec.template.spec.containers[0].command[8]: "
        "auto-discovery tag 'k8s.io/cluster-autoscaler/golden-baselin' is on no node group's ASG (Terraform tags "
        "them: k8s.io/cluster-autoscaler/enabled, k8s.io/cluster-autoscaler/golden-baseline)"]),
    "quota smaller than requests": ("baseline", lambda f: _edit(f, JOB, "parallelism: 1", "parallelism: 12"), [
        "00-namespace.yaml:18: ResourceQuota/compute spec.hard.requests.nvidia.com/gpu: quota allows 8 but the "
        "namespace's workloads need 12 (Job/train: 12 pods x 1)"]),
    "priority class missing": ("baseline", lambda f: _edit(f, JOB, '"labctl-training"', '"labctl-trainin"'), [
        "50-training-job.yaml:38: Job/train spec.template.spec.priorityClassName: priorityClassName 'labctl-trainin' "
        "does not exist (known: labctl-best-effort, labctl-training, system-cluster-critical, system-node-critical)"]),
    "priority expander without its ConfigMap": ("spot-team", lambda f: _edit(
        f, CA, "name: cluster-autoscaler-priority-expander", "name: renamed-priorities"), [
        "30-cluster-autoscaler.yaml:152: Deployment/cluster-autoscaler spec.template.spec.containers[0].command[7]: "
        "--expander=priority needs the ConfigMap kube-system/cluster-autoscaler-priority-expander, which is not rendered"]),
    "inference at max replicas over the quota": ("serving", lambda f: _edit(f, INF, "maxReplicas: 3", "maxReplicas: 5"), [
        "00-namespace.yaml:18: ResourceQuota/compute spec.hard.requests.nvidia.com/gpu: quota allows 5 but the "
        "namespace's workloads need 6 (Job/train: 1 pods x 1; Deployment/inference: 5 pods (HPA maxReplicas) x 1)"]),
    "inference pool with no matching node group": ("serving", lambda f: _edit(
        f, INF, '"labctl.io/pool": "gpu-spot"', '"labctl.io/pool": "gpu-reserved"'), [
        "60-inference.yaml:27: Deployment/inference spec.template.spec: fits no node group (gpu_on_demand: label "
        "labctl.io/pool=gpu-reserved missing; gpu_spot: label labctl.io/pool=gpu-reserved missing; system: label "
        "labctl.io/pool=gpu-reserved missing, label nvidia.com/gpu.present=true missing, needs 1 GPU(s) per pod, "
        "nodes have 0)"]),
    "inference priority class missing": ("serving", lambda f: _edit(f, INF, '"labctl-training"', '"labctl-serving"'), [
        "60-inference.yaml:31: Deployment/inference spec.template.spec.priorityClassName: priorityClassName "
        "'labctl-serving' does not exist (known: labctl-best-effort, labctl-training, system-cluster-critical, "
        "system-node-critical)"]),
    "hpa targets a deployment that is not rendered": ("serving", lambda f: _edit(
        f, INF, 'kind: Deployment\n    name: "inference"', 'kind: Deployment\n    name: "infer"'), [
        "60-inference.yaml:97: HorizontalPodAutoscaler/inference spec.scaleTargetRef: scales Deployment/infer, "
        "which is not rendered in namespace team-serving"]),
    "hpa on cpu without a cpu request": ("serving", lambda f: _edit(
        f, INF, 'requests: {"cpu": "2", ', "requests: {"), [
        "60-inference.yaml:104: HorizontalPodAutoscaler/inference spec.metrics[0]: cpu utilisation needs a cpu request "
        "on every container of Deployment/inference; missing on server"]),
    "load balancer service": ("serving", lambda f: _edit(f, INF, "type: ClusterIP", "type: LoadBalancer"), [
        "60-inference.yaml:78: Service/inference spec.type: type LoadBalancer creates cloud resources Terraform does "
        "not manage; use ClusterIP"]),
    "service selects nothing": ("serving", lambda f: _edit(
        f, INF, 'selector: {"app.kubernetes.io/name": "labctl-inference"', 'selector: {"app.kubernetes.io/name": "inference"'), [
        "60-inference.yaml:79: Service/inference spec.selector: selects no rendered pod template in namespace team-serving"]),
    "custom resource without a schema": ("baseline", lambda f: {**f, "60-extra.yaml": WIDGET.lstrip("-\n")}, [
        "60-extra.yaml:1: Widget/w: no schema for Widget example.com/v1 in Kubernetes 1.31 (a custom resource "
        "without a schema: allow-list it to accept it unchecked)"]),
}


def test_an_allow_listed_custom_resource_is_accepted_unchecked(rendered):
    files, tfvars, version = rendered["baseline"]
    files = {**files, "60-extra.yaml": WIDGET.lstrip("-\n")}
    assert validate_team(files, tfvars, version, allow_unschematized=frozenset({("example.com/v1", "Widget")})) == []


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_manifest_gives_its_exact_message(rendered, case):
    team, mutate, expected = CASES[case]
    files, tfvars, version = rendered[team]
    assert [str(p) for p in validate_team(mutate(files), tfvars, version)] == expected


def test_inference_on_a_pool_terraform_does_not_create_fits_no_node_group(cohort):
    """The spec refuses inference on a switched-off pool; manifests rendered past it (a lab edited
    by hand, a stale build) are caught again here, against the node groups in tfvars."""
    import dataclasses

    from labctl.render.manifests import render_team_manifests
    from labctl.render.terraform import tfvars as render_tfvars
    from tests.unit.k8s.conftest import PROVIDER

    team = cohort.team("baseline")     # gpu_spot max_size 0: Terraform creates no spot group
    lab = team.lab.model_copy(update={"inference": team.lab.inference.model_copy(update={"enabled": True, "pool": "spot"})})
    team = dataclasses.replace(team, lab=lab)
    files = render_team_manifests(cohort, team)
    assert [str(p) for p in validate_team(files, render_tfvars(cohort, team, PROVIDER), lab.kubernetes_version)] == [
        "60-inference.yaml:34: Deployment/inference spec.template.spec.tolerations[1]: tolerates taint "
        "labctl.io/spot=true:NoSchedule, which no node group has (node group taints: nvidia.com/gpu=true:NoSchedule)",
        "60-inference.yaml:27: Deployment/inference spec.template.spec: fits no node group (gpu_on_demand: label "
        "labctl.io/pool=gpu-spot missing; system: label labctl.io/pool=gpu-spot missing, label "
        "nvidia.com/gpu.present=true missing, needs 1 GPU(s) per pod, nodes have 0)",
    ]
