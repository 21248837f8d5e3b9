"""Ordered drain: LoadBalancer Services and PVCs deleted and waited for, nothing else touched."""

from __future__ import annotations

from labctl.k8s.drain import drain_cloud_backed
from labctl.k8s.fake import FakeCluster

NS = "team-a"


def _cluster() -> FakeCluster:
    f = FakeCluster()
    f.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])
    f.apply([
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": NS}, "spec": {"type": "LoadBalancer"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "internal", "namespace": NS}, "spec": {"type": "ClusterIP"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "data", "namespace": NS, "finalizers": ["kubernetes.io/pvc-protection"]},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}},
    ])
    return f


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_drain_deletes_load_balancers_and_pvcs_and_waits_for_their_finalizers():
    f, clock = _cluster(), Clock()

    def sleep(s: float) -> None:   # the PV controller releases the volume while we wait
        clock.t += s
        f.remove_finalizers("v1", "PersistentVolumeClaim", "data", NS)

    report = drain_cloud_backed(f, NS, timeout=60, clock=clock, sleep=sleep)
    assert report.ok and report.deleted == [f"Service {NS}/lb", f"PersistentVolumeClaim {NS}/data"]
    assert report.seconds == 2.0
    assert f.get("v1", "Service", "internal", NS) is not None
    assert f.get("v1", "PersistentVolumeClaim", "data", NS) is None


def test_drain_reports_what_is_still_there_at_the_timeout():
    f, clock = _cluster(), Clock()
    report = drain_cloud_backed(f, NS, timeout=5, clock=clock, sleep=lambda s: setattr(clock, "t", clock.t + s))
    assert not report.ok and report.remaining == [f"PersistentVolumeClaim {NS}/data"]
    assert report.seconds >= 5
