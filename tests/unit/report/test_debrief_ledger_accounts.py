"""`debrief` writes the plain ledger (ledger.csv) beside FOCUS, each row naming the account its
team ran in: the team's own with `accounts: per-team`, the facilitator's in shared mode when the
cohort's state bucket names it. Expected accounts are read from the cohort's files as plain YAML
and JSON, not through the code that writes them."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from labctl.cost.catalog import load_catalog
from labctl.ops.debrief import write_debrief
from labctl.state import StateDir
from tests.unit.report.synth import write_class


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_per_team_accounts_each_teams_rows_name_its_own_account(tmp_path, catalog):
    names = write_class(tmp_path, "c1", 3)
    cs = StateDir(tmp_path).cohort("c1")
    spec = yaml.safe_load(cs.spec_copy.read_text())
    spec["accounts"] = {"mode": "per-team", "teams": {n: f"{i + 1}" * 12 for i, n in enumerate(names)}}
    cs.spec_copy.write_text(yaml.safe_dump(spec))
    (cs.root / "accounts.json").write_text(json.dumps(spec["accounts"]))          # what `up` records
    out = write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    want = yaml.safe_load(cs.spec_copy.read_text())["accounts"]["teams"]
    rows = _rows(tmp_path / "out" / "ledger.csv")
    assert out["ledger_csv"].endswith("ledger.csv") and {r["team"] for r in rows} == set(names)
    assert all(r["account_id"] == want[r["team"]] for r in rows)
    assert {r["SubAccountId"] for r in _rows(tmp_path / "out" / "focus.csv")} == set(want.values())


def test_shared_mode_with_state_in_s3_names_the_facilitators_account(tmp_path, catalog):
    write_class(tmp_path, "c1", 2)
    cs = StateDir(tmp_path).cohort("c1")
    (cs.root / "remote-state.json").write_text(json.dumps({"bucket": "labctl-state-210987654321-c1", "region": "us-east-1"}))
    write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    facilitator = json.loads((cs.root / "remote-state.json").read_text())["bucket"].split("-")[2]
    assert {r["account_id"] for r in _rows(tmp_path / "out" / "ledger.csv")} == {facilitator} == {"210987654321"}
    assert {r["SubAccountId"] for r in _rows(tmp_path / "out" / "focus.csv")} == {facilitator}


def test_shared_mode_with_local_state_leaves_the_account_empty_rather_than_guess(tmp_path, catalog):
    write_class(tmp_path, "c1", 2)
    write_debrief(tmp_path, "c1", tmp_path / "out", catalog=catalog)
    assert {r["account_id"] for r in _rows(tmp_path / "out" / "ledger.csv")} == {""}
