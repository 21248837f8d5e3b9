"""`labctl handouts`: one private folder per team, ready to hand out.

    <out>/                      mode 0700
      <team>/                   mode 0700
        README.md               the lab's handout.md, headed with the team's cohort, window and commands
        knobs.yaml              the team's knobs file (created in the state dir if it was not yet)
        access.md               the team's IAM role ARN and how to assume it (real accounts), or why
                                there is none (emulator)
        aws-config              an AWS CLI profile that assumes the role (real accounts only)
        kubeconfig              EKS kubeconfig (token from `aws eks get-token`; no secret inside),
                                or cluster.md saying the cluster is simulated
Every file is written mode 0600 from its first byte. Nothing here is a secret by design (role
ARNs and exec-based kubeconfigs carry no credentials), and still nothing is printed: the CLI
prints folder and file names only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labctl.errors import NotFoundError
from labctl.k8s import kind
from labctl.k8s.kubeconfig import eks_kubeconfig, write_kubeconfig
from labctl.ops import remote_state
from labctl.ops.collect import simulated, team_eks_config
from labctl.ops.common import resolve_cohort_id
from labctl.ops.team import cohort_file, knobs_path, knobs_template
from labctl.ops.target import with_recorded_accounts
from labctl.spec.load import ResolvedCohort, load_cohort
from labctl.state import StateDir
from labctl.tf import state as tfstate

DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass
class TeamHandout:
    team: str
    folder: Path
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    role_arn: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"team": self.team, "folder": str(self.folder), "files": sorted(self.files), "notes": self.notes,
                "role_arn": self.role_arn}


@dataclass
class HandoutsReport:
    cohort: str
    out: Path
    teams: list[TeamHandout]

    def as_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "out": str(self.out), "teams": [t.as_dict() for t in self.teams]}


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (replacing atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, FILE_MODE)
    tmp.replace(path)
    return path



def _readme(cohort: ResolvedCohort, team: str, lab_handout: str | None) -> str:
    c = cohort.cohort
    head = [
        f"# Team {team}: {cohort.lab.title}",
        "",
        f"- Cohort: `{cohort.id}` ({c.target}, {c.region})",
        f"- Session: {c.window.start.isoformat()} to {c.window.ends_at.isoformat()} - GPU node groups scale to zero at the end",
        f"- Your budget: ${cohort.team(team).budget_usd}",
        "- Your knobs: `knobs.yaml` in this folder (the only settings you may change; allowed values are in its comments)",
        "",
        "Ask the facilitator to run, or run yourself where labctl is installed for you:",
        "",
        "```",
        f"labctl team plan {team} --cohort {cohort.id}    # what changes, and what it costs over the rest of the session",
        f"labctl team apply {team} --cohort {cohort.id}   # apply it (only your team)",
        "```",
        "",
    ]
    body = lab_handout if lab_handout is not None else "_This lab has no handout.md._\n"
    return "\n".join(head) + "\n" + body


def _access(cohort: ResolvedCohort, team: str, role_arn: str | None, target: str) -> tuple[str, str | None, list[str]]:
    notes: list[str] = []
    if target != "aws":
        text = (f"# Access for team {team}\n\nThis cohort runs on the `{target}` target: there is no real AWS "
                "account to sign in to, so there are no credentials to hand out. Work through `labctl team` "
                "commands and the debrief.\n")
        if role_arn:
            text += f"\n(The emulated role, for reference: `{role_arn}`.)\n"
        notes.append(f"{target} target: no real account access to hand out")
        return text, None, notes
    if not role_arn:
        notes.append("no team role yet (run `labctl up`, then `labctl handouts` again)")
        return (f"# Access for team {team}\n\nThe team's role does not exist yet. Ask the facilitator.\n", None, notes)
    profile = f"labctl-{cohort.id}-{team}"
    account = cohort.cohort.accounts.account_of(team)      # accounts: per-team
    own = (f"Account: `{account}`, your team's own: no other team's resources are in it.\n\n" if account else "")
    text = (f"# Access for team {team}\n\nRole: `{role_arn}`\n\n{own}"
            f"It may read the account's EC2/EKS/Auto Scaling state, metrics, budgets and prices, and change only "
            f"resources tagged `labctl:team={team}` (node group sizes, Auto Scaling groups, instances).\n\n"
            "Sign in with the identity the facilitator gave you, then use the profile in `aws-config`:\n\n"
            "```\n"
            f"export AWS_CONFIG_FILE=$PWD/aws-config AWS_PROFILE={profile}\n"
            "aws sts get-caller-identity\n"
            "```\n")
    config = (f"[profile {profile}]\nrole_arn = {role_arn}\nsource_profile = default\n"
              f"region = {cohort.cohort.region}\nrole_session_name = {team}\n")
    return text, config, notes


def write_handouts(cohort_ref: str | Path, state_dir: Path, out: Path) -> HandoutsReport:
    cohort = with_recorded_accounts(load_cohort(cohort_file(cohort_ref, state_dir)), state_dir)   # accounts.organization
    cs = StateDir(state_dir).cohort(cohort.id)
    remote_state.refresh_for_reading(cs, state_dir)      # state in S3: each team's outputs as they are now
    meta = cs.meta()
    # Before `up` recorded anything, the cohort file says where it will go.
    target = meta.target if meta.recorded else cohort.cohort.target
    region = meta.region if meta.recorded else cohort.cohort.region
    handout_file = cohort.lab_dir / "handout.md"
    lab_handout = handout_file.read_text() if handout_file.exists() else None
    private_dir(out)
    report = HandoutsReport(cohort.id, out, [])
    for spec in cohort.teams:
        team = spec.name
        folder = private_dir(out / team)
        h = TeamHandout(team, folder)
        kp = knobs_path(cs, team)
        if not kp.exists():
            kp.parent.mkdir(parents=True, exist_ok=True)
            kp.write_text(knobs_template(cohort, team))
        write_private(folder / "knobs.yaml", kp.read_text())
        write_private(folder / "README.md", _readme(cohort, team, lab_handout))
        h.files += ["knobs.yaml", "README.md"]
        if lab_handout is None:
            h.notes.append(f"lab {cohort.lab.name} has no handout.md")
        outputs = tfstate.team_outputs(cs.team_dir(team))
        h.role_arn = outputs.get("team_role_arn")
        access, config, notes = _access(cohort, team, h.role_arn, target)
        write_private(folder / "access.md", access)
        h.files.append("access.md")
        h.notes += notes
        if config:
            write_private(folder / "aws-config", config)
            h.files.append("aws-config")
        if target in ("aws", "localstack") and outputs.get("cluster_endpoint"):
            kc = eks_kubeconfig(outputs["cluster_name"], outputs["cluster_endpoint"],
                                outputs.get("cluster_certificate_authority") or "", region,
                                f"labctl-{cohort.id}-{team}" if target == "aws" else None,
                                meta.localstack_endpoint)
            write_private(folder / "kubeconfig", yaml.safe_dump(kc, sort_keys=False))
            h.files.append("kubeconfig")
        else:
            why = ("the cluster is simulated inside labctl (embedded target): there is no Kubernetes API"
                   if target == "embedded" else "the cluster does not exist yet (run `labctl up`)")
            write_private(folder / "cluster.md", f"# Cluster for team {team}\n\nNo kubeconfig: {why}.\n")
            h.files.append("cluster.md")
            h.notes.append(f"no kubeconfig: {why}")
        for stale in ("kubeconfig", "aws-config", "cluster.md"):
            if stale not in h.files and (folder / stale).exists():
                (folder / stale).unlink()
        report.teams.append(h)
    if cs.root.is_dir():
        cs.audit("handouts", "ok", out=str(out), teams=[t.team for t in report.teams])
    return report


SIMULATED_CLUSTER = ("cohort {cohort} runs on the embedded target: its cluster is simulated inside labctl, "
                     "so there is no Kubernetes API and no kubeconfig to hand out")


@dataclass
class TeamKubeconfig:
    cohort: str
    team: str
    path: Path | None           # None: the cohort's clusters are simulated, nothing was written
    message: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cohort": self.cohort, "team": self.team, "simulated": self.path is None,
                               "kubeconfig": str(self.path) if self.path else None}
        if self.path is None:
            out["message"] = self.message
        return out


def write_team_kubeconfig(cohort_ref: str | Path, state_dir: Path, team: str, dest: Path | None = None) -> TeamKubeconfig:
    """`labctl kubeconfig`: TEAM's kubeconfig (EKS: from its Terraform outputs; kind: the cohort's
    cluster) written to ``dest`` (default ./<cohort>-<team>.kubeconfig) with mode 0600."""
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    if team not in set(meta.all_teams) | set(cs.teams_with_state()):
        raise NotFoundError(f"cohort {cohort_id} has no team {team!r}")
    if simulated(meta):
        return TeamKubeconfig(cohort_id, team, None, SIMULATED_CLUSTER.format(cohort=cohort_id))
    dest = dest or Path(f"{cohort_id}-{team}.kubeconfig")
    if meta.k8s == "kind":
        kind.ensure_cluster(cohort_id, dest, create=False)
    else:
        config = team_eks_config(cs, meta, team)
        if config is None:
            raise NotFoundError(f"team {team} of cohort {cohort_id} has no cluster yet (run `labctl up` first)")
        write_kubeconfig(dest, config)
    return TeamKubeconfig(cohort_id, team, dest, f"{team}: wrote {dest} (mode 0600); use it with KUBECONFIG={dest}")
