"""The plain ledger export names the AWS account each row's resources ran in (``account_id``,
FOCUS's SubAccountId): the team's own with ``accounts: per-team``, the facilitator's in shared mode.
Checked against the cohort file read on its own (plain YAML), not through the code that writes it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from labctl.cost.export import ledger_csv, ledger_json
from labctl.cost.ledger import build_ledger
from labctl.cost.model import Usage
from labctl.spec.load import load_cohort

from .conftest import T0

FACILITATOR = "999999999999"
COHORT = """\
cohort: fall26
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
teams:
  - name: team-a
  - name: team-b
"""
PER_TEAM = COHORT + """\
accounts:
  mode: per-team
  teams:
    team-a: "111111111111"
    team-b: "222222222222"
"""


@pytest.fixture
def ledger(catalog):
    end = T0 + timedelta(minutes=30)
    return build_ledger([
        Usage("team-a", "i-a", "instance", "us-east-1", T0, end, "m6i.xlarge", source="emulator:ec2"),
        Usage("team-a", "eks-a", "cluster", "us-east-1", T0, end, source="emulator:eks"),
        Usage("team-b", "vol-b", "volume", "us-east-1", T0, end, gb=D(100), source="emulator:ec2"),
    ], catalog, as_of=end)


def _expected(spec: Path) -> dict[str, str]:
    """team -> account, from the cohort file alone: its own under per-team, else the facilitator's."""
    doc = yaml.safe_load(spec.read_text())
    acc = doc.get("accounts") or {}
    own = acc.get("teams", {}) if acc.get("mode") == "per-team" else {}
    return {t["name"]: str(own.get(t["name"], FACILITATOR)) for t in doc["teams"]}


@pytest.mark.parametrize("text", [PER_TEAM, COHORT], ids=["per-team", "shared"])
def test_every_ledger_row_names_the_account_its_team_ran_in(tmp_path, ledger, text):
    spec = tmp_path / "cohort.yaml"
    spec.write_text(text)
    accounts = load_cohort(spec).cohort.accounts
    mapping = {t: a for t in ("team-a", "team-b") if (a := accounts.account_of(t))}     # what a caller passes
    want = _expected(spec)
    for per in ("entry", "minute"):
        rows = list(csv.DictReader(io.StringIO(ledger_csv(ledger, per=per, accounts=mapping, account=FACILITATOR))))
        assert rows and all(r["account_id"] == want[r["team"]] for r in rows), (per, rows[:3])
        assert {r["team"] for r in rows} == {"team-a", "team-b"}
    doc = json.loads(json.dumps(ledger_json(ledger, accounts=mapping, account=FACILITATOR)))
    assert [e["account_id"] for e in doc["entries"]] == [want[e["team"]] for e in doc["entries"]]
