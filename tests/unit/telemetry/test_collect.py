"""`labctl collect`: cluster collectors built per team (through a cluster factory seam, with the
in-memory fake cluster), unreachable teams reported while the others collect, the embedded
target's note, `--kubeconfig` validation, and the guardrail after each `--every` pass.
AWS is moto in-process (no emulator process, no terraform)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from labctl.k8s.fake import FakeCluster
from labctl.k8s.interface import Unreachable
from labctl.ops import collect as collect_ops
from labctl.ops.collect import SIMULATED_NOTE, collect_loop, collect_once
from labctl.meta import CohortMeta
from labctl.state import StateDir, now
from labctl.telemetry.store import Lifecycle, Sample, Store

moto = pytest.importorskip("moto")
COHORT = "c1"



def _cohort(state: Path, target: str = "aws", teams=("a", "b", "c"), **meta):
    cs = StateDir(state).cohort(COHORT)
    cs.root.mkdir(parents=True)
    cs.write_meta(CohortMeta.from_dict({"cohort": COHORT, "target": target, "region": "us-east-1", "all_teams": list(teams),
                   "window_start": (now() - timedelta(hours=1)).isoformat(),
                   "window_end": (now() + timedelta(hours=3)).isoformat(), "status": "up", **meta}))
    return cs


def _eks_outputs(cs, team: str) -> None:
    d = cs.team_dir(team)
    d.mkdir(parents=True, exist_ok=True)
    outputs = {"cluster_name": f"{COHORT}-{team}", "cluster_endpoint": f"https://{team}.eks.example",
               "cluster_certificate_authority": "Q0E="}
    (d / "terraform.tfstate").write_text(json.dumps({"outputs": {k: {"value": v} for k, v in outputs.items()}}))


def _fake_cluster(*teams: str) -> FakeCluster:
    c = FakeCluster()
    c.apply([{"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "n1", "labels": {"eks.amazonaws.com/capacityType": "SPOT"}}}])
    for t in teams:
        c.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{t}"}}])
    return c


def test_each_eks_team_gets_a_cluster_collector_and_an_unreachable_one_is_reported(tmp_path, aws):
    cs = _cohort(tmp_path)
    for t in ("a", "b"):
        _eks_outputs(cs, t)                       # c has no cluster yet
    seen: list[Path] = []

    def factory(kubeconfig: Path):
        seen.append(kubeconfig)
        if "/b/" in str(kubeconfig):
            raise Unreachable("cannot reach the cluster at https://b.eks.example: ConnectTimeoutError")
        return _fake_cluster("a")

    r = collect_once(tmp_path, COHORT, target=aws, cluster_factory=factory)
    assert r.written["cluster:a"] == {"lifecycle": 0, "samples": 2, "events": 0}
    assert "cluster:b" not in r.written and "cluster:c" not in r.written
    assert "cluster of b: cannot reach the cluster at https://b.eks.example: ConnectTimeoutError" in r.unreadable
    assert any(u.startswith("cluster of c: no cluster endpoint in its Terraform state") for u in r.unreadable)
    assert r.notes == []
    # the kubeconfig labctl built for a, as `labctl kubeconfig` writes it: mode 0600, no secret
    assert seen[0] == cs.team_dir("a") / "collect.kubeconfig" and seen[0].stat().st_mode & 0o777 == 0o600
    with Store.for_cohort(cs.root) as st:
        spot = [s for s in st.samples("nodes_spot") if s.team == "a"]
    assert [(s.value, s.source) for s in spot] == [(1.0, "cluster")]


def test_kind_cohort_shares_one_cluster_a_namespace_per_team(tmp_path, aws, monkeypatch):
    _cohort(tmp_path, target="embedded", teams=("a", "b"), k8s="kind")
    monkeypatch.setattr(collect_ops, "_kind_kubeconfig", lambda cs: cs.root / "kind.kubeconfig")
    made: list[FakeCluster] = []

    def factory(kubeconfig: Path):
        made.append(_fake_cluster("a", "b"))
        return made[-1]

    r = collect_once(tmp_path, COHORT, target=aws, cluster_factory=factory)
    assert len(made) == 1 and {"cluster:a", "cluster:b"} <= set(r.written)
    assert r.notes == [] and not [u for u in r.unreadable if u.startswith("cluster of")]


def test_kind_cluster_missing_reports_every_team_and_still_collects_aws(tmp_path, aws, monkeypatch):
    _cohort(tmp_path, target="embedded", teams=("a", "b"), k8s="kind")
    from labctl.errors import NotFoundError

    def missing(cs):
        raise NotFoundError("no kind cluster labctl-c1 (run `labctl up --k8s kind` first)")

    monkeypatch.setattr(collect_ops, "_kind_kubeconfig", missing)
    r = collect_once(tmp_path, COHORT, target=aws, cluster_factory=lambda p: pytest.fail("no cluster to build"))
    assert [u for u in r.unreadable if u.startswith("cluster of")] == [
        f"cluster of {t}: kind cluster of cohort c1: no kind cluster labctl-c1 (run `labctl up --k8s kind` first)"
        for t in ("a", "b")]
    assert "aws" in r.written


def test_embedded_target_says_cluster_telemetry_comes_from_simulate(tmp_path, aws):
    _cohort(tmp_path, target="embedded")
    r = collect_once(tmp_path, COHORT, target=aws, cluster_factory=lambda p: pytest.fail("simulated: no cluster"))
    assert r.notes == [SIMULATED_NOTE.format(cohort=COHORT)]
    assert r.as_dict()["notes"] == r.notes
    assert not [k for k in r.written if k.startswith("cluster:")]


def test_explicit_kubeconfig_is_used_for_its_team(tmp_path, aws):
    cs = _cohort(tmp_path, teams=("a",))
    kc = tmp_path / "a.kubeconfig"
    kc.write_text("apiVersion: v1\n")
    seen: list[Path] = []
    r = collect_once(tmp_path, COHORT, target=aws, kubeconfigs={"a": kc},
                     cluster_factory=lambda p: seen.append(p) or _fake_cluster("a"))
    assert seen == [kc] and "cluster:a" in r.written
    assert not (cs.team_dir("a") / "collect.kubeconfig").exists()


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture
def recorded_target(monkeypatch, aws):
    """`collect` connects to the cohort's recorded target; here that is moto."""
    def fake(meta, state_dir, start_emulator=True):
        return type("C", (), {"aws": lambda self: aws, "aws_accounts": lambda self: {"": aws},
                                "team_aws": lambda self, team: aws})()

    for where in ("labctl.ops.collect", "labctl.ops.guardrail", "labctl.ops.debrief"):   # where it is used
        monkeypatch.setattr(f"{where}.connect_recorded", fake)
    return aws


