"""OpenCost allocation and the KPIs: a node shared by two jobs with idle time (by hand), both
split modes, idle sharing, and the property allocation + idle = node cost."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.cost.allocation import (
    GPU_WEIGHTED, NodeCost, allocate, nodes_from_ledger, split_node_cost, unit_prices,
)
from labctl.cost.kpis import cost_per_completed_run, spot_savings, team_kpis
from labctl.cost.ledger import build_ledger
from labctl.cost.model import Usage, Workload

from .conftest import T0

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def shared_node_case(catalog):
    """One g5.xlarge on-demand node for 1 h ($1.006); job A 0-30 min, job B 30-45 min, idle 45-60."""
    ledger = build_ledger([
        Usage("team-a", "i-node", "instance", "us-east-1", T0, T0 + HOUR, "g5.xlarge"),
        Usage("team-a", "eks-a", "cluster", "us-east-1", T0, T0 + HOUR),
    ], catalog, as_of=T0 + HOUR)
    nodes, notes = nodes_from_ledger(ledger, catalog)
    assert notes == [] and len(nodes) == 1
    jobs = [
        Workload("job-a", "team-a", "i-node", T0, T0 + 30 * MIN, cpu_request=D(2), cpu_usage=D(3),
                 ram_request_gib=D(4), ram_usage_gib=D(2), gpu_request=1, gpu_engine_active=D("0.8"),
                 run_id="run-1", completed=True),
        Workload("job-b", "team-a", "i-node", T0 + 30 * MIN, T0 + 45 * MIN, cpu_request=D(1), cpu_usage=D("0.5"),
                 ram_request_gib=D(8), ram_usage_gib=D(6), gpu_request=1, gpu_engine_active=D("0.4"),
                 run_id="run-2", completed=False),
    ]
    return ledger, nodes, jobs


def test_node_shared_by_two_jobs_opencost_split(catalog):
    _ledger, nodes, jobs = shared_node_case(catalog)
    alloc = allocate(nodes, jobs)
    node = alloc.nodes[0]
    # weights: CPU 0.031611 x 4 = 0.126444, RAM 0.004237 x 16 = 0.067792, GPU 0.95 x 1 = 0.95 (sum 1.144236)
    # CPU part = floor(1006000 x 0.126444 / 1.144236) = 111168 micro-$, GPU = floor(.. x 0.95 / ..) = 835229,
    # RAM = the rest = 59603
    assert (node.split.cpu, node.split.ram, node.split.gpu) == (111168, 59603, 835229)
    a, b = alloc.workloads
    # A: max(2, 3) = 3 cores x 30 min of 4 x 60 core-min; max(4, 2) = 4 GiB x 30 of 16 x 60; 1 GPU x 30 of 60
    assert (a.cpu_micros, a.ram_micros, a.gpu_micros) == (41688, 7450, 417614)
    # B: max(1, 0.5) = 1 core x 15 min; max(8, 6) = 8 GiB x 15 min; 1 GPU x 15 min
    assert (b.cpu_micros, b.ram_micros, b.gpu_micros) == (6948, 7450, 208807)
    assert (node.idle.cpu, node.idle.ram, node.idle.gpu) == (62532, 44703, 208808)
    assert node.allocated_micros + node.idle_micros == 1_006_000


def test_node_shared_by_two_jobs_gpu_weighted(catalog):
    _ledger, nodes, jobs = shared_node_case(catalog)
    alloc = allocate(nodes, jobs, mode=GPU_WEIGHTED)
    a, b = alloc.workloads
    # the whole $1.006 on the one GPU: A 30/60 of it, B 15/60, idle the last 15 min
    assert (a.total_micros, b.total_micros, alloc.idle_micros()) == (503_000, 251_500, 251_500)


def test_gpu_efficiency_and_kpis_of_the_shared_node(catalog):
    ledger, nodes, jobs = shared_node_case(catalog)
    alloc = allocate(nodes, jobs, mode=GPU_WEIGHTED)
    # requested 0.5 + 0.25 GPU-h; used 0.5 x 0.8 + 0.25 x 0.4 = 0.5 GPU-h
    assert alloc.gpu_efficiency("team-a") == D("0.5") / D("0.75")
    k = team_kpis(ledger, alloc, catalog)["team-a"]
    assert k.metered_micros == 1_106_000                  # node 1.006 + cluster fee 0.10
    assert k.completed_runs == 1
    assert k.cost_per_completed_run == D("1.106")
    assert k.gpu_hours_requested == D("0.75") and k.gpu_hours_used == D("0.5")
    assert k.idle_gpu_hours == D("0.25")                 # allocated x (1 - engine active)
    assert k.unallocated_gpu_hours == D("0.25")          # 45-60 min, nobody asked for the GPU
    assert k.spot is None


def test_cost_per_run_is_none_when_no_run_completed():
    assert cost_per_completed_run(1_000_000, 0) is None
    assert cost_per_completed_run(3_000_000, 2) == D("1.5")


def test_kpis_without_any_completed_run(catalog):
    ledger, nodes, jobs = shared_node_case(catalog)
    jobs = [Workload(j.workload_id, j.team, j.node_id, j.start, j.end, gpu_request=1) for j in jobs]
    k = team_kpis(ledger, allocate(nodes, jobs), catalog)["team-a"]
    assert k.completed_runs == 0 and k.cost_per_completed_run is None
    assert k.gpu_efficiency is None and k.idle_gpu_hours is None   # engine activity not measured


def test_spot_savings_versus_the_same_usage_on_demand(catalog):
    # g5.xlarge spot at 0.4383 for 37 min = 0.270285; on-demand 1.006 x 37/60 = 0.620366(6) -> 0.620366
    ledger = build_ledger([Usage("team-a", "i-s", "instance", "us-east-1", T0, T0 + 37 * MIN, "g5.xlarge", "spot",
                                 D("0.4383"))], catalog, as_of=T0 + HOUR)
    s = spot_savings(ledger, catalog)["team-a"]
    assert (s.spot_micros, s.on_demand_micros, s.savings_micros) == (270_285, 620_366, 350_081)


def test_shared_idle_modes_keep_the_total(catalog):
    _ledger, nodes, jobs = shared_node_case(catalog)
    alloc = allocate(nodes, jobs)
    for mode in ("weighted", "even", "none"):
        shared = alloc.shared_idle(mode)
        assert sum(shared.values()) == 1_006_000, mode
    assert alloc.shared_idle("none")["__idle__:i-node"] == alloc.idle_micros()
    even = alloc.shared_idle("even")
    assert abs((even["job-a"] - alloc.workloads[0].total_micros) - (even["job-b"] - alloc.workloads[1].total_micros)) <= 1


def test_overcommitted_usage_is_scaled_to_the_node_and_idle_is_zero():
    node = NodeCost("n", "t", 1_000_000, T0, T0 + HOUR, vcpu=2, ram_gib=D(8), gpus=0)
    hog = [Workload(f"w{i}", "t", "n", T0, T0 + HOUR, cpu_request=D(1), cpu_usage=D(2), ram_request_gib=D(8))
           for i in range(2)]
    alloc = allocate([node], hog)
    assert alloc.nodes[0].idle.cpu == 0
    assert alloc.allocated_micros() + alloc.idle_micros() == 1_000_000


def test_workload_on_an_unmetered_node_is_reported():
    alloc = allocate([], [Workload("w", "t", "ghost", T0, T0 + HOUR, gpu_request=1)])
    assert alloc.workloads == () and "ghost" in alloc.warnings[0]


def test_opencost_unit_prices_reproduce_the_node_price():
    # p5.48xlarge: the reference notes GPUs get about 34% of the node under the default ratios
    cpu, ram, gpu = unit_prices(D("55.04"), 192, D(2048), 8)
    assert cpu * 192 + ram * 2048 + gpu * 8 == pytest.approx(D("55.04"), abs=D("1e-20"))
    assert D("0.33") < gpu * 8 / D("55.04") < D("0.35")


def test_split_is_exact_for_gpu_less_and_gpu_weighted_nodes():
    assert split_node_cost(999, 4, D(16), 0, GPU_WEIGHTED).gpu == 0
    s = split_node_cost(999, 4, D(16), 0)
    assert s.cpu + s.ram + s.gpu == 999


# ------------------------------------------------------------------ property

@st.composite
def node_and_workloads(draw):
    vcpu = draw(st.integers(min_value=1, max_value=192))
    ram = D(draw(st.integers(min_value=1, max_value=2048)))
    gpus = draw(st.integers(min_value=0, max_value=8))
    minutes = draw(st.integers(min_value=1, max_value=600))
    node = NodeCost("n", "t", draw(st.integers(min_value=0, max_value=10**9)), T0, T0 + minutes * MIN, vcpu, ram, gpus)
    ws = []
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        s = draw(st.integers(min_value=-60, max_value=minutes))
        e = s + draw(st.integers(min_value=0, max_value=700))
        dec = st.decimals(min_value=0, max_value=300, places=2)
        ws.append(Workload(f"w{i}", "t", "n", T0 + s * MIN, T0 + e * MIN, draw(dec), draw(dec), draw(dec), draw(dec),
                           draw(st.integers(min_value=0, max_value=8))))
    return node, ws


@settings(max_examples=200, deadline=None)
@given(node_and_workloads(), st.sampled_from(["opencost", "gpu-weighted"]))
def test_allocation_plus_idle_equals_node_cost(case, mode):
    node, ws = case
    alloc = allocate([node], ws, mode=mode)
    n = alloc.nodes[0]
    assert sum(w.total_micros for w in alloc.workloads) + n.idle_micros == node.cost_micros
    assert min([n.idle.cpu, n.idle.ram, n.idle.gpu] + [w.total_micros for w in alloc.workloads] + [0]) >= 0
