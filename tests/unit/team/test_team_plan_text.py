"""`labctl team plan` output: a node group replaced is called disruptive, and moving the job to a
pool whose desired size is 0 is priced by what the job will use there, not as free."""

from __future__ import annotations

import textwrap
from decimal import Decimal

from labctl.ops.estimates import spec_plan_doc
from labctl.ops.team import TeamChange, _estimates, node_group_disruptions
from labctl.render.manifests import render_team_manifests
from labctl.spec.load import load_cohort

NG = 'module.node_group["gpu_spot"].aws_eks_node_group.this[0]'


def test_a_replaced_node_group_is_called_disruptive_in_text_and_json():
    change = TeamChange("c", "alpha", "plan", "would-change", "embedded", hours_left=Decimal(3),
                        changes=[f"delete/create {NG}", 'update module.node_group["gpu_spot"].aws_launch_template.this'])
    text = change.text()
    assert "disruptive: replaces node group gpu_spot" in text and "pods evicted" in text
    assert change.as_dict()["disruptive"] == node_group_disruptions(change.changes)
    # the same from `team apply`'s event stream, which says "replace"
    assert node_group_disruptions([f"replace {NG}"]) and node_group_disruptions([f"delete {NG}"])
    assert node_group_disruptions(['update ' + NG, 'create module.x.aws_iam_role.r']) == []


def _cohort(tmp_path, job_pool: str):
    p = tmp_path / f"{job_pool}.yaml"
    p.write_text(textwrap.dedent(f"""\
        cohort: move
        window: {{start: 2030-01-01T09:00:00Z, duration: 4h}}
        lab: gpu-baseline
        teams:
          - name: alpha
            knobs:
              node_groups:
                gpu_on_demand: {{instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}}
                gpu_spot: {{instance_types: [g5.xlarge, g6.xlarge], min_size: 0, desired_size: 0, max_size: 2}}
              job: {{pool: {job_pool}}}
    """))
    return load_cohort(p)


def test_moving_the_job_to_a_pool_at_desired_zero_is_priced_by_the_jobs_use(tmp_path):
    before, after = _cohort(tmp_path, "on-demand"), _cohort(tmp_path, "spot")
    # what is deployed: the job's manifest on the on-demand pool
    k8s = tmp_path / "k8s"
    for rel, text in render_team_manifests(before, before.team("alpha"), {}, s3_endpoint_url="").items():
        (k8s / rel).parent.mkdir(parents=True, exist_ok=True)
        (k8s / rel).write_text(text)
    prior = spec_plan_doc(before, before.team("alpha"))["planned_values"]
    est, previous = _estimates(spec_plan_doc(after, after.team("alpha")), after, "alpha", Decimal(4), prior, k8s)

    def nodes(e, pool):
        return next(c for c in e.components if f'["{pool}"]' in c.address and c.part == "nodes").cost[1]

    assert nodes(previous, "gpu_on_demand") > 0 and nodes(previous, "gpu_spot") == 0   # job ran on on-demand
    assert nodes(est, "gpu_spot") > 0 and nodes(est, "gpu_on_demand") == 0             # now it runs on spot
    change = TeamChange("move", "alpha", "plan", "would-change", "embedded", hours_left=Decimal(4),
                        estimate=est, previous=previous, spec=after.team("alpha"))
    text = change.text()
    assert "gpu_spot priced at 1 node while the job runs" in text
    net = change.net_change
    assert net is not None and net < 0                 # spot is cheaper than on-demand, not "+$0 / free"
    assert "desired 1 instead of 0" in change.cost_change
