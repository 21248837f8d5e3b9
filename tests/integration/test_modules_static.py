"""`terraform fmt -check` and `terraform validate` pass on every module and a rendered root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labctl import resources
from labctl.ops.render import render
from labctl.tf.config import render_cli_config
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = pytest.mark.terraform

MODULES = sorted(p.name for p in (resources.terraform_dir() / "modules").iterdir() if p.is_dir())


def _env(tmp_path: Path) -> dict[str, str]:
    rc = tmp_path / "terraformrc"
    rc.write_text(render_cli_config(mirror_or_skip()))
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def test_fmt_check_passes_on_all_terraform():
    tf = terraform_or_skip()
    res = subprocess.run([tf, "fmt", "-check", "-recursive", "-list=true", str(resources.terraform_dir())],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"not formatted: {res.stdout}{res.stderr}"


def test_every_module_has_the_standard_files_and_typed_described_variables():
    for name in MODULES:
        d = resources.terraform_dir() / "modules" / name
        for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (d / f).exists(), f"{name}/{f} missing"
        text = (d / "variables.tf").read_text()
        blocks = text.split('variable "')[1:]
        assert blocks, name
        for block in blocks:
            var = block.split('"')[0]
            assert "description" in block and "type" in block, f"{name}: variable {var} needs type and description"


@pytest.mark.parametrize("module", MODULES)
def test_module_validates(module, tmp_path):
    tf = terraform_or_skip()
    env = _env(tmp_path)
    work = tmp_path / module
    shutil.copytree(resources.terraform_dir() / "modules" / module, work)
    subprocess.run([tf, "init", "-input=false", "-backend=false", "-no-color"], cwd=work, env=env,
                   check=True, capture_output=True)
    res = subprocess.run([tf, "validate", "-json", "-no-color"], cwd=work, env=env, capture_output=True, text=True)
    out = json.loads(res.stdout)
    assert out["valid"], out["diagnostics"]


def test_rendered_root_validates(tmp_path):
    tf = terraform_or_skip()
    env = _env(tmp_path)
    spec = tmp_path / "c.yaml"
    spec.write_text("cohort: v\nwindow: {start: 2026-12-01T09:00:00Z, duration: 4h}\nlab: gpu-baseline\n"
                    "teams: [{name: a}]\n")
    render(spec, tmp_path / "build")
    work = tmp_path / "build" / "a"
    subprocess.run([tf, "init", "-input=false", "-backend=false", "-no-color"], cwd=work, env=env,
                   check=True, capture_output=True)
    res = subprocess.run([tf, "validate", "-json", "-no-color"], cwd=work, env=env, capture_output=True, text=True)
    out = json.loads(res.stdout)
    assert out["valid"], out["diagnostics"]
    assert out["warning_count"] == 0, out["diagnostics"]
