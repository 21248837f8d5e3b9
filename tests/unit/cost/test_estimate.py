"""Pre-deploy estimates from saved `terraform show -json` fixtures (no terraform needed)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from labctl.cost.estimate import diff_estimates, estimate_cohort, estimate_plan, render_diff, render_estimate
from labctl.cost.plan import Plan

H = D(4)


def comp(est, address_suffix, part):
    found = [c for c in est.components if c.address.endswith(address_suffix) and c.part == part]
    assert len(found) == 1, (address_suffix, part, [c.key for c in est.components])
    return found[0]


def test_plan_wrapper_reads_child_modules_and_is_read_only(plan_doc):
    plan = Plan(plan_doc("plan_team_a.json"))
    ng = plan.resources["module.team.aws_eks_node_group.gpu"]
    assert ng.module_address == "module.team" and ng.get("scaling_config", 0, "max_size") == 2
    assert ng.actions == ("create",) and ng.is_unknown("arn")
    with pytest.raises(TypeError):
        ng.values["capacity_type"] = "SPOT"  # type: ignore[index]
    assert plan.references(ng, "launch_template", "id")[1] == "aws_launch_template.gpu"


def test_node_groups_priced_at_min_desired_max_for_the_session(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    assert est.team == "team-a"                                    # from tags_all
    # g5.xlarge on-demand 1.006 $/h x 4 h at 0 / 1 / 2 nodes
    assert comp(est, ".gpu", "nodes").cost == (D(0), D("4.024"), D("8.048"))
    # m6i.xlarge 0.192 x 4 at 1 / 1 / 2
    assert comp(est, ".system", "nodes").cost == (D("0.768"), D("0.768"), D("1.536"))
    # spot pool lists g5.xlarge and g4dn.xlarge: the dearest (g5 midpoint 0.438) x 4 h at 0 / 0 / 3
    spot = comp(est, ".gpu_spot", "nodes")
    assert spot.cost == (D(0), D(0), D("5.256")) and spot.facts["instance_type"] == "g5.xlarge"
    assert comp(est, ".this", "fee").cost == (D("0.4"),) * 3            # EKS 0.10 $/h x 4 h


def test_root_volumes_come_from_the_launch_template_by_name_or_reference(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    # by name: 50 GiB x 0.08 $/GB-month x 4 h / 730 h = 0.021918 per node
    assert comp(est, ".system", "volumes").cost[1] == D("0.021918")
    # by configuration reference (id unknown at plan time): 100 GiB -> 0.043836 per node
    assert comp(est, ".gpu", "volumes").cost == (D(0), D("0.043836"), D("0.087671"))


def test_public_ipv4_per_node_without_nat(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    assert comp(est, ".gpu", "ipv4").cost == (D(0), D("0.02"), D("0.04"))       # 0.005 $/h x 4 h per node


def test_usage_based_and_free_resources_are_listed_not_zeroed(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    s3 = comp(est, ".checkpoints", "storage")
    assert s3.usage_based and s3.cost is None and s3.basis.unit_price == D("0.023")
    free = dict(est.free)
    assert "module.team.aws_budgets_budget.team" in free and "module.team.aws_iam_role.cluster" in free
    assert "module.team.aws_scheduler_schedule.teardown" in free
    lo, mid, hi = est.total()
    assert mid == sum((c.cost[1] for c in est.components if c.cost), D(0))
    assert "depends on use: $0.023 per GB-month" in render_estimate(est)


def test_the_only_warning_on_the_team_plan_is_the_spot_midpoint(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    assert [w.message.split(":")[0] for w in est.warnings] == ["g5.xlarge spot in us-east-1"]


def test_unknown_prices_are_warnings_never_zero_or_crash(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_odd.json"), "us-east-1", H, catalog)
    text = [f"{w.address}: {w.message}" for w in est.warnings]
    assert any("aws_eks_node_group.mystery: x9.huge in us-east-1: not in the price catalog" in t for t in text)
    assert any("aws_eks_node_group.later: instance type unknown until apply" in t for t in text)
    assert any("no pricing rule for aws_sagemaker_notebook_instance" in t for t in text)
    mystery = comp(est, ".mystery", "nodes")
    assert mystery.cost is None and mystery.basis is None
    assert comp(est, "aws_nat_gateway.this", "hours").cost[1] == D("0.18")     # 0.045 $/h x 4 h
    assert comp(est, "aws_eip.nat", "ipv4").cost[1] == D("0.02")
    assert not any(c.address == "aws_instance.old" for c in est.components)    # being destroyed
    assert "unpriced" in render_estimate(est)


def test_region_without_service_prices_warns(plan_doc, catalog):
    est = estimate_plan(plan_doc("plan_team_a.json"), "eu-central-1", H, catalog)
    messages = " | ".join(w.message for w in est.warnings)
    assert "eks-cluster in eu-central-1: no price in the catalog" in messages
    assert "m6i.xlarge on-demand in eu-central-1: no price" in messages
    # g5.xlarge spot in eu-central-1: no range, derived from on-demand 1.258 x (1 - 59%) = 0.51578
    assert comp(est, ".gpu_spot", "nodes").basis.unit_price == D("0.51578")
    assert "derived" in messages


def test_diff_says_spot_pool_instead_of_on_demand(plan_doc, catalog):
    old = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    new = estimate_plan(plan_doc("plan_team_a_gpu_spot.json"), "us-east-1", H, catalog)
    changes = diff_estimates(old, new)
    assert [c.key for c in changes] == ["module.team.aws_eks_node_group.gpu#nodes"]
    # desired 1 node x 4 h: on-demand 4.024 -> spot midpoint 1.752
    assert changes[0].delta == D("-2.272")
    text = render_diff(changes, H)
    assert "module.team.aws_eks_node_group.gpu: spot pool instead of on-demand: \u2212$2.27 over the session (4 h)" in text


def test_diff_of_added_and_removed_resources(plan_doc, catalog):
    full = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", H, catalog)
    odd = estimate_plan(plan_doc("plan_odd.json"), "us-east-1", H, catalog)
    changes = diff_estimates(odd, full)
    descriptions = {c.key: c.description for c in changes}
    assert descriptions["module.team.aws_eks_cluster.this#fee"].startswith("new ")
    assert descriptions["aws_nat_gateway.this#hours"].startswith("removed ")
    unpriced = [c for c in changes if c.key == "aws_eks_node_group.mystery#nodes"][0]
    assert unpriced.delta is None and "price unknown" in render_diff([unpriced], H)


def test_cohort_total_is_the_sum_of_teams(plan_doc, catalog):
    cohort = estimate_cohort({"team-a": plan_doc("plan_team_a.json"), "team-b": plan_doc("plan_team_a_gpu_spot.json")},
                             "us-east-1", H, catalog)
    a, b = cohort.teams["team-a"].total(), cohort.teams["team-b"].total()
    assert cohort.total() == tuple(x + y for x, y in zip(a, b, strict=True))
    assert cohort.teams["team-b"].team == "team-b"
    assert len(cohort.warnings) == 3      # the spot midpoint, once for team-a and twice for team-b


def test_session_length_is_not_a_month(plan_doc, catalog):
    one = estimate_plan(plan_doc("plan_team_a.json"), "us-east-1", D(1), catalog)
    assert comp(one, ".this", "fee").cost[1] == D("0.1")


def test_not_a_plan_is_rejected(catalog):
    with pytest.raises(ValueError, match="not a terraform plan"):
        estimate_plan({"values": {}}, "us-east-1", H, catalog)


def test_for_each_module_instances_link_their_own_launch_template(plan_doc, catalog):
    # the repository's layout: module.node_group["<key>"] holds aws_launch_template.this and
    # aws_eks_node_group.this, whose launch_template.id is unknown at plan time
    est = estimate_plan(plan_doc("plan_for_each_modules.json"), "us-east-1", H, catalog)
    assert est.team == "team-b"
    by_key = {c.key: c for c in est.components}
    # 150 GiB x 0.08 x 4 / 730 = 0.065753 per node, up to 3 spot nodes
    assert by_key['module.node_group["gpu-spot"].aws_eks_node_group.this#volumes'].cost[2] == D("0.197260")
    assert by_key['module.node_group["gpu"].aws_eks_node_group.this#volumes'].facts["volume_gb"] == 100
    assert by_key['module.node_group["system"].aws_eks_node_group.this#nodes'].cost[1] == D("0.1664")  # 0.0416 x 4
    assert [w.message for w in est.warnings if "midpoint" not in w.message] == []
    assert any(a.endswith('aws_autoscaling_group_tag.this["k8s.io/cluster-autoscaler/enabled"]') for a, _ in est.free)
