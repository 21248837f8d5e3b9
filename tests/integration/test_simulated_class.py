"""A provisioned one-team cohort's class, simulated: nodes are EC2 instances in the emulator."""

from __future__ import annotations

import json

import pytest
import yaml

from labctl.aws import emulator as emu
from labctl.aws.session import AwsTarget
from labctl.ops.simulate import simulate_class
from labctl.ops.up import up
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.state import StateDir
from labctl.telemetry.store import Store
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def test_simulated_class_launches_tagged_instances_and_writes_telemetry(tmp_path):
    terraform_or_skip()
    mirror_or_skip()
    state = tmp_path / "s"
    state.mkdir()
    spec = {"cohort": "simint", "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
            "window": {"start": "2026-12-01T09:00:00Z", "duration": "4h"},
            "teams": [{"name": "spot", "knobs": DEMO_STRATEGIES["spot"]}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(spec))
    with emu.Emulator() as e:
        (state / emu.STATE_FILE).write_text(json.dumps({"url": e.url, "boot_id": e.boot_id, "pid": None}))
        report = up(tmp_path / "c.yaml", state, quiet=True, emulator_url=e.url, emulator_boot_id=e.boot_id,
                        allow_past=True)
        assert not report.failed, report.as_dict()
        sim = simulate_class(state, "simint", hours=3.5, seed=3)
        assert sim.mode == "emulator" and sim.team("spot").jobs_completed == 2
        ec2 = AwsTarget("embedded", "us-east-1", e.url).client("ec2")
        found = ec2.describe_instances(Filters=[{"Name": "tag:labctl:team", "Values": ["spot"]}])
        instances = [i for r in found["Reservations"] for i in r["Instances"]]
        spot = [i for i in instances if i["InstanceType"] == "g6.xlarge"]
        assert spot and all(i["State"]["Name"] == "terminated" for i in spot)   # scaled back to zero
        tags = {t["Key"]: t["Value"] for t in spot[0]["Tags"]}
        assert tags["labctl:cohort"] == "simint" and tags["labctl:lab"] == "gpu-baseline" and "labctl:expires-at" in tags
        with Store.for_cohort(StateDir(state).cohort("simint").root) as store:
            rows = [r for r in store.lifecycle() if r.kind == "instance"]
            ids = {i["InstanceId"] for i in instances}
            assert {r.resource_id for r in rows} <= ids and {r.source for r in rows} == {"simulator"}
            assert any(r.market == "spot" and r.spot_price is not None for r in rows)
            assert store.samples("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "spot")
