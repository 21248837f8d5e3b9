"""Every lab in labs/ is a complete, valid lesson: it renders and passes `labctl validate`
(models, limits, strict Kubernetes schemas, Terraform consistency), and carries a facilitator
README that maps it to the lesson's phases and a handout for teams."""

from __future__ import annotations

import textwrap

import pytest

from labctl import resources
from labctl.meta import CohortMeta
from labctl.ops.validate import validate_cohort
from labctl.spec.load import load_lab

LABS = sorted(p.name for p in resources.labs_dir().iterdir() if (p / "lab.yaml").exists())
PHASES = ("Engage", "Explore", "Explain", "Elaborate", "Evaluate")


def test_the_catalog_has_the_three_lesson_labs_and_the_baseline():
    assert {"runaway-bill", "explore-instances", "optimise-under-budget", "gpu-baseline"} <= set(LABS)


@pytest.mark.parametrize("lab", LABS)
def test_lab_renders_and_validates_in_a_cohort(lab, tmp_path):
    spec = tmp_path / "cohort.yaml"
    spec.write_text(textwrap.dedent(f"""\
        cohort: cat
        window: {{start: 2026-12-01T09:00:00Z, duration: 4h}}
        lab: {lab}
        teams: [{{name: alpha}}, {{name: beta}}]
    """))
    cohort = validate_cohort(spec)
    assert cohort.lab.name == lab
    assert all(t.lab == cohort.lab for t in cohort.teams)   # no knobs: every team starts the same


@pytest.mark.parametrize("lab", LABS)
def test_lab_has_a_facilitator_readme_with_phases_timings_and_debrief(lab):
    d = resources.labs_dir() / lab
    readme = (d / "README.md").read_text()
    assert any(p in readme for p in PHASES), f"{lab}/README.md names no lesson phase"
    assert "min" in readme, f"{lab}/README.md gives no timings"
    assert "debrief" in readme.lower(), f"{lab}/README.md says nothing about the debrief"


@pytest.mark.parametrize("lab", LABS)
def test_lab_has_a_team_handout_that_names_the_team_commands(lab):
    handout = (resources.labs_dir() / lab / "handout.md").read_text()
    assert "labctl team plan" in handout and "knobs" in handout


@pytest.mark.parametrize("lab", ["runaway-bill", "optimise-under-budget"])
def test_case_study_labs_start_wasteful_on_purpose(lab):
    parsed, _, _ = load_lab(lab)
    od = parsed.node_groups.gpu_on_demand
    assert od.min_size == od.desired_size >= 1 and not parsed.autoscaler.scale_down_enabled
    assert parsed.job.checkpoint_every_steps == 0


@pytest.mark.parametrize("lab", LABS)
def test_lab_runs_end_to_end_with_the_simulated_class(lab, tmp_path):
    """Each lab as a class: rendered, validated, played for its whole window on the simulated
    clusters (pure mode: the same manifests and node groups, no terraform), metered by the ledger
    from the telemetry store, and written up by the debrief."""
    import json
    from datetime import datetime, timezone

    from labctl.cost.catalog import load_catalog
    from labctl.cost.ledger import build_ledger
    from labctl.ops.debrief import write_debrief
    from labctl.sim.inputs import render_team
    from labctl.sim.runner import run_class
    from labctl.sim.usage import lifecycle_to_usage
    from labctl.state import StateDir
    from labctl.telemetry.store import Store
    from labctl.workload import load_estimates

    spec = tmp_path / "cohort.yaml"
    spec.write_text(textwrap.dedent(f"""\
        cohort: e2e
        window: {{start: 2026-12-01T09:00:00Z, duration: 4h}}
        lab: {lab}
        teams: [{{name: alpha}}]
    """))
    cohort = validate_cohort(spec)
    cs = StateDir(tmp_path / "state").cohort("e2e")
    cs.root.mkdir(parents=True)
    (cs.root / "cohort.yaml").write_text(spec.read_text())
    start = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    cs.write_meta(CohortMeta.from_dict({"cohort": "e2e", "lab": lab, "target": "embedded", "all_teams": ["alpha"],
                   "window_start": start.isoformat(), "window_end": cohort.cohort.window.ends_at.isoformat()}))
    catalog = load_catalog()
    with Store.for_cohort(cs.root) as store:
        report = run_class([render_team(cohort, "alpha")], start=start, hours=4.0, catalog=catalog,
                           estimates=load_estimates(), seed=1, store=store)
        ledger = build_ledger(lifecycle_to_usage(store.lifecycle()), catalog, as_of=cohort.cohort.window.ends_at)
    alpha = report.team("alpha")
    assert alpha.gpu_hours > 0, f"{lab}: no GPU capacity ever came up"
    assert alpha.jobs_completed > 0 or alpha.unschedulable, f"{lab}: jobs neither finished nor were reported stuck"
    assert ledger.total() > 0
    out = write_debrief(tmp_path / "state", "e2e", tmp_path / "debrief")
    debrief = json.loads((tmp_path / "debrief" / "debrief.json").read_text())
    assert "alpha" in debrief["teams"] and out["summary"]["basis"] == "simulated"
