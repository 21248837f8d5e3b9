"""The simulator's instances get the same ids for the same seed (so `labctl demo --seed S` twice
writes the same debrief), and a second simulation on the same emulator is not handed ids that
already exist. Over HTTP against the embedded emulator; each case gets a fresh one, as a demo does."""

from __future__ import annotations

import pytest

from labctl.aws.emulator import Emulator
from labctl.aws.session import AwsTarget
from labctl.ops.simulate import _seed_emulator

pytestmark = pytest.mark.emulator


def _launch(target: AwsTarget, n: int = 3) -> list[str]:
    ec2 = target.client("ec2")
    ami = sorted(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"])[0]
    out = []
    for _ in range(n):
        inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="g5.xlarge",
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "labctl:cohort", "Value": "c1"}]}])
        out.append(inst["Instances"][0]["InstanceId"])
    return out


def test_same_seed_same_ids_a_rerun_gets_new_ones_and_another_seed_differs():
    with Emulator() as emu:
        t = AwsTarget("embedded", "us-east-1", emu.url)
        _seed_emulator(t, "c1", 7)
        first = _launch(t)
        _seed_emulator(t, "c1", 7)        # offset by the 3 instances the cohort launched
        rerun = _launch(t)
    with Emulator() as emu:                         # a fresh emulator, as the next demo run has
        t = AwsTarget("embedded", "us-east-1", emu.url)
        _seed_emulator(t, "c1", 7)
        again = _launch(t)
        _seed_emulator(t, "c1", 8)
        other = _launch(t)
    assert again == first
    assert not set(rerun) & set(first) and len(set(rerun)) == 3
    assert not set(other) & set(first + rerun)
