"""What the cloud holds of a team that its Terraform state does not: found, then imported or deleted.

A terraform killed mid-apply (a laptop that dies, an OOM kill, `kill -9`) leaves a state that
lacks what it created in its last seconds: terraform writes its state every few seconds during an
apply, not after each resource. Applying again would create those resources a second time (two
VPCs) or fail on their names (`DuplicateRecordException: the budget already exists`). So before a
team whose last apply did not finish cleanly is applied again (`up` records an ``applying`` marker
in meta.json before terraform starts and clears it when terraform has finished), labctl lists the
cohort by tag and name (labctl.aws.inventory), keeps what carries the team's tag or name and is
not in its state (an *orphan*), and for each one either

* **imports** it, when its identity is deterministic (its name follows from cohort and team:
  the budget ``<cohort>-<team>-budget``, the IAM roles, the checkpoint bucket, the alert topic, a
  node group's launch template) and nothing it sits on is being deleted: an import block in the
  team's root (``labctl-imports.tf.json``, removed after the apply) puts it into the state during
  the next plan, and the apply updates it in place if it differs (a node group only on a cluster
  the state holds); or
* **deletes** it (labctl.aws.sweep, in dependency order) when it has no such identity (a VPC, a
  subnet, an internet gateway, a route table, a KMS key), sits on something being deleted, or is
  an EKS cluster (imported, the provider would replace it anyway): the apply then creates it once.

A state is a snapshot taken during the apply, so everything a resource in it depends on is in it
too: deleting orphans never pulls the ground from under a resource the state holds.

`down` uses the same test (:func:`orphans`) to sweep before destroying: a subnet that is in no
state makes terraform's VPC delete retry DependencyViolation for twenty minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl import naming
from labctl.aws.inventory import Resource
from labctl.tf import state as tfstate

IMPORTS_FILE = "labctl-imports.tf.json"     # .tf.json: not hashed into the shared init (ops.common)

# The resource types the Terraform modules create themselves (what an interrupted apply can leave
# behind). What EKS makes for them (Auto Scaling groups, instances, their volumes, security
# groups, network interfaces) goes with its owner, so it is never an orphan of its own.
MODULE_TYPES = frozenset({
    "ec2:vpc", "ec2:subnet", "ec2:internet-gateway", "ec2:route-table", "ec2:launch-template",
    "eks:cluster", "eks:nodegroup", "iam:role", "iam:oidc-provider", "s3:bucket", "sns:topic",
    "kms:key", "budgets:budget", "scheduler:schedule",
})
# Everything in a VPC that keeps the VPC (or a subnet) from being deleted, found by containment:
# swept before `down` destroys, so terraform's delete of the VPC does not retry for minutes.
BLOCKS_NETWORK = frozenset({"ec2:subnet", "ec2:internet-gateway", "ec2:route-table", "ec2:network-interface"})


# The Terraform resource type of each kind the modules create, for matching a name in a state to
# a resource of the same kind only (labctl.tf.state.name_key).
TF_TYPES = {
    "ec2:vpc": "aws_vpc", "ec2:subnet": "aws_subnet", "ec2:internet-gateway": "aws_internet_gateway",
    "ec2:route-table": "aws_route_table", "ec2:launch-template": "aws_launch_template",
    "eks:cluster": "aws_eks_cluster", "eks:nodegroup": "aws_eks_node_group", "iam:role": "aws_iam_role",
    "iam:oidc-provider": "aws_iam_openid_connect_provider", "s3:bucket": "aws_s3_bucket",
    "sns:topic": "aws_sns_topic", "kms:key": "aws_kms_key", "budgets:budget": "aws_budgets_budget",
    "scheduler:schedule": "aws_scheduler_schedule",
}


def known(r: Resource, ids: set[str]) -> bool:
    """Whether a state holding ``ids`` (labctl.tf.state.ids) accounts for ``r``: it is in the state
    itself (by id, ARN, cluster:nodegroup, or its name on a resource of its own kind), or EKS owns it
    for a node group in the state (the node group's Auto Scaling group goes when the node group does).
    A name alone never matches across kinds: a team's spot node group, its launch template and its
    scale-to-zero schedule are all called ``<cohort>-<team>-gpu_spot``."""
    owner = f"{r.tags.get('eks:cluster-name')}:{r.tags.get('eks:nodegroup-name')}"
    keys = {r.id, r.arn, f"{r.parent}:{r.id}", owner}
    if r.type in TF_TYPES:
        keys |= {tfstate.name_key(TF_TYPES[r.type], r.name), tfstate.name_key(TF_TYPES[r.type], r.id)}
    if r.type == "eks:nodegroup":
        keys.discard(r.id)          # a node group's state id is cluster:name; its bare name is other kinds' too
    return bool(keys & ids)


def orphans(found: Iterable[Resource], ids: set[str], teams: Iterable[str] | None = None,
            for_teardown: bool = False) -> list[Resource]:
    """What the cloud holds for ``teams`` (all when None) that no state (``ids``) accounts for.

    For `up` only what terraform itself creates and marks (tag, name, cluster reference). For
    teardown also what blocks the network's deletion, however it was found (containment: a subnet
    made by hand in a team's VPC carries no tag)."""
    wanted = None if teams is None else set(teams)
    out = []
    for r in found:
        if wanted is not None and r.team not in wanted:
            continue
        if known(r, ids):
            continue
        if r.type in MODULE_TYPES and (r.matched_by != "containment" or for_teardown):
            out.append(r)
        elif for_teardown and r.type in BLOCKS_NETWORK:
            out.append(r)
    return out


@dataclass(frozen=True)
class Step:
    """What is done about one orphan: ``import`` into ``address``, or ``delete``."""

    resource: Resource
    action: str                       # import | delete
    address: str | None = None
    import_id: str | None = None
    why: str = ""

    def describe(self, dry_run: bool = False) -> str:
        if self.action == "import":
            return f"{'would import' if dry_run else 'imported'} {self.resource.describe()} into {self.address}"
        return f"{'would delete' if dry_run else 'deleted'} {self.resource.describe()} ({self.why})"

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource.describe(), "type": self.resource.type,
                "address": self.address, "why": self.why}


