"""Adapter details the contract does not reach: the fake's namespace cascade and metrics switch,
the real adapter's behaviour with no cluster, and the one-importer rule for `kubernetes`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labctl.k8s.fake import FakeCluster
from labctl.k8s.interface import Unreachable, Usage

ROOT = Path(__file__).resolve().parents[3]


def test_deleting_a_namespace_deletes_what_is_in_it():
    f = FakeCluster()
    f.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}])
    f.delete("v1", "Namespace", "n")
    assert f.get("v1", "Namespace", "n") is None and f.list("v1", "ConfigMap") == []


def test_metrics_are_absent_until_served():
    f = FakeCluster()
    assert f.node_usage() is None and f.pod_usage() is None
    f.set_usage(nodes=[Usage("n1", None, "250m", "1Gi")], pods=[Usage("p", "ns", "100m", "64Mi")])
    assert f.node_usage() == [Usage("n1", None, "250m", "1Gi")] and f.pod_usage("other") == []


def test_real_adapter_says_unreachable_for_a_dead_endpoint(tmp_path):
    pytest.importorskip("kubernetes")
    from labctl.k8s.real import RealCluster

    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                  "users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n"
                  "current-context: x\n")
    with pytest.raises(Unreachable, match="cannot reach the cluster at http://127.0.0.1:9"):
        RealCluster.from_kubeconfig(kc, timeout_s=1)
    with pytest.raises(Unreachable, match="no usable kubeconfig"):
        RealCluster.from_kubeconfig(tmp_path / "missing")


def test_only_the_real_adapter_imports_kubernetes():
    importers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "labctl").rglob("*.py")
                       if re.search(r"^\s*(from|import) kubernetes\b", p.read_text(), re.M))
    assert importers == ["labctl/k8s/real.py"]
