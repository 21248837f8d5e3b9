"""meta.json is read as a typed CohortMeta: a file an earlier release wrote still loads (and what
it holds that this release does not know survives a write), a change naming no field is refused
before anything is written, and what is written reads back the same."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from labctl.meta import CohortMeta, TeamRecord
from labctl.state import StateDir

# meta.json as the release before typed meta (commit 2dd5a70) wrote it for a two-team cohort after
# `up` and a `team apply`: the keys of up's update_meta and of set_team in up, team apply and the
# apply marker, with values of their kinds (the summary is terraform's change_summary).
OLD_META = {
    "all_teams": ["alpha", "beta"],
    "cohort": "fall-cohort",
    "emulator_boot_id": "0b6c1f1e-6a0e-4b7e-9a51-2f3c0d6c5d11",
    "endpoint_url": "http://127.0.0.1:40185",
    "lab": "gpu-baseline",
    "region": "us-east-1",
    "source": "/home/ana/workshop/cohort.yaml",
    "status": "up",
    "target": "embedded",
    "teams": {
        "alpha": {"applying": None, "at": "2026-12-04T09:12:03.120394+00:00", "error": None, "status": "created",
                  "summary": {"add": 41, "change": 0, "import": 0, "operation": "apply", "remove": 0}},
        "beta": {"at": "2026-12-04T09:40:11+00:00", "error": None, "knobs_sha": "9f2c", "status": "changed"},
    },
    "window_end": "2026-12-04T13:00:00+00:00",
    "window_start": "2026-12-04T09:00:00+00:00",
}


def test_a_meta_json_written_by_the_previous_release_loads_typed(tmp_path):
    cs = StateDir(tmp_path).cohort("fall-cohort")
    cs.root.mkdir(parents=True)
    (cs.root / "meta.json").write_text(json.dumps(OLD_META, indent=2, sort_keys=True))
    meta = cs.meta()
    assert meta.window_end == datetime(2026, 12, 4, 13, tzinfo=timezone.utc)
    assert meta.all_teams == ("alpha", "beta") and meta.status == "up" and meta.target == "embedded"
    assert meta.team("alpha") == TeamRecord(status="created", at="2026-12-04T09:12:03.120394+00:00",
                                            summary=OLD_META["teams"]["alpha"]["summary"])
    assert meta.team("beta").knobs_sha == "9f2c" and meta.team("gamma") == TeamRecord()
    assert not list(cs.root.glob("meta.json.unreadable-*"))      # read as it is, not set aside


def test_keys_this_release_does_not_know_are_kept_through_an_update(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.root.mkdir(parents=True)
    later = {**OLD_META, "billing_account": "123456789012",
             "teams": {"alpha": {"status": "created", "quota_ticket": "Q-7"}}}
    (cs.root / "meta.json").write_text(json.dumps(later))
    cs.update_meta(status="down", down_at="2026-12-04T13:05:00+00:00")
    cs.set_team("alpha", status="destroyed")
    on_disk = json.loads((cs.root / "meta.json").read_text())
    assert on_disk["billing_account"] == "123456789012"
    assert on_disk["teams"]["alpha"] == {"status": "destroyed", "quota_ticket": "Q-7"}
    assert on_disk["status"] == "down" and on_disk["window_end"] == OLD_META["window_end"]


def test_a_file_without_target_or_region_reads_as_a_cohort_file_without_them_does():
    meta = CohortMeta.from_dict({"cohort": "c", "status": "up"})
    assert (meta.target, meta.region) == ("embedded", "us-east-1") and meta.recorded
    assert not CohortMeta.from_dict({}).recorded


def test_an_update_naming_no_field_raises_and_writes_nothing(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.write_meta(CohortMeta(cohort="c", status="up"))
    before = (cs.root / "meta.json").read_text()
    with pytest.raises(TypeError, match="no field stauts"):
        cs.update_meta(stauts="down")
    with pytest.raises(TypeError, match="no field applyin"):
        cs.set_team("alpha", applyin="2026-12-04T09:00:00+00:00")
    assert (cs.root / "meta.json").read_text() == before


def test_what_is_written_reads_back_the_same(tmp_path):
    cs = StateDir(tmp_path).cohort("fall-cohort")
    meta = CohortMeta.from_dict(OLD_META)
    cs.write_meta(meta)
    assert cs.meta() == meta
    # As JSON it is the file it was read from, less the nulls (a field not set is left out).
    alpha = {k: v for k, v in OLD_META["teams"]["alpha"].items() if v is not None}
    beta = {k: v for k, v in OLD_META["teams"]["beta"].items() if v is not None}
    assert json.loads((cs.root / "meta.json").read_text()) == {**OLD_META, "teams": {"alpha": alpha, "beta": beta}}


def test_clearing_a_team_field_with_none_clears_it(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.set_team("alpha", applying="2026-12-04T09:00:00+00:00", status="created")
    cs.set_team("alpha", applying=None)
    assert cs.meta().team("alpha") == TeamRecord(status="created")


def test_a_field_holding_what_no_release_writes_is_unreadable_and_rebuilt_from_the_cohort_file(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.root.mkdir(parents=True)
    cs.spec_copy.write_text("cohort: c\ntarget: embedded\nregion: eu-west-1\nteams: [{name: alpha}]\n")
    (cs.root / "meta.json").write_text(json.dumps({**OLD_META, "window_end": "at one o'clock"}))
    meta = cs.meta()
    assert (meta.region, meta.all_teams, meta.status) == ("eu-west-1", ("alpha",), "up")
    assert meta.recovered and list(cs.root.glob("meta.json.unreadable-*"))


def test_what_up_records_reaches_an_aws_cohort_again_with_its_profile(tmp_path, monkeypatch):
    """`down`, the reaper and `kubeconfig` know an aws cohort only from meta.json: the profile
    its file named must be there, or they would act with whatever credentials the shell has."""
    import yaml

    from labctl.ops.target import connect, connect_recorded
    from labctl.ops.up import deployment_record
    from labctl.spec.load import load_cohort

    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    spec = tmp_path / "cohort.yaml"
    spec.write_text(yaml.safe_dump({"cohort": "prof", "target": "aws", "aws_profile": "workshop",
                                    "region": "us-west-2", "lab": "gpu-baseline", "teams": [{"name": "a"}],
                                    "window": {"start": "2026-12-01T09:00:00Z", "duration": "4h"}}))
    cohort = load_cohort(spec)
    recorded = CohortMeta().updated(**deployment_record(cohort, spec, connect(cohort.cohort, tmp_path)))
    assert recorded.aws_profile == "workshop" and recorded.window_end == datetime(2026, 12, 1, 13, tzinfo=timezone.utc)
    again = connect_recorded(recorded, tmp_path)
    assert (again.target, again.region, again.env.get("AWS_PROFILE")) == ("aws", "us-west-2", "workshop")
