"""kind helpers: pure argv and node plans always; a real kind cluster only under `cluster`."""

from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

import pytest
import yaml

from labctl.errors import EnvironmentProblem, LabctlError
from labctl.k8s import kind
from labctl.k8s.fake import FakeCluster


def test_config_has_one_worker_per_node_group():
    cfg = yaml.safe_load(kind.config_path().read_text())
    assert cfg["kind"] == "Cluster" and [n["role"] for n in cfg["nodes"]] == ["control-plane"] + ["worker"] * 3


def test_missing_kind_binary_is_a_clear_environment_problem(tmp_path):
    with pytest.raises(EnvironmentProblem, match="`kind` is not on PATH"):
        kind.ensure_cluster("c1", tmp_path / "kc", which=lambda _: None)


def test_existing_cluster_is_reused_not_created(tmp_path):
    calls = []

    def run(argv, **_):
        calls.append(argv)
        out = "labctl-c1\nother\n" if argv[1:3] == ["get", "clusters"] else "apiVersion: v1\nkind: Config\n"
        return SimpleNamespace(returncode=0, stdout=out, stderr="")

    got = kind.ensure_cluster("c1", tmp_path / "kc", run=run, which=lambda _: "/bin/kind")
    assert got.created is False and [c[1:3] for c in calls] == [["get", "clusters"], ["get", "kubeconfig"]]
    assert (tmp_path / "kc").stat().st_mode & 0o777 == 0o600


def test_absent_cluster_is_created_with_the_packaged_config(tmp_path):
    calls = []

    def run(argv, **_):
        calls.append(argv)
        if argv[1] == "create":
            (tmp_path / "kc").write_text("x")
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    got = kind.ensure_cluster("c1", tmp_path / "kc", run=run, which=lambda _: "/bin/kind")
    assert got.created and calls[-1] == kind.create_argv("/bin/kind", "labctl-c1", kind.config_path(), tmp_path / "kc")


def test_nodes_are_labelled_tainted_and_get_gpu_capacity_like_the_node_groups(rendered):
    _, tfvars, _ = rendered["spot-team"]
    fake = FakeCluster()
    for name in ("kind-control-plane", "kind-worker", "kind-worker2", "kind-worker3"):
        labels = {kind.CONTROL_PLANE_LABEL: ""} if name.endswith("plane") else {}
        fake.apply([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}], field_manager="kubelet")
    plans = kind.prepare_nodes(fake, tfvars)
    assert [(p.node, p.group) for p in plans] == [("kind-worker", "system"), ("kind-worker2", "gpu_on_demand"),
                                                  ("kind-worker3", "gpu_spot")]
    spot = fake.get("v1", "Node", "kind-worker3")
    assert spot["metadata"]["labels"]["labctl.io/pool"] == "gpu-spot"
    assert {t["key"] for t in spot["spec"]["taints"]} == {"nvidia.com/gpu", "labctl.io/spot"}
    assert spot["status"]["capacity"]["nvidia.com/gpu"] == "1"
    assert "status" not in fake.get("v1", "Node", "kind-worker")


def test_too_few_workers_is_refused(rendered):
    with pytest.raises(LabctlError, match="has 1 workers, the node groups need 3"):
        kind.plan_nodes(["w1"], rendered["spot-team"][1])


@pytest.mark.cluster
def test_real_kind_cluster_is_created_or_reused(tmp_path):
    if shutil.which("kind") is None or shutil.which("docker") is None:
        pytest.skip("kind and docker are not on PATH (no container engine on this machine)")
    got = kind.ensure_cluster("contract", tmp_path / "kc")
    again = kind.ensure_cluster("contract", tmp_path / "kc2")
    assert again.name == got.name and again.created is False
    subprocess.run(["kind", "delete", "cluster", "--name", got.name], check=False)


def test_cohort_node_groups_are_the_union_of_the_teams(rendered):
    merged = kind.cohort_node_groups([rendered["baseline"][1], rendered["spot-team"][1]])["node_groups"]
    assert sorted(merged) == ["gpu_on_demand", "gpu_spot", "system"]
    assert merged["gpu_on_demand"]["gpus_per_node"] == 4   # baseline's g5.12xlarge beats spot-team's g5.xlarge
