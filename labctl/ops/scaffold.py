"""`labctl init`: a commented example cohort file for a lab."""

from __future__ import annotations

from datetime import timedelta

from labctl import resources
from labctl.errors import UnknownLab
from labctl.spec.load import load_lab
from labctl.spec.offerings import type_info
from labctl.state import now

SESSION = timedelta(hours=4)




def available_labs() -> list[str]:
    """The labs labctl ships: folders under labs/ with a lab.yaml."""
    return sorted(p.parent.name for p in resources.labs_dir().glob("*/lab.yaml"))

TEMPLATE = """\
# A labctl cohort: one lab, one session window, several teams.
# Check it with `labctl validate {file_hint}`; exit codes are listed in the README.

cohort: {cohort}            # DNS-1123 label, at most 20 characters; tags every resource (labctl:cohort)
target: embedded            # embedded (built-in emulator) | localstack (docker-compose up) | aws (real account)
region: us-east-1
# aws_profile: workshop     # target aws only: the AWS CLI profile to use
# facilitator_cap_usd: 500  # optional cap on the whole cohort's spend
# accounts:                 # one AWS account per team (default shared: every team in yours); README
#   mode: per-team
#   teams: {{team-a: "111122223333", team-b: "444455556666"}}

window:                     # the session; the reaper tears everything down when it ends
  start: {start}
  duration: 4h              # or, instead of duration: end: {end}

lab: {lab}                  # a folder under labs/ — "{title}"

teams:
  - name: team-a            # DNS-1123 label, at most 20 characters
    members: [alice@example.com, bob@example.com]
    budget_usd: {budget}             # defaults to the lab's budget
  - name: team-b
    # knobs override the lab's defaults for this team (node_groups, autoscaler, job);
    # values outside the lab's limits are refused.
    knobs:
      node_groups:
        gpu_on_demand: {{instance_types: [{od_type}], min_size: 0, desired_size: 0, max_size: {od_max}}}
        gpu_spot: {{max_size: {spot_max}, instance_types: [{spot_types}]}}
      job: {{pool: spot, checkpoint_every_steps: 500}}
"""


def example_cohort(lab_name: str, file_hint: str = "cohort.yaml") -> str:
    labs = available_labs()
    if lab_name not in labs:
        raise UnknownLab(f"--lab {lab_name}: no such lab; the labs are: {', '.join(labs)}")
    lab, _, _ = load_lab(lab_name)
    start = (now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    # team-b's example knobs stay inside this lab's limits, so the example validates as written.
    limits = lab.limits
    single = [t for t in limits.gpu_instance_types if (info := type_info(t)) and info.gpus == 1] or limits.gpu_instance_types
    spot_types = single[1:3] or single[:1]
    od_max = 1 if limits.max_gpus_per_team >= 2 else 0
    spot_max = max(1, min(2, limits.max_nodes_per_group, limits.max_gpus_per_team - od_max))
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return TEMPLATE.format(cohort="workshop-1", start=start.strftime(fmt), end=(start + SESSION).strftime(fmt),
                           lab=lab.name, title=lab.title, budget=lab.budget_usd, file_hint=file_hint,
                           od_type=single[0], od_max=od_max, spot_max=spot_max, spot_types=", ".join(spot_types))
