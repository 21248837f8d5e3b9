"""Per-team access: the team-access policy's intent (static, from the module's own template),
its grammar (moto validates policy documents; it does not evaluate conditions - moto ignores
IAM Resource and Condition elements and enforces nothing by default), and the handout folders
(0700 dirs, 0600 files, nothing secret printed)."""

from __future__ import annotations

import json
import re
import stat
import textwrap
from pathlib import Path

import boto3

from labctl import resources
from labctl.ops.handouts import write_handouts

MODULE = resources.terraform_dir() / "modules" / "team-access"
READ_PREFIXES = ("Describe", "List", "Get", "View")


def render_policy(team: str, bucket: str = "c-t-ckpt") -> dict:
    """The module's templatefile(), for the only interpolations the template may contain."""
    text = (MODULE / "policies" / "team.json.tftpl").read_text()
    assert "%{" not in text, "no template directives: the test renders plain ${name} only"
    names = set(re.findall(r"\$\{([^}]*)\}", text))
    assert names <= {"team", "bucket_arn"}, names
    text = text.replace("${team}", team).replace("${bucket_arn}", f"arn:aws:s3:::{bucket}")
    return json.loads(text)


def _actions(st: dict) -> list[str]:
    a = st["Action"]
    return [a] if isinstance(a, str) else list(a)


def _mutating(action: str) -> bool:
    return not action.split(":", 1)[1].startswith(READ_PREFIXES)


def test_every_mutating_allow_is_conditioned_on_the_teams_tag():
    doc = render_policy("alpha")
    for st in doc["Statement"]:
        if st["Effect"] != "Allow" or not any(_mutating(a) for a in _actions(st)):
            continue
        cond = st.get("Condition", {}).get("StringEquals", {})
        assert cond.get("aws:ResourceTag/labctl:team") == "alpha", st["Sid"]


def test_tagging_also_requires_the_teams_tag_in_the_request():
    doc = render_policy("alpha")
    tagging = [s for s in doc["Statement"] if s["Effect"] == "Allow" and "ec2:CreateTags" in _actions(s)]
    assert tagging and all(s["Condition"]["StringEquals"]["aws:RequestTag/labctl:team"] == "alpha" for s in tagging)


def test_ownership_tags_cannot_be_removed_or_moved_to_another_team():
    doc = render_policy("alpha")
    denies = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
    keys = {k for s in denies for k in s.get("Condition", {}).get("ForAnyValue:StringEquals", {}).get("aws:TagKeys", [])}
    assert {"labctl:team", "labctl:cohort"} <= keys
    assert any(s["Condition"].get("StringNotEquals", {}).get("aws:RequestTag/labctl:team") == "alpha" for s in denies)


def test_no_wildcard_action_no_iam_and_unconditioned_statements_are_read_only():
    doc = render_policy("alpha")
    for st in doc["Statement"]:
        for a in _actions(st):
            assert a != "*" and not a.startswith(("iam:", "sts:", "organizations:")), a
            if st["Effect"] == "Allow" and "Condition" not in st:
                assert not _mutating(a), f"{st['Sid']}: {a} is mutating without a team condition"
    s3 = [s for s in doc["Statement"] if any(a.startswith("s3:") for a in _actions(s))]
    assert all(r.startswith("arn:aws:s3:::c-t-ckpt") for s in s3 for r in s["Resource"])


def test_module_wires_the_template_and_the_trust():
    main = (MODULE / "main.tf").read_text()
    assert 'templatefile("${path.module}/policies/team.json.tftpl"' in main
    assert ':root"' in main and "var.principal_arns" in main
    root = (resources.terraform_dir() / "root" / "main.tf").read_text()
    assert 'module "team_access"' in root and "var.team_access_principal_arns" in root
    assert 'output "team_role_arn"' in (resources.terraform_dir() / "root" / "outputs.tf").read_text()


def test_the_emulator_accepts_the_role_and_policy_documents(monkeypatch):
    from moto import mock_aws

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, "testing")
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                          "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}}]}
        iam.create_role(RoleName="c-alpha-team", AssumeRolePolicyDocument=json.dumps(trust))
        # moto's IAMPolicyDocumentValidator rejects malformed documents (bad keys, effects, ARNs).
        iam.put_role_policy(RoleName="c-alpha-team", PolicyName="labctl-team", PolicyDocument=json.dumps(render_policy("alpha")))
        got = iam.get_role_policy(RoleName="c-alpha-team", PolicyName="labctl-team")["PolicyDocument"]
        assert got["Statement"][2]["Condition"]["StringEquals"]["aws:ResourceTag/labctl:team"] == "alpha"


