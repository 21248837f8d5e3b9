"""The Python mirror of the node-group module's ASG tags stays in step with the .tf text."""

from __future__ import annotations

import re

from labctl import resources
from labctl.render import consistency as c

NODE_GROUP_TF = resources.terraform_dir() / "modules" / "node-group" / "main.tf"
ROOT_TF = resources.terraform_dir() / "root" / "main.tf"


def _locals_block(text: str) -> str:
    start = text.index("locals {")
    depth, i = 0, start
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0 and i > start + len("locals {"):
            return text[start:i]


def test_tag_key_templates_are_spelled_as_in_the_node_group_module():
    block = _locals_block(NODE_GROUP_TF.read_text())
    in_tf = set(re.findall(r'"(k8s\.io/cluster-autoscaler/[^"]*)"', block))
    in_python = {*c.TF_DISCOVERY_TAGS, c.TF_LABEL_TAG, c.TF_TAINT_TAG, c.TF_GPU_TAG}
    assert in_tf == in_python


def test_tag_values_are_spelled_as_in_the_node_group_module():
    block = _locals_block(NODE_GROUP_TF.read_text())
    for key, value in c.TF_DISCOVERY_TAGS.items():
        assert re.search(rf'"{re.escape(key)}"\s*=\s*"{re.escape(value)}"', block), key
    assert f'=> "{c.TF_TAINT_VALUE}"' in block
    assert "tostring(var.gpus_per_node)" in block and "var.gpus_per_node > 0" in block
    assert "asg_tags = merge(local.discovery_tags, local.node_template_tags)" in block


def test_cluster_name_is_the_root_modules_local_name():
    assert re.search(rf'^\s*name\s*=\s*"{re.escape(c.TF_CLUSTER_NAME)}"', ROOT_TF.read_text(), re.MULTILINE)
    assert c.cluster_name({"cohort": "c1", "team": "t1"}) == "c1-t1"


def test_asg_tags_of_a_spot_group():
    group = {"labels": {"labctl.io/pool": "gpu-spot"}, "gpus_per_node": 1,
             "taints": [{"key": "labctl.io/spot", "value": "true", "effect": "NoSchedule"}]}
    assert c.asg_tags("c1-t1", group) == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/c1-t1": "owned",
        "k8s.io/cluster-autoscaler/node-template/label/labctl.io/pool": "gpu-spot",
        "k8s.io/cluster-autoscaler/node-template/taint/labctl.io/spot": "true:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "1",
    }
    nt = c.node_template("gpu_spot", c.asg_tags("c1-t1", group))
    assert (nt.labels, nt.taints, nt.gpus) == ({"labctl.io/pool": "gpu-spot"}, (("labctl.io/spot", "true", "NoSchedule"),), 1)


def test_parse_quantity_table():
    cases = {"500m": "0.5", "4": "4", "16Gi": str(16 * 2**30), "1.5": "1.5", "1e3": "1000", "2k": "2000"}
    for text, want in cases.items():
        assert c.parse_quantity(text) == c.Decimal(want), text
