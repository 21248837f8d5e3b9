"""`labctl render`: write every team's build tree without deploying anything."""

from __future__ import annotations

from pathlib import Path

from labctl.ops.target import FAKE_CREDENTIALS, LOCALSTACK_DEFAULT, provider_settings  # noqa: F401
from labctl.render.terraform import tfvars, write_root
from labctl.spec.load import ResolvedCohort, load_cohort

# Rendering must not depend on a running emulator: its URL is only known at `up` time, so a
# rendered embedded tree carries this placeholder (and `up` re-renders with the live URL).
EMBEDDED_PLACEHOLDER = "http://127.0.0.1:5000"


def render(spec_path: Path, out: Path) -> tuple[ResolvedCohort, list[Path]]:
    cohort = load_cohort(spec_path)
    c = cohort.cohort
    endpoint = {"embedded": EMBEDDED_PLACEHOLDER, "localstack": c.endpoints.url or LOCALSTACK_DEFAULT}.get(c.target)
    settings = provider_settings(c.target, endpoint)
    written: list[Path] = []
    for team in cohort.teams:
        d = out / team.name
        write_root(d, tfvars(cohort, team, settings))
        written.append(d)
    return cohort, written
