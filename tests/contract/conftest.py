"""The cluster contract runs against FakeCluster always and against a real cluster when
KUBECONFIG points at a reachable one (`pytest -m cluster`); otherwise that half is skipped with
the reason. Each test gets its own namespace and leaves nothing behind."""

from __future__ import annotations

import os
import uuid

import pytest

from labctl.k8s.fake import FakeCluster


def _real():
    path = os.environ.get("KUBECONFIG")
    if not path:
        pytest.skip("KUBECONFIG is not set: no real cluster to hold to the contract (FakeCluster ran)")
    from labctl.k8s.interface import Unreachable
    from labctl.k8s.real import RealCluster

    try:
        return RealCluster.from_kubeconfig(path.split(os.pathsep)[0])
    except Unreachable as exc:
        pytest.skip(f"KUBECONFIG={path} but the cluster is unreachable: {exc}")


@pytest.fixture(params=["fake", "simulated", pytest.param("real", marks=pytest.mark.cluster)])
def cluster(request):
    if request.param == "simulated":
        from labctl.sim.cluster import standalone

        return standalone()
    return FakeCluster() if request.param == "fake" else _real()


@pytest.fixture
def ns(cluster):
    name = f"labctl-contract-{uuid.uuid4().hex[:8]}"
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"labctl.io/test": "contract"}}}])
    yield name
    cluster.delete("v1", "Namespace", name, propagation="Background")
