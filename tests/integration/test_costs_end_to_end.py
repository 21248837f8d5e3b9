"""Every dollar a team pays, end to end with real terraform on the embedded emulator: `plan`'s
estimate and the metered ledger agree for a class at steady size, and the demo's debrief, its
FOCUS export and an independent recomputation agree to the cent (that one in test_demo.py, which
runs the demo once for every check of it)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
import yaml

from labctl.aws import emulator as emu
from labctl.ops.debrief import write_debrief
from labctl.ops.down import down
from labctl.ops.plan import plan
from labctl.ops.simulate import simulate_class
from labctl.ops.up import up
from labctl.state import StateDir, now
from labctl.telemetry.provisioned import SOURCE as TERRAFORM
from labctl.telemetry.store import Store
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def test_plan_estimate_and_metered_cost_agree_for_a_class_at_steady_size(tmp_path):
    """The baseline keeps its node groups at their desired size all session (min = desired = max
    for the GPUs, no scale-down): what `plan` says a team pays is what the ledger meters."""
    terraform_or_skip()
    mirror_or_skip()
    state = tmp_path / "s"
    state.mkdir()
    start = (now() + timedelta(minutes=15)).replace(second=0, microsecond=0)   # `up` is done by then
    spec = {"cohort": "steady", "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
            "window": {"start": start.isoformat().replace("+00:00", "Z"), "duration": "4h"},
            "teams": [{"name": "base"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(spec))
    with emu.Emulator() as e:
        (state / emu.STATE_FILE).write_text(json.dumps({"url": e.url, "boot_id": e.boot_id, "pid": None}))
        report = up(tmp_path / "c.yaml", state, quiet=True, emulator_url=e.url, emulator_boot_id=e.boot_id)
        assert not report.failed, report.as_dict()
        cs = StateDir(state).cohort("steady")
        with Store.for_cohort(cs.root) as store:   # what `up` created entered the lifecycle at once
            kinds = {r.kind for r in store.lifecycle("base") if r.source == TERRAFORM and r.end is None}
        assert {"cluster", "bucket"} <= kinds
        estimate = plan(tmp_path / "c.yaml", state, quiet=True).teams[0].estimate
        assert estimate is not None
        desired = estimate.total()[1]
        simulate_class(state, "steady", seed=1)
        out = write_debrief(state, "steady", tmp_path / "out")
        debrief = json.loads((tmp_path / "out" / "debrief.json").read_text())
        metered = Decimal(debrief["teams"]["base"]["cost_usd"]["value"])
        assert abs(metered - desired) / desired < Decimal("0.01"), (metered, desired)
        by_part: dict[str, Decimal] = defaultdict(Decimal)
        for c in estimate.components:
            if c.cost:
                by_part[c.part] += c.cost[1]
        assert {"fee", "nodes", "volumes", "ipv4"} <= set(by_part)          # the same line items, each metered
        by_kind: dict[str, Decimal] = defaultdict(Decimal)     # what the ledger metered, from focus.csv
        with open(out["focus_csv"], newline="") as f:
            for r in csv.DictReader(f):
                by_kind[r["x_UsageKind"]] += Decimal(r["EffectiveCost"])
        assert by_kind["cluster"] == by_part["fee"] == Decimal("0.40")
        assert by_kind["ipv4"] == by_part["ipv4"] == Decimal("0.06")              # 3 nodes x $0.005/h x 4 h
        assert abs(by_kind["instance"] - by_part["nodes"]) < Decimal("0.01")
        assert debrief["warnings"] == [] and out["focus_parquet"].endswith("focus.parquet")
        down("steady", state, quiet=True)
        with Store.for_cohort(cs.root) as store:   # and left it when `down` removed it
            rows = [r for r in store.lifecycle("base") if r.source == TERRAFORM]
        assert rows and all(r.end is not None for r in rows)
