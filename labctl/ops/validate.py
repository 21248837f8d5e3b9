"""Everything `labctl validate` checks, and every other command checks before it acts:
the cohort and lab files, then each team's rendered manifests strictly against the upstream
Kubernetes schemas and against its rendered Terraform (node groups, taints, quotas, ASG tags)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from labctl.errors import Problem, SpecError
from labctl.ops.target import LOCALSTACK_DEFAULT, provider_settings
from labctl.render.k8s_validate import validate_team
from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import tfvars
from labctl.spec.load import ResolvedCohort, load_cohort
from labctl.spec.yamlsrc import load_yaml

# Rendering must not depend on a running emulator: its URL is only known at `up` time, so a
# rendered embedded tree carries this placeholder (and `up` re-renders with the live URL).
EMBEDDED_PLACEHOLDER = "http://127.0.0.1:5000"


def placeholder_endpoint(cohort: ResolvedCohort) -> str | None:
    c = cohort.cohort
    return {"embedded": EMBEDDED_PLACEHOLDER, "localstack": c.endpoints.url or LOCALSTACK_DEFAULT}.get(c.target)


def validate_cohort(path: Path, *, now: datetime | None = None) -> ResolvedCohort:
    """The cohort checked as ``up`` needs it (``load_cohort(strict=True)``: pods fit their pools,
    the window within the lab's limit; with ``now``, not over), then every team's manifests.

    The spec's checks are meant to leave the manifests nothing to find; if the manifests still
    disagree, the line points at the team in the user's file and names the manifest object.
    """
    cohort = load_cohort(path, strict=True, now=now)
    endpoint = placeholder_endpoint(cohort)
    settings = provider_settings(cohort.cohort.target)
    src = load_yaml(path)
    problems = []
    for i, team in enumerate(cohort.teams):
        files = render_team_manifests(cohort, team, None, s3_endpoint_url=endpoint or "")
        for p in validate_team(files, tfvars(cohort, team, settings), team.lab.kubernetes_version):
            where = f" ({p.field})" if p.field else ""
            problems.append(Problem(src.file, src.line_of(("teams", i)), f"teams[{i}]",
                                    f"team {team.name}: its Kubernetes manifests would be refused: "
                                    f"{p.message} [in {p.file}{where}]"))
    if problems:
        raise SpecError(problems)
    return cohort
