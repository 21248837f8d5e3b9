"""validate's idea of a node's room for pods is the simulator's, and covers labctl's DaemonSets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labctl.spec.quantity import parse_quantity
from labctl.render.manifests import render_team_manifests
from labctl.sim.scheduler import allocatable as sim_allocatable
from labctl.spec import capacity
from labctl.spec.load import load_cohort, load_lab
from labctl.spec.offerings import type_info

LABS = sorted(p.parent.name for p in (Path(__file__).resolve().parents[3] / "labs").glob("*/lab.yaml"))
TYPES = sorted({t for lab in LABS for t in load_lab(lab)[0].limits.gpu_instance_types})


@pytest.mark.parametrize("itype", TYPES)
@pytest.mark.parametrize("max_pods", [58, 110])
def test_allocatable_is_the_simulators_for_every_type_a_lab_allows(itype, max_pods):
    info = type_info(itype)
    ours = capacity.allocatable(info.vcpu, info.memory_mib, max_pods)
    sim = sim_allocatable(info.vcpu, info.memory_mib, info.gpus, max_pods)
    assert (ours.cpu_m, ours.memory) == (sim.cpu_m, sim.mem)


def test_a_4_vcpu_16_gib_node_leaves_3920m_and_about_14_5_gib():
    a = capacity.allocatable(4, 16384, 110)
    assert a.cpu_m == 3920 and a.memory == (16384 - 255 - 11 * 110 - 100) * 2**20


def test_the_gpu_node_daemonset_reserve_covers_what_labctl_renders(tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text("cohort: c\nwindow: {start: 2030-01-01T09:00:00Z, duration: 4h}\nlab: gpu-baseline\n"
                    "teams: [{name: a}]\n")
    cohort = load_cohort(spec)
    files = render_team_manifests(cohort, cohort.teams[0], None, s3_endpoint_url="http://127.0.0.1:5000")
    cpu = mem = 0
    for text in files.values():
        for doc in yaml.safe_load_all(text):
            if not doc or doc.get("kind") != "DaemonSet":
                continue
            for c in doc["spec"]["template"]["spec"]["containers"]:
                req = c.get("resources", {}).get("requests", {})
                cpu += parse_quantity(req.get("cpu", "0")) * 1000
                mem += parse_quantity(req.get("memory", "0"))
    assert cpu > 0, "labctl renders the NVIDIA device plugin DaemonSet"
    assert cpu <= capacity.GPU_NODE_DAEMONSETS[0] and mem <= capacity.GPU_NODE_DAEMONSETS[1], (cpu, mem)
