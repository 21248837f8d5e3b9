"""The EC2 calls labctl makes outside the inventory: offerings, images, and one instance at a time.

Owns: ``DescribeInstanceTypeOfferings`` (preflight), ``DescribeImages`` / ``RunInstances`` /
``TerminateInstances`` (the simulator's nodes in the emulator). Callers pass and get plain typed
values (:class:`LaunchedInstance`); botocore's errors become
:class:`~labctl.errors.AwsError` subclasses here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labctl.aws.session import AwsTarget, aws_errors

OFFERINGS_BATCH = 100   # instance types per DescribeInstanceTypeOfferings filter (AWS's limit)


def instance_type_offerings(target: AwsTarget, types: Sequence[str]) -> dict[str, set[str]]:
    """instance type -> availability zones offering it in the target's region (every type asked
    for is a key; one no zone offers maps to an empty set)."""
    client = target.client("ec2")
    out: dict[str, set[str]] = {t: set() for t in types}
    with aws_errors("ec2", "DescribeInstanceTypeOfferings", emulator=target.fake_credentials):
        for i in range(0, len(types), OFFERINGS_BATCH):
            token = None
            while True:
                kw: dict[str, Any] = {"LocationType": "availability-zone",
                                      "Filters": [{"Name": "instance-type", "Values": list(types[i:i + OFFERINGS_BATCH])}]}
                if token:
                    kw["NextToken"] = token
                page = client.describe_instance_type_offerings(**kw)
                for o in page.get("InstanceTypeOfferings", []):
                    out.setdefault(o["InstanceType"], set()).add(o["Location"])
                token = page.get("NextToken")
                if not token:
                    break
    return out


def amazon_x86_images(target: AwsTarget, *, emulator: bool = True) -> list[str]:
    """Ids of the Amazon-owned x86_64 images, sorted (an image that names no architecture counts
    as x86_64, as the emulator's records do)."""
    with aws_errors("ec2", "DescribeImages", emulator=emulator):
        images = target.client("ec2").describe_images(Owners=["amazon"]).get("Images", [])
    return sorted(str(i["ImageId"]) for i in images if i.get("Architecture", "x86_64") == "x86_64")


@dataclass(frozen=True)
class LaunchedInstance:
    instance_id: str
    availability_zone: str | None   # None when EC2 did not say


def run_instance(target: AwsTarget, *, image_id: str, instance_type: str, tags: Mapping[str, str],
                 subnet_id: str | None = None, spot: bool = False, emulator: bool = True) -> LaunchedInstance:
    """RunInstances for one instance, tagged with ``tags`` (sorted by key); ``spot``: a one-time
    spot request that terminates on interruption."""
    req: dict[str, Any] = {"ImageId": image_id, "MinCount": 1, "MaxCount": 1, "InstanceType": instance_type,
                           "TagSpecifications": [{"ResourceType": "instance",
                                                  "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}]}
    if subnet_id:
        req["SubnetId"] = subnet_id
    if spot:
        req["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}}
    with aws_errors("ec2", "RunInstances", emulator=emulator):
        inst = target.client("ec2").run_instances(**req)["Instances"][0]
    return LaunchedInstance(str(inst["InstanceId"]), inst.get("Placement", {}).get("AvailabilityZone") or None)


def terminate_instance(target: AwsTarget, instance_id: str, *, emulator: bool = True) -> None:
    with aws_errors("ec2", "TerminateInstances", emulator=emulator):
        target.client("ec2").terminate_instances(InstanceIds=[instance_id])
