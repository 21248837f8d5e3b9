"""Knob sets for the three demo teams that work as intended on a real EKS cluster.

labctl.ops.demo.STRATEGIES (owned by the demo) as of this writing has two that a real cluster
would not run, and the simulator reproduces both: a Job asking for cpu "4" / memory "16Gi" does
not fit a g5.xlarge (allocatable ~3920m / ~14.5 GiB after the EKS AMI's reservations), and
``--expander=price`` stops the cluster-autoscaler from starting on AWS. These sets keep the
demo's intent (right-sized GPUs; spot + checkpointing + scale-to-zero) with requests that fit an
xlarge node and the priority expander (labctl renders spot above on-demand). The spot group leaves
out g4dn.xlarge: capacity-optimized would pick it (lowest interruption band) and its T4 runs this
workload ~7.6x slower than an A10G (calibration.json), so a run would not finish in the class.
"""

from __future__ import annotations

from typing import Any

_FITS_XLARGE = {"cpu": "3", "memory": "12Gi"}

DEMO_STRATEGIES: dict[str, dict[str, Any]] = {
    "baseline": {},
    "rightsized": {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0,
                                                     "desired_size": 1, "max_size": 2}},
                   "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "5m"},
                   "job": dict(_FITS_XLARGE)},
    "spot": {"node_groups": {"gpu_on_demand": {"instance_types": ["g5.xlarge"], "min_size": 0,
                                               "desired_size": 0, "max_size": 1},
                             "gpu_spot": {"instance_types": ["g6.xlarge", "g5.xlarge"],
                                          "min_size": 0, "desired_size": 0, "max_size": 3}},
             "autoscaler": {"scale_down_enabled": True, "scale_down_unneeded_time": "5m", "expander": "priority"},
             "job": {"pool": "spot", "checkpoint_every_steps": 500, **_FITS_XLARGE}},
}
