"""What every implementation of labctl.k8s.interface.Cluster must do, as the real API does it."""

from __future__ import annotations

import time

import pytest

from labctl.k8s.interface import Cluster, Conflict, NotFound, Usage


def cm(ns: str, name: str, data: dict, labels: dict | None = None, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, **({"labels": labels} if labels else {}), **meta},
            "data": data}


def eventually(check, timeout: float = 30.0):
    """The fake is immediate; a real garbage collector takes a moment."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > end:
            return result
        time.sleep(0.5)


def test_implements_the_protocol(cluster):
    assert isinstance(cluster, Cluster)


def test_apply_creates_and_records_labctl_as_field_manager(cluster, ns):
    [out] = cluster.apply([cm(ns, "a", {"k": "v"}, {"labctl.io/team": "a"})])
    got = cluster.get("v1", "ConfigMap", "a", ns)
    assert got["data"] == {"k": "v"} and got["metadata"]["labels"] == {"labctl.io/team": "a"}
    assert "labctl" in [m["manager"] for m in got["metadata"]["managedFields"]]
    assert out["metadata"]["uid"] == got["metadata"]["uid"]


def test_reapplying_the_same_object_changes_nothing(cluster, ns):
    [first] = cluster.apply([cm(ns, "a", {"k": "v"})])
    [again] = cluster.apply([cm(ns, "a", {"k": "v"})])
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_a_field_labctl_stops_applying_is_removed(cluster, ns):
    cluster.apply([cm(ns, "a", {"k": "v", "gone": "soon"})])
    cluster.apply([cm(ns, "a", {"k": "v"})])
    assert cluster.get("v1", "ConfigMap", "a", ns)["data"] == {"k": "v"}


def test_fields_of_another_manager_survive_labctls_apply(cluster, ns):
    cluster.apply([cm(ns, "a", {"k": "v"})])
    cluster.apply([cm(ns, "a", {"theirs": "x"})], field_manager="someone-else")
    cluster.apply([cm(ns, "a", {"k": "v2"})])
    assert cluster.get("v1", "ConfigMap", "a", ns)["data"] == {"k": "v2", "theirs": "x"}


def test_a_conflicting_value_is_refused_unless_forced(cluster, ns):
    cluster.apply([cm(ns, "a", {"k": "v"})])
    with pytest.raises(Conflict):
        cluster.apply([cm(ns, "a", {"k": "other"})], field_manager="someone-else")
    cluster.apply([cm(ns, "a", {"k": "other"})], field_manager="someone-else", force=True)
    assert cluster.get("v1", "ConfigMap", "a", ns)["data"]["k"] == "other"


def test_the_same_value_from_two_managers_is_shared_not_a_conflict(cluster, ns):
    cluster.apply([cm(ns, "a", {"k": "v"})])
    cluster.apply([cm(ns, "a", {"k": "v"})], field_manager="someone-else")
    cluster.apply([cm(ns, "a", {"other": "1"})])   # labctl lets go of k; someone-else still holds it
    assert cluster.get("v1", "ConfigMap", "a", ns)["data"] == {"k": "v", "other": "1"}


def test_list_filters_by_label_selector(cluster, ns):
    cluster.apply([cm(ns, "a", {}, {"team": "a", "tier": "x"}), cm(ns, "b", {}, {"team": "b"}), cm(ns, "c", {}, {"team": "c"})])

    def names(sel):
        return [o["metadata"]["name"] for o in cluster.list("v1", "ConfigMap", ns, sel)]

    assert names("team=a") == ["a"]
    assert names("team in (a,b)") == ["a", "b"]
    assert names("team,!tier") == ["b", "c"]
    assert names("team!=a") == ["b", "c"]


def test_get_of_a_missing_object_is_none_and_a_missing_namespace_is_not_found(cluster, ns):
    assert cluster.get("v1", "ConfigMap", "nope", ns) is None
    with pytest.raises(NotFound):
        cluster.apply([cm("labctl-contract-no-such-namespace", "a", {})])


def test_watch_reports_changes_after_a_resource_version(cluster, ns):
    [created] = cluster.apply([cm(ns, "w", {"k": "1"}, {"watch": "me"})])
    cluster.apply([cm(ns, "w", {"k": "2"}, {"watch": "me"})])
    cluster.delete("v1", "ConfigMap", "w", ns, propagation="Background")   # Foreground adds an update
    events = list(cluster.watch("v1", "ConfigMap", ns, "watch=me",
                                resource_version=created["metadata"]["resourceVersion"], timeout_s=2))
    assert [e.type for e in events] == ["MODIFIED", "DELETED"]
    assert events[0].object["data"] == {"k": "2"}


def test_delete_propagates_to_dependents_or_orphans_them(cluster, ns):
    [owner] = cluster.apply([cm(ns, "owner", {})])
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    cluster.apply([cm(ns, "dep", {}, ownerReferences=[ref])])
    assert cluster.delete("v1", "ConfigMap", "owner", ns, propagation="Background")
    assert eventually(lambda: cluster.get("v1", "ConfigMap", "dep", ns) is None)

    [owner] = cluster.apply([cm(ns, "owner", {})])
    ref = {**ref, "uid": owner["metadata"]["uid"]}
    cluster.apply([cm(ns, "dep", {}, ownerReferences=[ref])])
    cluster.delete("v1", "ConfigMap", "owner", ns, propagation="Orphan")
    assert eventually(lambda: cluster.get("v1", "ConfigMap", "owner", ns) is None)
    assert eventually(lambda: not (cluster.get("v1", "ConfigMap", "dep", ns) or {}).get("metadata", {}).get("ownerReferences"))
    assert not cluster.delete("v1", "ConfigMap", "never-there", ns)


def test_finalizers_hold_a_deleted_object_until_removed(cluster, ns):
    cluster.apply([cm(ns, "held", {}, finalizers=["labctl.io/test"])])
    cluster.delete("v1", "ConfigMap", "held", ns)
    held = cluster.get("v1", "ConfigMap", "held", ns)
    assert held is not None and held["metadata"].get("deletionTimestamp")
    cluster.apply([cm(ns, "held", {}, finalizers=[])])
    assert eventually(lambda: cluster.get("v1", "ConfigMap", "held", ns) is None)


def test_usage_is_none_or_usage_records(cluster):
    for usage in (cluster.node_usage(), cluster.pod_usage()):
        assert usage is None or all(isinstance(u, Usage) and isinstance(u.cpu, str) for u in usage)
