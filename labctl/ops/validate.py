"""Everything `labctl validate` checks, and every other command checks before it acts:
the cohort and lab files, then each team's rendered manifests strictly against the upstream
Kubernetes schemas and against its rendered Terraform (node groups, taints, quotas, ASG tags)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from labctl import naming
from labctl.errors import Problem, SpecError
from labctl.ops.target import LOCALSTACK_DEFAULT, provider_settings
from labctl.render.k8s_validate import ShapeCache
from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import tfvars
from labctl.spec.load import ResolvedCohort, TeamSpec, load_cohort
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
    return validate_and_render(path, now=now)[0]


def validate_and_render(path: Path, *, now: datetime | None = None
                        ) -> tuple[ResolvedCohort, dict[str, tuple[dict[str, str], dict[str, Any]]]]:
    """:func:`validate_cohort`, also returning what it rendered: team -> (manifests, tfvars).

    Teams of one shape (the same manifests and tfvars but for their own names; see
    k8s_validate.shape) are validated once: a 100-team cohort has a handful of shapes.
    """
    cohort = load_cohort(path, strict=True, now=now)
    endpoint = placeholder_endpoint(cohort)
    settings = provider_settings(cohort.cohort.target)
    src = None      # the file's line map, composed only when there is a problem to place
    shapes = ShapeCache()
    rendered: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}
    problems = []
    for i, team in enumerate(cohort.teams):
        # Parsed back (a template bug is a RenderError, as in every render) once per shape: a
        # shape-mate's text differs only in names the templates quote as JSON strings.
        files = render_team_manifests(cohort, team, None, s3_endpoint_url=endpoint or "", parse_back=False)
        variables = tfvars(cohort, team, settings)
        rendered[team.name] = (files, variables)
        own = [naming.bucket_name(cohort.cohort.cohort, team.name), *team.members]

        def parse_back(team: TeamSpec = team) -> None:
            render_team_manifests(cohort, team, None, s3_endpoint_url=endpoint or "")

        for p in shapes.validate_team(team.name, own, files, variables, team.lab.kubernetes_version,
                                      new_shape=parse_back):
            where = f" ({p.field})" if p.field else ""
            src = src or load_yaml(path)
            problems.append(Problem(src.file, src.line_of(("teams", i)), f"teams[{i}]",
                                    f"team {team.name}: its Kubernetes manifests would be refused: "
                                    f"{p.message} [in {p.file}{where}]"))
    if problems:
        raise SpecError(problems)
    return cohort, rendered
