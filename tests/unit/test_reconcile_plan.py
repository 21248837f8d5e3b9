"""What `up` does about each resource an interrupted apply left outside a team's state (pure): import
what has a deterministic identity in the team's root, delete the rest, and never import something
that sits on what is being deleted. The real thing: tests/integration/test_crash_recovery.py."""

from __future__ import annotations

from labctl.aws.inventory import Resource
from labctl.naming import bucket_name
from labctl.ops.reconcile import orphans, plan
from labctl.tf import state as tfstate


def r(type_, id_, name="", team="t1", parent=None, arn=None, matched_by="tag", tags=None):  # type: ignore[no-untyped-def]
    return Resource(service=type_.split(":")[0], type=type_, id=id_, name=name or id_, team=team, arn=arn,
                    parent=parent, matched_by=matched_by, tags=tags or {})


def decisions(found, enabled=("system", "gpu_spot")):  # type: ignore[no-untyped-def]
    steps = plan("c1", "t1", found, ["system", "gpu_spot"], enabled)
    return {(s.resource.type, s.resource.id): (s.action, s.address, s.import_id) for s in steps}


def test_names_that_follow_from_cohort_and_team_are_imported_the_rest_deleted():
    found = [r("budgets:budget", "c1-t1-budget", parent="123456789012"),
             r("iam:role", "c1-t1-cluster"), r("iam:role", "c1-t1-cluster-autoscaler"),
             r("s3:bucket", bucket_name("c1", "t1")), r("sns:topic", "arn:aws:sns:us-east-1:1:c1-t1-budget-alerts",
                                                        name="c1-t1-budget-alerts", arn="arn:aws:sns:us-east-1:1:c1-t1-budget-alerts"),
             r("ec2:launch-template", "lt-1", name="c1-t1-gpu_spot"),
             r("ec2:vpc", "vpc-1"), r("kms:key", "k-1"), r("iam:role", "someone-elses-role")]
    d = decisions(found)
    assert d[("budgets:budget", "c1-t1-budget")] == ("import", "module.budget.aws_budgets_budget.this",
                                                     "123456789012:c1-t1-budget")
    assert d[("iam:role", "c1-t1-cluster")] == ("import", "module.cluster.aws_iam_role.cluster", "c1-t1-cluster")
    assert d[("iam:role", "c1-t1-cluster-autoscaler")][1] == "module.autoscaler_iam.aws_iam_role.this"
    assert d[("s3:bucket", bucket_name("c1", "t1"))][:2] == ("import", "module.checkpoints.aws_s3_bucket.this")
    assert d[("sns:topic", "arn:aws:sns:us-east-1:1:c1-t1-budget-alerts")][0] == "import"
    assert d[("ec2:launch-template", "lt-1")] == ("import", 'module.node_group["gpu_spot"].aws_launch_template.this', "lt-1")
    for kind, rid in (("ec2:vpc", "vpc-1"), ("kms:key", "k-1"), ("iam:role", "someone-elses-role")):
        assert d[(kind, rid)][0] == "delete"


def test_a_node_group_is_imported_only_on_a_cluster_and_network_the_state_holds():
    ng = r("eks:nodegroup", "c1-t1-gpu_spot", parent="c1-t1")
    assert decisions([ng])[("eks:nodegroup", "c1-t1-gpu_spot")] == (
        "import", 'module.node_group["gpu_spot"].aws_eks_node_group.this[0]', "c1-t1:c1-t1-gpu_spot")
    assert decisions([ng, r("ec2:subnet", "subnet-1")])[("eks:nodegroup", "c1-t1-gpu_spot")][0] == "delete"
    # An imported cluster is replaced by the apply (provider 5.100 cannot read its bootstrap
    # settings back): it is deleted with its node groups and created once.
    d = decisions([r("eks:cluster", "c1-t1"), ng])
    assert d[("eks:cluster", "c1-t1")][0] == d[("eks:nodegroup", "c1-t1-gpu_spot")][0] == "delete"
    # A node group the root keeps switched off (count 0) has no address to import into.
    assert decisions([ng], enabled=["system"])[("eks:nodegroup", "c1-t1-gpu_spot")][0] == "delete"


def test_orphans_are_what_no_state_accounts_for_and_only_what_terraform_makes():
    found = [r("ec2:vpc", "vpc-1"), r("ec2:vpc", "vpc-2"), r("ec2:subnet", "subnet-9", matched_by="containment"),
             r("autoscaling:group", "asg-1", tags={"eks:cluster-name": "c1-t1", "eks:nodegroup-name": "ng"}),
             r("ec2:instance", "i-1"), r("ec2:vpc", "vpc-3", team="t2")]
    ids = {"vpc-1"}
    assert [x.id for x in orphans(found, ids, ["t1"])] == ["vpc-2"]
    # Teardown also clears what blocks the network, however it was found.
    assert [x.id for x in orphans(found, ids, ["t1"], for_teardown=True)] == ["vpc-2", "subnet-9"]
    assert [x.id for x in orphans(found, ids)] == ["vpc-2", "vpc-3"]


def test_a_name_in_the_state_accounts_only_for_a_resource_of_its_own_kind():
    """A team's spot node group, its launch template and its scale-to-zero schedule share one name.
    A state holding the launch template and the schedule but not the node group (a team apply
    killed right after EKS created it) must still show the node group as left outside: a bare
    name match once hid it, and the next apply failed on `NodeGroup already exists`."""
    state = {"resources": [
        {"mode": "managed", "type": "aws_launch_template", "module": 'module.node_group["gpu_spot"]', "name": "this",
         "instances": [{"attributes": {"id": "lt-1", "name": "c1-t1-gpu_spot", "arn": "arn:aws:ec2:::launch-template/lt-1"}}]},
        {"mode": "managed", "type": "aws_scheduler_schedule", "module": "module.backstop[0]", "name": "scale_to_zero",
         "instances": [{"index_key": "c1-t1-gpu_spot",
                        "attributes": {"id": "labctl/c1-t1-gpu_spot", "name": "c1-t1-gpu_spot", "arn": "arn:s:1"}}]},
        {"mode": "managed", "type": "aws_eks_node_group", "module": 'module.node_group["system"]', "name": "this",
         "instances": [{"index_key": 0, "attributes": {"id": "c1-t1:c1-t1-system", "arn": "arn:ng:system"}}]},
    ]}
    ids = tfstate.ids(state)
    spot = r("eks:nodegroup", "c1-t1-gpu_spot", parent="c1-t1")
    system = r("eks:nodegroup", "c1-t1-system", parent="c1-t1")
    lt = r("ec2:launch-template", "lt-1", name="c1-t1-gpu_spot")
    sched = r("scheduler:schedule", "c1-t1-gpu_spot", parent="labctl")
    assert [x.id for x in orphans([spot, system, lt, sched], ids)] == ["c1-t1-gpu_spot"]
    assert orphans([spot], ids)[0].type == "eks:nodegroup"
    # and the schedule, found by name only, is still known when the state holds it
    assert orphans([sched], ids) == []
