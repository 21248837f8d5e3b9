"""`up --k8s kind` puts every team's manifests into the cohort's kind cluster, and `down` drains
each team's cloud-backed objects (LoadBalancer Services, PVCs) before Terraform destroys.

The in-memory FakeCluster stands in for the kind/EKS API server (none can run here); the same
calls go to RealCluster on a laptop. `kind` itself is replaced by a scripted ensure function."""

from __future__ import annotations

import json
import textwrap

import pytest

from labctl.errors import ExitCode
from labctl.k8s import kind
from labctl.k8s.fake import FakeCluster
from labctl.meta import CohortMeta
from labctl.ops.clusters import deploy_kind, drain_teams, team_objects
from labctl.ops.render import render
from labctl.render.manifests import namespace_of
from labctl.state import StateDir

COHORT = textwrap.dedent("""\
    cohort: kc
    target: {target}
    region: us-east-1
    window: {{start: 2026-12-01T09:00:00Z, duration: 4h}}
    lab: gpu-baseline
    teams:
      - name: alpha
      - name: beta
        knobs:
          node_groups:
            gpu_on_demand: {{instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}}
            gpu_spot: {{instance_types: [g5.xlarge], max_size: 2}}
          job: {{pool: spot, checkpoint_every_steps: 500}}
""")


def _cohort(tmp_path, target="embedded"):
    spec = tmp_path / "c.yaml"
    spec.write_text(COHORT.format(target=target))
    cs = StateDir(tmp_path / "state").cohort("kc")
    render(spec, cs.root / "teams")
    return spec, cs


def _kind_nodes(fake: FakeCluster) -> None:
    """What a fresh kind cluster has: its system namespaces and four nodes."""
    fake.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("default", "kube-system")])
    for name in ("labctl-kc-control-plane", "labctl-kc-worker", "labctl-kc-worker2", "labctl-kc-worker3"):
        labels = {kind.CONTROL_PLANE_LABEL: ""} if name.endswith("plane") else {}
        fake.apply([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}],
                   field_manager="kubelet")


def test_up_with_kind_shapes_the_workers_and_applies_every_teams_manifests(tmp_path):
    _, cs = _cohort(tmp_path)
    fake = FakeCluster()
    _kind_nodes(fake)
    asked = []

    def ensure(cohort, kubeconfig):
        asked.append((cohort, kubeconfig))
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        kubeconfig.write_text("apiVersion: v1\n")
        return kind.KindCluster(kind.cluster_name(cohort), kubeconfig, created=True)

    out = deploy_kind(cs, ["alpha", "beta"], ensure=ensure, factory=lambda _path: fake)
    assert asked == [("kc", cs.root / "kind.kubeconfig")]
    assert sorted(out.nodes.values()) == ["gpu_on_demand", "gpu_spot", "system"]
    assert not out.failed
    for team in ("alpha", "beta"):
        ns = namespace_of(team)
        assert out.applied[team] == len(team_objects(cs.team_dir(team)))
        assert fake.get("v1", "Namespace", ns) is not None
        jobs = fake.list("batch/v1", "Job", ns)
        assert len(jobs) == 1
    gpu_nodes = [n for n in fake.list("v1", "Node") if (n.get("status") or {}).get("allocatable", {}).get("nvidia.com/gpu")]
    assert len(gpu_nodes) == 2
    assert cs.meta().k8s == "kind" and cs.meta().kind_cluster == "labctl-kc"


def _cloud_backed(fake: FakeCluster, ns: str) -> None:
    fake.apply([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "internal", "namespace": ns},
         "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}},
    ])


def _with_eks_outputs(cs, team):
    state = {"resources": [{"mode": "managed", "type": "aws_eks_cluster"}],
             "outputs": {"cluster_endpoint": {"value": "https://eks.example.invalid"},
                         "cluster_name": {"value": f"kc-{team}"},
                         "cluster_certificate_authority": {"value": "Q0E="}}}
    (cs.team_dir(team) / "terraform.tfstate").write_text(json.dumps(state))