def test_cli_unknown_kubeconfig_team_is_one_line_and_exit_7(tmp_path, run_cli):
    _cohort(tmp_path / "state", teams=("a", "b"))
    kc = tmp_path / "k"
    kc.write_text("")
    r = run_cli("collect", COHORT, "--kubeconfig", f"zz={kc}")
    assert r.exit_code == 7
    assert r.output.strip() == f"error: --kubeconfig zz={kc}: cohort c1 has no team 'zz' (teams: a, b)"


def test_cli_missing_kubeconfig_file_is_one_line(tmp_path, run_cli):
    _cohort(tmp_path / "state", teams=("a",))
    r = run_cli("collect", COHORT, "--kubeconfig", f"a={tmp_path / 'nope'}")
    assert r.exit_code == 8
    assert r.output.strip() == f"error: --kubeconfig a={tmp_path / 'nope'}: no such file"


def test_cli_malformed_kubeconfig_option_is_a_usage_error(tmp_path, run_cli):
    _cohort(tmp_path / "state", teams=("a",))
    r = run_cli("collect", COHORT, "--kubeconfig", "a")
    assert r.exit_code == 2 and "expected TEAM=PATH" in r.output


def test_cli_embedded_note_in_text_and_json(tmp_path, run_cli, recorded_target):
    _cohort(tmp_path / "state", target="embedded", teams=("a",))
    text = run_cli("collect", COHORT)
    assert text.exit_code == 0, text.output
    # The next step it names acts on the same state directory (given with --state-dir here).
    note = SIMULATED_NOTE.format(cohort=COHORT).replace(
        "`labctl simulate`", f"`labctl --state-dir {tmp_path / 'state'} simulate`")
    assert text.output.count("note: " + note) == 1
    as_json = run_cli("--output", "json", "collect", COHORT)
    assert json.loads(as_json.output)["notes"] == [SIMULATED_NOTE.format(cohort=COHORT)]
    assert json.loads(as_json.output)["guardrail"] is None          # a single pass: off unless asked


# ------------------------------------------------------------------------------- guardrail


def _over_and_at_risk(tmp_path, aws_target):
    """Team a spent more than its $5 budget (GPU node group in EKS); team b heads over its $2."""
    import boto3

    cs = _cohort(tmp_path, target="embedded", teams=("a", "b"))
    iam, ec2, eks = (boto3.client(s, region_name="us-east-1") for s in ("iam", "ec2", "eks"))
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    eks.create_cluster(name=f"{COHORT}-a", roleArn=role, resourcesVpcConfig={"subnetIds": [subnet]})
    ng = f"{COHORT}-a-gpu_on_demand"
    eks.create_nodegroup(clusterName=f"{COHORT}-a", nodegroupName=ng, nodeRole=role, subnets=[subnet],
                         scalingConfig={"minSize": 1, "desiredSize": 2, "maxSize": 2}, instanceTypes=["g5.12xlarge"])
    start = now() - timedelta(hours=1)
    with Store.for_cohort(cs.root) as st:
        st.put_lifecycle([Lifecycle("a", "i-big", "instance", "us-east-1", start, None, "simulator", "g5.12xlarge"),
                          Lifecycle("b", "i-small", "instance", "us-east-1", start, None, "simulator", "g5.xlarge")])
        st.put_samples([Sample("a", start, "budget_limit_usd", 5.0, "aws-api", "c1-a-budget"),
                        Sample("b", start, "budget_limit_usd", 2.0, "aws-api", "c1-b-budget")])
    return cs, eks, ng


