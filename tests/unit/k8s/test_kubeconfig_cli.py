"""`labctl kubeconfig COHORT TEAM`: EKS handout with mode 0600; embedded says it is simulated."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from labctl.cli.context import AppContext
from labctl.cli.k8s import kubeconfig
from labctl.meta import CohortMeta
from labctl.state import StateDir


def _state(tmp_path, target: str):
    cs = StateDir(tmp_path / "state").cohort("c1")
    cs.write_meta(CohortMeta.from_dict({"cohort": "c1", "target": target, "region": "eu-west-1", "all_teams": ["a"]}))
    d = cs.team_dir("a")
    d.mkdir(parents=True)
    outputs = {"cluster_name": "c1-a", "cluster_endpoint": "https://example.eks.amazonaws.com",
               "cluster_certificate_authority": "Q0E="}
    (d / "terraform.tfstate").write_text(json.dumps({"outputs": {k: {"value": v, "type": "string"} for k, v in outputs.items()}}))
    return tmp_path / "state"


def _run(state_dir, *args):
    return CliRunner().invoke(kubeconfig, list(args), obj=AppContext(state_dir=state_dir), catch_exceptions=False)


def test_eks_kubeconfig_is_written_with_mode_0600_and_no_secret(tmp_path):
    out = tmp_path / "a.kubeconfig"
    result = _run(_state(tmp_path, "aws"), "c1", "a", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    cfg = yaml.safe_load(out.read_text())
    assert cfg["clusters"][0]["cluster"]["server"] == "https://example.eks.amazonaws.com"
    assert cfg["users"][0]["user"]["exec"]["args"] == ["--region", "eu-west-1", "eks", "get-token", "--cluster-name", "c1-a", "--output", "json"]


def test_embedded_target_says_the_cluster_is_simulated_and_writes_nothing(tmp_path):
    out = tmp_path / "a.kubeconfig"
    result = _run(_state(tmp_path, "embedded"), "c1", "a", "--out", str(out))
    assert result.exit_code == 0 and "simulated" in result.output and not out.exists()


def test_localstack_kubeconfig_gets_its_token_from_localstack_never_a_real_account(tmp_path):
    state = _state(tmp_path, "localstack")
    cs = StateDir(state).cohort("c1")
    cs.update_meta(endpoint_url="http://localhost:4566")
    out = tmp_path / "a.kubeconfig"
    result = _run(state, "c1", "a", "--out", str(out))
    assert result.exit_code == 0, result.output
    exec_ = yaml.safe_load(out.read_text())["users"][0]["user"]["exec"]
    assert exec_["args"][:2] == ["--endpoint-url", "http://localhost:4566"]
    assert {e["name"]: e["value"] for e in exec_["env"]} == {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
