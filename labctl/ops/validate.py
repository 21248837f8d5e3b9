"""Everything `labctl validate` checks, and every other command checks before it acts:
the cohort and lab files, then each team's rendered manifests strictly against the upstream
Kubernetes schemas and against its rendered Terraform (node groups, taints, quotas, ASG tags)."""

from __future__ import annotations

from pathlib import Path

from labctl.errors import SpecError
from labctl.ops.target import LOCALSTACK_DEFAULT, provider_settings
from labctl.render.k8s_validate import validate_team
from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import tfvars
from labctl.spec.load import ResolvedCohort, load_cohort

# Rendering must not depend on a running emulator: its URL is only known at `up` time, so a
# rendered embedded tree carries this placeholder (and `up` re-renders with the live URL).
EMBEDDED_PLACEHOLDER = "http://127.0.0.1:5000"


def placeholder_endpoint(cohort: ResolvedCohort) -> str | None:
    c = cohort.cohort
    return {"embedded": EMBEDDED_PLACEHOLDER, "localstack": c.endpoints.url or LOCALSTACK_DEFAULT}.get(c.target)


def validate_cohort(path: Path) -> ResolvedCohort:
    cohort = load_cohort(path)
    endpoint = placeholder_endpoint(cohort)
    settings = provider_settings(cohort.cohort.target)
    problems = []
    for team in cohort.teams:
        files = render_team_manifests(cohort, team, None, s3_endpoint_url=endpoint or "")
        for p in validate_team(files, tfvars(cohort, team, settings), team.lab.kubernetes_version):
            problems.append(type(p)(f"{team.name}/k8s/{p.file}", p.line, p.field, p.message))
    if problems:
        raise SpecError(problems)
    return cohort