# ------------------------------------------------------------------------------- handout folders


def _cohort(tmp_path: Path, target: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(f"""\
        cohort: ho
        target: {target}
        window: {{start: 2026-12-01T09:00:00Z, duration: 4h}}
        lab: optimise-under-budget
        teams: [{{name: alpha}}, {{name: beta}}]
    """))
    return p


def _provisioned(state: Path, spec: Path, target: str) -> None:
    root = state / "cohorts" / "ho"
    root.mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps({"cohort": "ho", "target": target, "region": "us-east-1"}))
    (root / "cohort.yaml").write_text(spec.read_text())
    for team in ("alpha", "beta"):
        d = root / "teams" / team
        d.mkdir(parents=True)
        outputs = {"team_role_arn": {"value": f"arn:aws:iam::123456789012:role/ho-{team}-team"},
                   "cluster_name": {"value": f"ho-{team}"},
                   "cluster_endpoint": {"value": f"https://{team}.eks.example"},
                   "cluster_certificate_authority": {"value": "Q0FEQVRB"}}
        (d / "terraform.tfstate").write_text(json.dumps({"outputs": outputs, "resources": [{}]}))


def _modes(out: Path) -> tuple[set[int], set[int]]:
    dirs = {stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")] if p.is_dir()}
    files = {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    return dirs, files


def test_real_account_handouts_have_role_profile_kubeconfig_knobs_and_handout(tmp_path):
    spec, state, out = _cohort(tmp_path, "aws"), tmp_path / "state", tmp_path / "handouts"
    _provisioned(state, spec, "aws")
    report = write_handouts("ho", state, out)
    alpha = out / "alpha"
    assert sorted(p.name for p in alpha.iterdir()) == ["README.md", "access.md", "aws-config", "knobs.yaml", "kubeconfig"]
    assert "role_arn = arn:aws:iam::123456789012:role/ho-alpha-team" in (alpha / "aws-config").read_text()
    kc = (alpha / "kubeconfig").read_text()
    assert "https://alpha.eks.example" in kc and "get-token" in kc and "token:" not in kc
    assert "# Elaborate: three training runs" in (alpha / "README.md").read_text()
    assert (alpha / "knobs.yaml").read_text().startswith("# Knobs of team alpha")
    assert _modes(out) == ({0o700}, {0o600})
    assert [t.role_arn for t in report.teams] == ["arn:aws:iam::123456789012:role/ho-alpha-team",
                                                   "arn:aws:iam::123456789012:role/ho-beta-team"]


def test_embedded_handouts_say_the_cluster_is_simulated(tmp_path):
    spec, state, out = _cohort(tmp_path, "embedded"), tmp_path / "state", tmp_path / "handouts"
    _provisioned(state, spec, "embedded")
    report = write_handouts(spec, state, out)
    files = sorted(p.name for p in (out / "beta").iterdir())
    assert files == ["README.md", "access.md", "cluster.md", "knobs.yaml"]
    assert "simulated" in (out / "beta" / "cluster.md").read_text()
    assert any("simulated" in n for n in report.teams[1].notes)
    assert _modes(out) == ({0o700}, {0o600})


def test_handouts_cli_prints_names_never_contents(tmp_path):
    from click.testing import CliRunner

    from labctl.cli.main import _register, cli
    from labctl.cli.team import ALL

    _register()
    for c in ALL:
        cli.add_command(c)
    spec, state, out = _cohort(tmp_path, "aws"), tmp_path / "state", tmp_path / "handouts"
    _provisioned(state, spec, "aws")
    res = CliRunner().invoke(cli, ["--state-dir", str(state), "handouts", "ho", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "alpha:" in res.output and "kubeconfig" in res.output
    for secretish in ("Q0FEQVRB", "certificate-authority-data", "role_arn =", "node_groups:"):
        assert secretish not in res.output
    audit = (state / "cohorts" / "ho" / "audit.log").read_text()
    assert '"command": "handouts"' in audit and "Q0FEQVRB" not in audit


def test_rerun_tightens_modes_of_an_existing_folder(tmp_path):
    spec, state, out = _cohort(tmp_path, "embedded"), tmp_path / "state", tmp_path / "handouts"
    (out / "alpha").mkdir(parents=True)
    (out / "alpha").chmod(0o755)
    (out / "alpha" / "README.md").write_text("old")
    (out / "alpha" / "README.md").chmod(0o644)
    write_handouts(spec, state, out)
    assert _modes(out) == ({0o700}, {0o600})