def test_collect_loop_runs_the_guardrail_after_each_pass(tmp_path, aws):
    cs, eks, ng = _over_and_at_risk(tmp_path, aws)
    stop = threading.Event()
    reports = []

    def on_pass(r):
        reports.append(r)
        stop.set()

    assert collect_loop(tmp_path, COHORT, 0.01, stop=stop, on_pass=on_pass, target=aws) == 1
    g = reports[0].guardrail
    assert g is not None and g["dry_run"] is False
    acts = {(a["team"], a["kind"]): a for a in g["actions"]}
    assert acts[("a", "scale-to-zero")]["nodegroup"] == ng and acts[("a", "scale-to-zero")]["done"]
    assert acts[("b", "warn")]["done"] and "projected $" in acts[("b", "warn")]["detail"]
    sc = eks.describe_nodegroup(clusterName=f"{COHORT}-a", nodegroupName=ng)["nodegroup"]["scalingConfig"]
    assert (sc["minSize"], sc["desiredSize"]) == (0, 0)
    audit = [json.loads(x) for x in (cs.root / "audit.log").read_text().splitlines()]
    assert sorted((a["command"], a["result"], a["team"]) for a in audit) == [("guardrail", "scale-to-zero", "a"),
                                                                            ("guardrail", "warn", "b")]

    # the next pass reports b's warning again but does not log it again (a minute-loop would flood the log)
    again = collect_once(tmp_path, COHORT, target=aws, guardrail_options=collect_ops.GuardrailOptions())
    kinds = {(a["team"], a["kind"], a["done"]) for a in again.guardrail["actions"]}
    assert kinds == {("a", "already-zero", True), ("b", "warn", False)}
    assert len((cs.root / "audit.log").read_text().splitlines()) == 2


def test_collect_loop_dry_run_guardrail_changes_nothing(tmp_path, aws):
    cs, eks, ng = _over_and_at_risk(tmp_path, aws)
    stop = threading.Event()
    reports = []
    collect_loop(tmp_path, COHORT, 0.01, stop=stop, on_pass=lambda r: (reports.append(r), stop.set()), target=aws,
                 guardrail_options=collect_ops.GuardrailOptions(dry_run=True))
    acts = reports[0].guardrail["actions"]
    assert {(a["team"], a["kind"], a["done"]) for a in acts} == {("a", "scale-to-zero", False), ("b", "warn", False)}
    sc = eks.describe_nodegroup(clusterName=f"{COHORT}-a", nodegroupName=ng)["nodegroup"]["scalingConfig"]
    assert sc["desiredSize"] == 2 and not (cs.root / "audit.log").exists()


def test_cli_every_prints_guardrail_lines(tmp_path, run_cli, recorded_target, monkeypatch):
    _over_and_at_risk(tmp_path / "state", recorded_target)

    def one_pass(state_dir, cohort_ref, every_s, *, stop=None, on_pass=lambda r: None, **kw):
        assert kw["guardrail_options"] is not None and kw["guardrail_options"].dry_run
        on_pass(collect_once(state_dir, cohort_ref, **kw))
        return 1

    monkeypatch.setattr(collect_ops, "collect_loop", one_pass)
    r = run_cli("collect", COHORT, "--every", "60s", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "  guardrail: a: would scale-to-zero c1-a-gpu_on_demand:" in r.output
    assert "  guardrail: c1: dry run, nothing changed" in r.output


def test_aws_collector_records_public_ipv4_per_instance_and_closes_a_deleted_bucket(tmp_path, aws):
    from labctl.telemetry.collectors import AwsInventoryCollector, write

    ec2, s3 = aws.client("ec2"), aws.client("s3")
    ami = sorted(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"])[0]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "labctl:cohort", "Value": COHORT},
                                                  {"Key": "labctl:team", "Value": "a"}]}]
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m5.large", SubnetId=subnet,
                            TagSpecifications=tags)["Instances"][0]["InstanceId"]
    s3.create_bucket(Bucket="ckpt-a")
    s3.put_bucket_tagging(Bucket="ckpt-a", Tagging={"TagSet": [{"Key": "labctl:cohort", "Value": COHORT},
                                                               {"Key": "labctl:team", "Value": "a"}]})
    collector = AwsInventoryCollector(aws, COHORT, ["a"])
    with Store(tmp_path / "t.sqlite", COHORT) as store:
        t0 = now()
        write(store, collector.collect(store, t0))
        rows = {r.resource_id: r for r in store.lifecycle("a")}
        assert rows[iid + "-ipv4"].kind == "ipv4" and rows[iid + "-ipv4"].end is None
        assert rows["ckpt-a"].end is None
        ec2.terminate_instances(InstanceIds=[iid])
        s3.delete_bucket(Bucket="ckpt-a")
        write(store, collector.collect(store, t0 + timedelta(minutes=5)))
        rows = {r.resource_id: r for r in store.lifecycle("a")}
        assert rows[iid + "-ipv4"].end is not None and rows[iid].end is not None
        assert rows["ckpt-a"].end == t0 + timedelta(minutes=5)