def test_down_drains_load_balancers_and_volumes_of_each_team_before_destroy(tmp_path):
    _, cs = _cohort(tmp_path, target="aws")
    clusters = {}
    for team in ("alpha", "beta"):
        _with_eks_outputs(cs, team)
        clusters[f"kc-{team}"] = fake = FakeCluster()
        _cloud_backed(fake, namespace_of(team))

    def factory(kubeconfig):          # each team's kubeconfig names its own EKS cluster
        return clusters["kc-alpha" if "kc-alpha" in kubeconfig.read_text() else "kc-beta"]

    out = drain_teams(cs, CohortMeta(target="aws", region="us-east-1"), ["alpha", "beta"], factory=factory,
                      sleep=lambda _s: None)
    assert out.drained == {t: [f"Service {namespace_of(t)}/web", f"PersistentVolumeClaim {namespace_of(t)}/data"]
                           for t in ("alpha", "beta")}
    assert not out.remaining and not out.unreadable
    for team, fake in (("alpha", clusters["kc-alpha"]), ("beta", clusters["kc-beta"])):
        ns = namespace_of(team)
        assert fake.get("v1", "Service", "web", ns) is None
        assert fake.get("v1", "PersistentVolumeClaim", "data", ns) is None
        assert fake.get("v1", "Service", "internal", ns) is not None    # ClusterIP owns no cloud resource


def test_an_unreachable_cluster_is_reported_and_does_not_stop_the_drain_of_others(tmp_path):
    _, cs = _cohort(tmp_path, target="aws")
    _with_eks_outputs(cs, "alpha")          # beta has no cluster endpoint in its state
    fake = FakeCluster()
    _cloud_backed(fake, namespace_of("alpha"))
    out = drain_teams(cs, CohortMeta(target="aws"), ["alpha", "beta"], factory=lambda _p: fake, sleep=lambda _s: None)
    assert out.drained["alpha"] and "beta" not in out.drained
    assert len(out.unreadable) == 1 and out.unreadable[0].startswith("cluster of beta: no cluster endpoint")


def test_simulated_clusters_have_nothing_to_drain(tmp_path):
    _, cs = _cohort(tmp_path)
    out = drain_teams(cs, CohortMeta(target="embedded"), ["alpha"], factory=lambda _p: pytest.fail("no cluster to open"))
    assert out.drained == {} and out.notes == ["the embedded target's clusters are simulated: nothing to drain"]


def test_up_with_kind_but_no_kind_binary_is_refused_before_anything_is_touched(run_cli, tmp_path, monkeypatch):
    spec = tmp_path / "c.yaml"
    spec.write_text(COHORT.format(target="embedded"))
    monkeypatch.setattr(kind.shutil, "which", lambda _name: None)
    state = tmp_path / "state"
    res = run_cli("up", str(spec), "--k8s", "kind", "--allow-past", state_dir=state)
    assert res.exit_code == ExitCode.ENVIRONMENT
    assert "`kind` is not on PATH" in res.output
    assert not state.exists()


def test_kind_is_refused_for_the_aws_target(run_cli, tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text(COHORT.format(target="aws"))
    res = run_cli("up", str(spec), "--k8s", "kind", "--allow-past", state_dir=tmp_path / "state")
    assert res.exit_code == ExitCode.ENVIRONMENT
    assert "the aws target runs EKS clusters" in res.output


def test_a_kind_cluster_that_cannot_be_created_is_one_clear_error_after_the_cloud_side(tmp_path, monkeypatch):
    from labctl.errors import LabctlError
    from labctl.ops import clusters

    _, cs = _cohort(tmp_path)

    def broken(cohort, kubeconfig):
        raise LabctlError("kind create cluster labctl-kc failed: docker is not running")

    with pytest.raises(LabctlError, match="docker is not running"):
        clusters.deploy_kind(cs, ["alpha"], ensure=broken, factory=lambda _p: pytest.fail("no cluster"))
    assert cs.meta().k8s is None        # not recorded as a kind cohort when nothing was deployed