@dataclass
class Reconciliation:
    team: str
    steps: list[Step] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)     # deletes that did not happen, with the reason
    dry_run: bool = False                                # said what it would do, did nothing
    notes: list[str] = field(default_factory=list)      # what was mended first (a cut-off state)

    @property
    def imports(self) -> list[Step]:
        return [s for s in self.steps if s.action == "import"]

    @property
    def deletes(self) -> list[Step]:
        return [s for s in self.steps if s.action == "delete"]

    def lines(self) -> list[str]:
        return (list(self.notes) + [s.describe(self.dry_run) for s in self.steps]
                + [f"not deleted: {f}" for f in self.failed])


def plan(cohort: str, team: str, found: list[Resource], node_group_keys: Iterable[str] = (),
         enabled_node_groups: Iterable[str] = ()) -> list[Step]:
    """Import or delete, per orphan of one team. Pure: ``found`` is the team's orphans;
    ``node_group_keys`` the node groups its root declares, ``enabled_node_groups`` those it runs."""
    p = naming.prefix(cohort, team)
    keys, enabled = set(node_group_keys), set(enabled_node_groups)
    roles = {f"{p}-cluster": "module.cluster.aws_iam_role.cluster",
             f"{p}-node": "module.cluster.aws_iam_role.node",
             f"{p}-cluster-autoscaler": "module.autoscaler_iam.aws_iam_role.this",
             f"{p}-backstop": "module.backstop[0].aws_iam_role.scheduler",
             f"{p}-team": "module.team_access.aws_iam_role.this"}
    deleting_network = any(r.type in ("ec2:vpc", "ec2:subnet") for r in found)
    # An imported cluster is replaced by the next apply anyway (the aws provider cannot read its
    # bootstrap settings back, and they force a new cluster: seen with terraform 1.11 and provider
    # 5.100): it is deleted, with the node groups on it, and created once.
    deleting_cluster = any(r.type == "eks:cluster" for r in found)

    def target(r: Resource) -> tuple[str, str] | None:
        """(address, import id) when ``r`` has a deterministic identity in the team's root."""
        if r.type == "iam:role" and r.id in roles:
            return roles[r.id], r.id
        if r.type == "s3:bucket" and r.id == naming.bucket_name(cohort, team):
            return "module.checkpoints.aws_s3_bucket.this", r.id
        if r.type == "budgets:budget" and r.name == f"{p}-budget" and r.parent:
            return "module.budget.aws_budgets_budget.this", f"{r.parent}:{r.name}"
        if r.type == "sns:topic" and r.name == f"{p}-budget-alerts":
            return "module.budget.aws_sns_topic.alerts", r.arn or r.id
        key = r.name.removeprefix(f"{p}-") if r.name.startswith(f"{p}-") else None
        if r.type == "ec2:launch-template" and key in keys:
            return f'module.node_group["{key}"].aws_launch_template.this', r.id
        # A node group sits on its cluster and subnets: imported only when those stay.
        if (r.type == "eks:nodegroup" and r.parent == p and key in enabled
                and not (deleting_network or deleting_cluster)):
            return f'module.node_group["{key}"].aws_eks_node_group.this[0]', f"{p}:{r.id}"
        return None

    steps = []
    for r in found:
        hit = target(r)
        if hit is not None:
            steps.append(Step(r, "import", address=hit[0], import_id=hit[1]))
        else:
            if r.type == "eks:cluster":
                why = "an imported cluster would be replaced anyway (its bootstrap settings are not read back)"
            elif r.type in ("iam:role", "s3:bucket", "budgets:budget", "sns:topic", "ec2:launch-template",
                            "eks:nodegroup"):
                why = "it sits on what is deleted, or its root does not declare it"
            else:
                why = "no deterministic identity to import it by"
            steps.append(Step(r, "delete", why=f"not in the state, {why}; the apply creates it once"))
    return steps


def write_imports(team_dir: Path, steps: list[Step]) -> Path | None:
    """The import blocks for ``steps`` in the team's root (none: the file is removed)."""
    path = team_dir / IMPORTS_FILE
    blocks = [{"to": s.address, "id": s.import_id} for s in steps if s.action == "import"]
    if not blocks:
        path.unlink(missing_ok=True)
        return None
    path.write_text(json.dumps({"import": blocks}, indent=2) + "\n")
    return path


def clear_imports(team_dir: Path) -> None:
    (team_dir / IMPORTS_FILE).unlink(missing_ok=True)


def node_group_keys(tfvars: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(declared, enabled) node group keys of a team's root, from its tfvars."""
    enabled = list((tfvars.get("node_groups") or {}).keys())
    return enabled + list((tfvars.get("standby_node_groups") or {}).keys()), enabled
