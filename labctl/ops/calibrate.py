"""`labctl workload calibrate`: run the reference training job on this machine for a while and
read what it measured (labctl.workload parses it; this module is the part that starts a process)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from labctl.errors import EnvironmentProblem, LabctlError
from labctl.workload import Calibration, calibration_env, load_contract, parse_calibration, workload_dir


def calibrate(seconds: int, *, hidden_size: int | None = None, batch_size: int | None = None,
              device: str = "auto", torch_threads: int = 0, python: str | None = None) -> Calibration:
    """Runs the workload here for ``seconds`` and returns what it measured."""
    python = python or sys.executable
    if python == sys.executable and importlib.util.find_spec("torch") is None:
        raise EnvironmentProblem(
            "calibration runs the workload on this machine and needs torch: "
            "pip install 'labctl[workload]' (or pass the python of an environment that has it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(load_contract().prefix)}
    env.update(calibration_env(seconds, hidden_size=hidden_size, batch_size=batch_size,
                               device=device, torch_threads=torch_threads))
    try:
        proc = subprocess.run([python, "-m", "trainer"], cwd=workload_dir(), env=env,
                              capture_output=True, text=True, timeout=seconds + 180, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabctlError(f"calibration run did not stop within {seconds + 180} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabctlError(f"calibration run failed (exit {proc.returncode}): {tail[0]}")
    return parse_calibration(proc.stdout)
