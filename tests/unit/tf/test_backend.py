"""The remote-state pieces of the runner: the backend file, which commands refresh the read copy,
the argv, and the lock holder read from terraform's "Error acquiring the state lock"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labctl.tf import argv as A
from labctl.tf import backend


def test_the_backend_file_is_json_data_with_the_s3_lock_on(tmp_path):
    doc = backend.s3_backend("labctl-state-123456789012-fall26", "eu-west-1", "terraform.tfstate", "teams")
    assert backend.write_backend(tmp_path, doc) is True
    written = json.loads((tmp_path / backend.BACKEND_FILE).read_text())
    assert written["terraform"]["backend"]["s3"] == {
        "bucket": "labctl-state-123456789012-fall26", "key": "terraform.tfstate", "workspace_key_prefix": "teams",
        "region": "eu-west-1", "encrypt": True, "use_lockfile": True}
    assert backend.is_remote(tmp_path)
    assert backend.write_backend(tmp_path, doc) is False          # unchanged: not rewritten
    assert backend.write_backend(tmp_path, None) is True and not backend.is_remote(tmp_path)


@pytest.mark.parametrize("args,writes", [
    (A.apply(), True), (A.destroy(), True), (["import", "a.b", "id"], True),
    (A.state_push(Path("s.json")), True), (["state", "rm", "a.b"], True),
    (A.plan(), False), (A.state_pull(), False), (A.state_list(), False), (A.output_json(), False), (A.init(), False),
])
def test_the_read_copy_is_refreshed_after_commands_that_write_the_state(args, writes):
    assert backend.writes_state(args) is writes


@pytest.mark.parametrize("builder,expected", [
    (lambda: A.init(), ["init", "-input=false", "-no-color", "-lock-timeout=120s"]),
    (lambda: A.init(reconfigure=True), ["init", "-input=false", "-no-color", "-lock-timeout=120s", "-reconfigure"]),
    (lambda: A.state_pull(), ["state", "pull"]),
    (lambda: A.state_push(Path("t.tfstate")), ["state", "push", "-lock-timeout=120s", "t.tfstate"]),
    (lambda: A.force_unlock("efa604d1"), ["force-unlock", "-force", "-no-color", "efa604d1"]),
])
def test_argv(builder, expected):
    assert builder() == expected


def test_workspace_env_names_the_team():
    assert backend.workspace_env("team-a") == {"TF_WORKSPACE": "team-a"}


# What terraform 1.11.4 printed (-json diagnostic detail) when a second apply met the S3 lock.
LOCKED = """Error message: operation error S3: PutObject, https response error StatusCode: 412, api error PreconditionFailed
Lock Info:
  ID:        efa604d1-e498-11d0-8561-491d445bf81b
  Path:      labctl-state-test/teams/a/terraform.tfstate
  Operation: OperationTypeApply
  Who:       root@vm
  Version:   1.11.4
  Created:   2026-12-04 21:58:57.790810991 +0000 UTC
  Info:

Terraform acquires a state lock to protect the state from being written"""


def test_the_lock_holder_is_read_from_terraforms_error():
    info = backend.lock_info(LOCKED)
    assert info["ID"] == "efa604d1-e498-11d0-8561-491d445bf81b"
    assert info["Who"] == "root@vm" and info["Operation"] == "OperationTypeApply"
    assert backend.lock_info("Error: something else") == {}


def test_init_selects_no_workspace_while_every_other_command_runs_in_the_teams(tmp_path):
    """terraform init refuses a workspace that does not exist yet once the bucket holds two (a
    batch's second team failed so with real terraform): init runs without TF_WORKSPACE."""
    import sys

    from labctl.tf.runner import Terraform

    binary = tmp_path / "terraform"
    binary.write_text(f"#!{sys.executable}\nimport os, sys\n"
                      "open(sys.argv[1] + '.ws', 'w').write(os.environ.get('TF_WORKSPACE', '-'))\n")
    binary.chmod(0o755)
    tf = Terraform(workdir=tmp_path, cli_config=tmp_path / "rc", env={"A": "1", **backend.workspace_env("red")},
                   binary=str(binary))
    tf.init()
    tf.run(A.plan())
    assert (tmp_path / "init.ws").read_text() == "-" and (tmp_path / "plan.ws").read_text() == "red"
    assert tf.env["TF_WORKSPACE"] == "red"
