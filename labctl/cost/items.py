"""A team's priced line items: the one model behind the estimate (`plan`), the lifecycle that
`up`/`down` and the simulated class record, the ledger, the debrief and FOCUS.

What labctl's Terraform creates for a team falls in two groups:

- standing items: one per resource, priced while it exists (the EKS control plane, a NAT
  gateway, an Elastic IP, the checkpoint bucket, a standalone EBS volume, a KMS key). `up` records each as
  a lifecycle row from the moment it exists, `down` closes it (labctl.telemetry.provisioned).
- per-node items: with every node of a node group, its root volume and, where nodes sit in
  public subnets with no NAT gateway, its public IPv4 address (AWS bills each one hourly). The
  estimate multiplies them by the group's size; whoever records a node records them with it.

Node instances themselves are priced by type and market (labctl.cost.pricing), not here. Pure:
reads a plan or state document, returns values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from labctl.cost import catalog as cat
from labctl.cost.plan import Plan, PlannedResource


@dataclass(frozen=True)
class StandingRule:
    """How one Terraform resource type is priced while it exists."""

    kind: str           # the ledger's usage kind (labctl.cost.model.KINDS)
    part: str           # the estimate's component part
    label: str
    service: str        # catalog service


STANDING: Mapping[str, StandingRule] = {
    "aws_eks_cluster": StandingRule("cluster", "fee", "EKS control plane (standard support)", cat.EKS_CLUSTER),
    "aws_nat_gateway": StandingRule("nat", "hours", "NAT gateway", cat.NAT_GATEWAY),
    "aws_eip": StandingRule("ipv4", "ipv4", "public IPv4 address (Elastic IP)", cat.PUBLIC_IPV4),
    "aws_s3_bucket": StandingRule("bucket", "storage", "S3 Standard storage", cat.S3_STANDARD),
    "aws_ebs_volume": StandingRule("volume", "volume", "gp3 volume", cat.EBS_GP3),
    # $1 per key-month, prorated hourly (catalog service "kms-key"); requests are per use
    "aws_kms_key": StandingRule("kms-key", "key", "KMS customer managed key", cat.KMS_KEY),
}

# Resource ids of the per-node items, derived from the node's instance id.
NODE_ROOT_VOLUME = "-root"
NODE_PUBLIC_IPV4 = "-ipv4"


@dataclass(frozen=True)
class StandingItem:
    """One priced resource of a team's plan or state."""

    address: str
    type: str
    kind: str
    resource_id: str | None        # what the ledger and the AWS collector call it; None until known
    gb: Decimal | None = None      # size, for the per-GB-month kinds, when the document knows it
    created_at: datetime | None = None


@dataclass(frozen=True)
class TeamItems:
    """Everything a team pays for besides its node instances."""

    standing: tuple[StandingItem, ...]
    public_node_ipv4: bool         # each node holds a public IPv4 address while it runs

    def kinds(self) -> set[str]:
        return {i.kind for i in self.standing} | ({"ipv4"} if self.public_node_ipv4 else set())


def public_nodes(plan: Plan) -> bool:
    """With no NAT gateway, nodes can only reach the internet (ECR, the EKS API) from public
    subnets with public IPv4 addresses, each billed hourly. If any subnet maps public IPs on
    launch, the node groups are taken to use them."""
    return (any(s.get("map_public_ip_on_launch") is True for s in plan.of_type("aws_subnet"))
            and not plan.of_type("aws_nat_gateway"))


def _resource_id(r: PlannedResource) -> str | None:
    if r.type == "aws_eks_cluster":
        return r.get("name")
    if r.type == "aws_s3_bucket":
        return r.get("bucket") or r.get("id")
    return r.get("id")


def _created(r: PlannedResource) -> datetime | None:
    text = r.get("created_at")
    if not isinstance(text, str):
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def standing_items(plan: Plan) -> list[StandingItem]:
    out = []
    for r in plan:
        rule = STANDING.get(r.type)
        if rule is None or r.actions == ("delete",):
            continue
        gb = Decimal(r.get("size")) if r.type == "aws_ebs_volume" and r.get("size") is not None else None
        out.append(StandingItem(r.address, r.type, rule.kind, _resource_id(r), gb, _created(r)))
    return out


def team_items(document: Mapping[str, Any]) -> TeamItems:
    """A team's line items from a plan (``terraform show -json`` of a plan) or a state document
    (``{"planned_values": state_values(...)}``)."""
    plan = Plan(document)
    return TeamItems(tuple(standing_items(plan)), public_nodes(plan))


def labctl_modules(cluster_name: str, bucket: str | None = None) -> TeamItems:
    """What labctl's own modules (terraform/modules) create for a team, for a simulated class with
    no Terraform state (pure mode): the cluster, the checkpoint bucket, nodes in public subnets
    with no NAT gateway. A test holds this to a real team's state, so the two cannot drift."""
    return TeamItems((StandingItem("module.cluster.aws_eks_cluster.this", "aws_eks_cluster", "cluster", cluster_name),
                      StandingItem("module.checkpoints.aws_s3_bucket.this", "aws_s3_bucket", "bucket",
                                   bucket or f"{cluster_name}-checkpoints")),
                     public_node_ipv4=True)
