"""One source of truth for the workload's environment: env-contract.json.

labctl renders the Job's env from it (labctl.workload.job_env) and the trainer parses its
environment with it (trainer.config); these tests hold the two and the trainer's code to it.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys

import pytest

from labctl import workload as wl
from labctl.errors import ExitCode
from tests.workload.conftest import PREFIX, WORKLOAD_DIR, trainer_env
from trainer import config as tconfig

TRAINER_SOURCES = sorted((WORKLOAD_DIR / "trainer").glob("*.py"))


def test_labctl_and_the_trainer_read_the_same_file() -> None:
    assert tconfig.CONTRACT_PATH == wl.workload_dir() / wl.CONTRACT_FILE
    assert tconfig.load_contract()["variables"].keys() == wl.load_env_contract().keys()


def test_every_variable_carries_the_prefix_and_maps_to_a_trainer_setting() -> None:
    contract = wl.load_contract()
    assert contract.prefix == PREFIX
    assert all(name.startswith(PREFIX) for name in contract.variables)
    keys = [spec.key for spec in contract.variables.values()]
    assert len(keys) == len(set(keys))
    assert set(keys) == {f.name for f in dataclasses.fields(tconfig.Settings)}
    required = {"bucket", "prefix", "endpoint_url", "region", "total_steps", "checkpoint_every",
                "batch_size", "metrics_port", "seed"}
    assert required <= set(keys)
    for spec in contract.variables.values():
        assert spec.description and spec.type in {"str", "int"}


def test_job_env_is_exactly_what_the_trainer_parses() -> None:
    env = wl.job_env(bucket="team-a-ckpt", prefix="team-a/train", total_steps=5000, checkpoint_every=250,
                     endpoint_url="http://127.0.0.1:4566", region="eu-west-1", batch_size=64, seed=3)
    names = [item["name"] for item in env]
    assert names == list(wl.load_env_contract())          # every variable, in the contract's order
    assert all(isinstance(item["value"], str) for item in env)
    settings = tconfig.from_environ({item["name"]: item["value"] for item in env})
    assert settings.bucket == "team-a-ckpt" and settings.prefix == "team-a/train"
    assert settings.endpoint_url == "http://127.0.0.1:4566" and settings.region == "eu-west-1"
    assert (settings.total_steps, settings.checkpoint_every, settings.batch_size, settings.seed) == (5000, 250, 64, 3)
    assert settings.metrics_port == wl.metrics_port()


def test_the_trainer_and_labctl_agree_on_the_defaults() -> None:
    env = wl.job_env(bucket="b", prefix="p", total_steps=1, checkpoint_every=1)
    from_labctl = tconfig.from_environ({i["name"]: i["value"] for i in env})
    from_trainer = tconfig.from_environ({"LABCTL_WORKLOAD_S3_BUCKET": "b", "LABCTL_WORKLOAD_S3_PREFIX": "p",
                                         "LABCTL_WORKLOAD_TOTAL_STEPS": "1", "LABCTL_WORKLOAD_CHECKPOINT_EVERY": "1"})
    assert from_labctl == from_trainer


@pytest.mark.parametrize("kwargs, message", [
    ({"batchsize": 3}, "unknown workload setting"),
    ({"batch_size": 0}, "must be >= 1"),
    ({"metrics_port": 70000}, "must be <= 65535"),
    ({"device": "tpu"}, "must be one of"),
    ({"seed": "7"}, "expected an integer"),
])
def test_job_env_rejects_what_the_trainer_would_reject(kwargs, message) -> None:
    with pytest.raises(wl.WorkloadSettingError, match=message) as info:
        wl.job_env(bucket="b", prefix="p", total_steps=10, checkpoint_every=5, **kwargs)
    assert info.value.exit_code == ExitCode.INVALID_SPEC


def test_a_bucket_is_required_only_with_checkpointing() -> None:
    with pytest.raises(wl.WorkloadSettingError, match="bucket is required"):
        wl.job_env(bucket="", prefix="p", total_steps=10, checkpoint_every=5)
    env = wl.job_env(bucket="", prefix="p", total_steps=10, checkpoint_every=0)
    assert tconfig.from_environ({i["name"]: i["value"] for i in env}).checkpointing is False


def test_the_trainer_reads_no_environment_variable_outside_the_contract() -> None:
    """Only config.py touches os.environ / getenv, and no source names a variable the contract lacks."""
    names = set(wl.load_env_contract())
    for path in TRAINER_SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PREFIX):
                assert node.value in names or node.value == PREFIX, f"{path.name}: {node.value}"
            if isinstance(node, ast.Attribute) and node.attr in {"getenv", "environ", "environb"}:
                allowed = path.name == "config.py" or (path.name == "main.py" and node.attr == "environ")
                assert allowed, f"{path.name}:{node.lineno} reads the environment outside config.py"
    main_src = (WORKLOAD_DIR / "trainer" / "main.py").read_text()
    assert "from_environ(os.environ)" in main_src     # main hands the whole environment to config


def test_the_trainer_fails_loudly_on_an_unknown_variable() -> None:
    env = trainer_env(None, checkpoint_every=0, total_steps=1)
    env["LABCTL_WORKLOAD_TOTAL_STEP"] = "10"           # a typo in a rendered Job
    proc = subprocess.run([sys.executable, "-m", "trainer"], cwd=WORKLOAD_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "LABCTL_WORKLOAD_TOTAL_STEP: unknown variable (did you mean LABCTL_WORKLOAD_TOTAL_STEPS?)" in proc.stderr
    event = json.loads(proc.stdout.splitlines()[0])
    assert event["event"] == "config_error"


def test_the_trainer_rejects_bad_values_before_training() -> None:
    with pytest.raises(tconfig.ConfigError) as info:
        tconfig.from_environ({"LABCTL_WORKLOAD_BATCH_SIZE": "lots", "LABCTL_WORKLOAD_DEVICE": "tpu"})
    assert len(info.value.problems) == 2


def test_exit_codes_are_documented_in_the_contract() -> None:
    codes = wl.load_contract().exit_codes
    assert {0, 1, 2, 143} <= set(codes)
    from trainer import main as tmain
    assert tmain.EXIT_SIGNAL["SIGTERM"] == 143 and tmain.EXIT_CONFIG == 2


def test_labctl_workload_does_not_import_torch() -> None:
    code = "import sys, labctl.workload, labctl.cli.workload; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_env_command_lists_the_contract(cli_runner) -> None:
    from labctl.cli.context import AppContext
    from labctl.cli.workload import workload

    result = cli_runner.invoke(workload, ["env"], obj=AppContext(state_dir=WORKLOAD_DIR, output="json"))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc["variables"]) == set(wl.load_env_contract())


def test_env_command_through_the_root_cli(run_cli) -> None:
    from labctl.cli import commands
    from labctl.cli.workload import workload

    if workload not in commands.ALL:
        pytest.skip("labctl.cli.commands does not register the workload group yet")
    result = run_cli("workload", "env", "-o", "json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["variables"]) == set(wl.load_env_contract())
