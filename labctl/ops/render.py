"""`labctl render`: write every team's build tree (Terraform root + tfvars JSON, Kubernetes
manifests under k8s/) without deploying anything.

    DIR/<team>/     the team's root (terraform/root as it is), terraform.tfvars.json, k8s/*.yaml;
                    its ``modules`` links to DIR/_modules
    DIR/_modules/   one copy of terraform/modules for every team (``_`` is never in a team's name)
"""

from __future__ import annotations

from pathlib import Path

from labctl.ops.validate import validate_and_render
from labctl.render.manifests import write_manifests
from labctl.render.terraform import write_modules, write_root
from labctl.spec.load import ResolvedCohort

MODULES = "_modules"


def render(spec_path: Path, out: Path) -> tuple[ResolvedCohort, list[Path]]:
    # The manifests validated are the ones written (same cohort, same placeholder endpoint).
    cohort, rendered = validate_and_render(spec_path)
    modules = out / MODULES
    write_modules(modules)
    written: list[Path] = []
    for team in cohort.teams:
        files, variables = rendered[team.name]
        d = out / team.name
        write_root(d, variables, modules)
        write_manifests(d / "k8s", files)
        written.append(d)
    return cohort, written
