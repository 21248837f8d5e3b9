"""Rendered manifests: golden files, determinism, strict validity for every EKS version, and the
values the issue pins (GPU quantities as strings, pool by knob, failure policy, env contract)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labctl import naming
from labctl.render import k8s_validate
from labctl.render.manifests import (
    PLACEHOLDER_ANNOTATION,
    render_team_manifests,
    write_manifests,
)
from labctl.workload import job_env

GOLDEN = Path(__file__).parent / "golden"


def _docs(files: dict[str, str]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for text in files.values() for d in yaml.safe_load_all(text)}


def test_manifests_match_golden_files(rendered, golden):
    for team, (files, _, _) in rendered.items():
        for rel, text in files.items():
            golden(GOLDEN / team / rel, text)


def test_render_is_deterministic(cohort):
    for t in cohort.teams:
        assert render_team_manifests(cohort, t) == render_team_manifests(cohort, t)


@pytest.mark.parametrize("version", k8s_validate.EKS_VERSIONS)
def test_rendered_cohort_validates_strictly_with_zero_problems(rendered, version):
    for team, (files, tfvars, _) in rendered.items():
        assert [str(p) for p in k8s_validate.validate_team(files, tfvars, version)] == [], team


def test_every_object_and_pod_template_carries_the_labels(rendered):
    for team, (files, _, _) in rendered.items():
        for (kind, name), d in _docs(files).items():
            for labels in [d["metadata"]["labels"]] + ([d["spec"]["template"]["metadata"]["labels"]]
                                                      if "template" in d.get("spec", {}) else []):
                assert labels["labctl.io/cohort"] == "golden" and labels["labctl.io/team"] == team, (kind, name)
                assert labels["app.kubernetes.io/managed-by"] == "labctl" and "app.kubernetes.io/name" in labels


def test_job_picks_the_pool_by_knob_and_writes_gpu_quantities_as_strings(rendered):
    base = _docs(rendered["baseline"][0])[("Job", "train")]["spec"]["template"]["spec"]
    spot = _docs(rendered["spot-team"][0])[("Job", "train")]["spec"]["template"]["spec"]
    assert base["nodeSelector"]["labctl.io/pool"] == "gpu-on-demand"
    assert [t["key"] for t in base["tolerations"]] == ["nvidia.com/gpu"]
    assert spot["nodeSelector"]["labctl.io/pool"] == "gpu-spot"
    assert [t["key"] for t in spot["tolerations"]] == ["nvidia.com/gpu", "labctl.io/spot"]
    res = spot["containers"][0]["resources"]
    assert res["limits"]["nvidia.com/gpu"] == "1" and res["requests"] == res["limits"]
    assert spot["terminationGracePeriodSeconds"] == 60 and spot["securityContext"]["runAsUser"] == 10001


def test_job_failure_policy_ignores_spot_disruption_and_fails_fast_on_bad_config(rendered):
    job = _docs(rendered["spot-team"][0])[("Job", "train")]["spec"]
    rules = job["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert rules[1]["action"] == "Ignore" and rules[1]["onExitCodes"]["values"] == [143]
    assert rules[2]["action"] == "FailJob" and rules[2]["onExitCodes"]["values"] == [2]
    assert job["backoffLimit"] == 4 and job["template"]["spec"]["restartPolicy"] == "Never"


def test_job_env_is_the_workload_contract_with_team_bucket_and_interval(rendered):
    env = _docs(rendered["spot-team"][0])[("Job", "train")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == job_env(bucket=naming.bucket_name("golden", "spot-team"), prefix="spot-team/train",
                          total_steps=20000, checkpoint_every=500, endpoint_url="", region="us-east-1")


def test_autoscaler_takes_expander_and_scale_down_knobs_and_priority_configmap(rendered):
    base, spot = _docs(rendered["baseline"][0]), _docs(rendered["spot-team"][0])
    cmd = spot[("Deployment", "cluster-autoscaler")]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--expander=priority" in cmd and "--scale-down-unneeded-time=5m" in cmd
    assert ("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            "k8s.io/cluster-autoscaler/golden-spot-team") in cmd
    prios = yaml.safe_load(spot[("ConfigMap", "cluster-autoscaler-priority-expander")]["data"]["priorities"])
    assert list(prios) == [50, 10, 1] and "gpu_spot" in prios[50][0]
    assert ("ConfigMap", "cluster-autoscaler-priority-expander") not in base
    assert "--scale-down-enabled=false" in base[("Deployment", "cluster-autoscaler")]["spec"]["template"]["spec"]["containers"][0]["command"]


def test_irsa_role_is_a_marked_placeholder_until_terraform_outputs_are_known(cohort):
    team = cohort.team("baseline")
    before = _docs(render_team_manifests(cohort, team))[("ServiceAccount", "cluster-autoscaler")]["metadata"]["annotations"]
    assert before["eks.amazonaws.com/role-arn"] == "arn:aws:iam::000000000000:role/golden-baseline-cluster-autoscaler"
    assert PLACEHOLDER_ANNOTATION in before
    outputs = {"autoscaler_role_arn": {"value": "arn:aws:iam::123456789012:role/x", "type": "string"},
               "cluster_name": {"value": "golden-baseline", "type": "string"}}
    after = _docs(render_team_manifests(cohort, team, outputs))[("ServiceAccount", "cluster-autoscaler")]["metadata"]["annotations"]
    assert after == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x"}


def test_rbac_binds_members_to_edit_in_their_namespace_only(rendered):
    docs = _docs(rendered["spot-team"][0])
    rb = docs[("RoleBinding", "team-edit")]
    assert rb["metadata"]["namespace"] == "team-spot-team" and rb["roleRef"]["name"] == "edit"
    assert [s["name"] for s in rb["subjects"] if s["kind"] == "User"] == ["ada@example.com", "grace"]
    assert not any(k == "ClusterRoleBinding" and n != "cluster-autoscaler" for k, n in docs)


def test_member_names_cannot_inject_yaml(cohort):
    import dataclasses

    team = dataclasses.replace(cohort.team("baseline"), members=('x"}\n- kind: ClusterRole\n  name: "y',))
    files = render_team_manifests(cohort, team)
    rb = _docs(files)[("RoleBinding", "team-edit")]
    assert rb["subjects"][-1]["name"] == 'x"}\n- kind: ClusterRole\n  name: "y'


def test_disabled_autoscaler_is_not_rendered_and_write_removes_the_stale_file(cohort, tmp_path):
    import dataclasses

    team = cohort.team("baseline")
    off = dataclasses.replace(team, lab=team.lab.model_copy(update={
        "autoscaler": team.lab.autoscaler.model_copy(update={"enabled": False})}))
    assert write_manifests(tmp_path, render_team_manifests(cohort, team))
    assert write_manifests(tmp_path, render_team_manifests(cohort, team)) == []
    changed = write_manifests(tmp_path, render_team_manifests(cohort, off))
    assert changed == [tmp_path / "30-cluster-autoscaler.yaml"]
    assert not (tmp_path / "30-cluster-autoscaler.yaml").exists()


def test_inference_is_rendered_only_where_enabled(rendered):
    assert "60-inference.yaml" not in rendered["baseline"][0] and "60-inference.yaml" not in rendered["spot-team"][0]
    assert "60-inference.yaml" in rendered["serving"][0]


def test_inference_deployment_takes_pool_gpus_priority_and_labels_from_the_knobs(rendered):
    docs = _docs(rendered["serving"][0])
    dep = docs[("Deployment", "inference")]
    pod = dep["spec"]["template"]["spec"]
    job = docs[("Job", "train")]["spec"]["template"]["spec"]
    assert "replicas" not in dep["spec"]                         # the HPA owns it
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    # pool spot by knob while the job stays on-demand: same selection logic, different pool
    assert pod["nodeSelector"] == {"labctl.io/pool": "gpu-spot", "nvidia.com/gpu.present": "true"}
    assert [t["key"] for t in pod["tolerations"]] == ["nvidia.com/gpu", "labctl.io/spot"]
    assert all(t["operator"] == "Equal" and t["value"] == "true" for t in pod["tolerations"])
    assert job["nodeSelector"]["labctl.io/pool"] == "gpu-on-demand"
    res = pod["containers"][0]["resources"]
    assert res["requests"] == res["limits"] == {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert all(isinstance(v, str) for v in res["limits"].values())
    priority_classes = {n for k, n in docs if k == "PriorityClass"}
    assert pod["priorityClassName"] == "labctl-training" and pod["priorityClassName"] in priority_classes
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "labctl-inference" and labels["app.kubernetes.io/component"] == "inference"
    assert labels["labctl.io/cohort"] == "golden" and labels["labctl.io/team"] == "serving"
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_inference_service_is_cluster_ip_and_hpa_scales_on_cpu_within_the_knob_bounds(rendered):
    docs = _docs(rendered["serving"][0])
    dep, svc, hpa = (docs[(k, "inference")] for k in ("Deployment", "Service", "HorizontalPodAutoscaler"))
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert svc["metadata"]["labels"]["labctl.io/team"] == hpa["metadata"]["labels"]["labctl.io/team"] == "serving"
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "inference"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
