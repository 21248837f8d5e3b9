"""Pricing what a team's state holds from the state file gives the same estimate as pricing
`terraform show -json` of it (what `team plan` did before it stopped starting terraform for a
no-op plan). Fixtures: one gpu-baseline team applied by real terraform on the emulator
(regenerate with tests/unit/cost/fixtures/regen_state.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from labctl.cost.catalog import load_catalog
from labctl.cost.estimate import estimate_plan
from labctl.cost.plan import Plan, state_values

FIX = Path(__file__).parent / "fixtures"


def _docs():
    raw = json.loads((FIX / "state_team.tfstate.json").read_text())
    shown = json.loads((FIX / "state_team_show.json").read_text())
    return {"planned_values": state_values(raw)}, {"planned_values": shown["values"]}


def test_state_file_and_show_json_list_the_same_resources_with_the_same_values():
    mine, theirs = (Plan(d) for d in _docs())
    assert list(mine.resources) == list(theirs.resources)
    assert len(mine.resources) > 20
    for addr, r in theirs.resources.items():
        assert mine.resources[addr].module_address == r.module_address, addr
        assert mine.resources[addr].get("tags_all") == r.get("tags_all"), addr


def test_estimates_agree_to_the_micro_dollar():
    mine, theirs = (estimate_plan(d, "us-east-1", Decimal(4), load_catalog(), team="alpha") for d in _docs())
    assert mine.total() == theirs.total()
    assert mine.total()[1] > 0
    assert [c.address for c in mine.components] == [c.address for c in theirs.components]
