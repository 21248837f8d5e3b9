"""`labctl render`: write every team's build tree (Terraform root + tfvars JSON, Kubernetes
manifests under k8s/) without deploying anything."""

from __future__ import annotations

from pathlib import Path

from labctl.ops.target import provider_settings
from labctl.ops.validate import placeholder_endpoint, validate_cohort
from labctl.render.manifests import render_team_manifests, write_manifests
from labctl.render.terraform import tfvars, write_root
from labctl.spec.load import ResolvedCohort


def render(spec_path: Path, out: Path) -> tuple[ResolvedCohort, list[Path]]:
    cohort = validate_cohort(spec_path)
    endpoint = placeholder_endpoint(cohort)
    settings = provider_settings(cohort.cohort.target)
    written: list[Path] = []
    for team in cohort.teams:
        d = out / team.name
        write_root(d, tfvars(cohort, team, settings))
        write_manifests(d / "k8s", render_team_manifests(cohort, team, None, s3_endpoint_url=endpoint or ""))
        written.append(d)
    return cohort, written
