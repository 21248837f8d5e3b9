"""The runner's contract with the process it starts, checked with a stand-in `terraform` script
(a few lines of Python that behave like terraform's -json output): the real CLI is exercised by
the integration tests."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from labctl.tf.runner import Terraform

STAND_IN = r'''#!{python}
import json, os, signal, sys, time
env = {{k: os.environ.get(k) for k in ("TF_IN_AUTOMATION", "TF_INPUT", "TF_CLI_CONFIG_FILE", "AWS_PROFILE", "GOGC", "FOO")}}
print(json.dumps({{"type": "version", "@level": "info", "@message": "env " + json.dumps(env)}}), flush=True)
if sys.argv[1] == "slow":
    stopped = []
    signal.signal(signal.SIGINT, lambda *a: (stopped.append(1), open("got-sigint", "w").close()))
    for i in range(200):
        print(json.dumps({{"type": "apply_complete", "@level": "info",
                          "hook": {{"action": "create", "resource": {{"addr": f"r.{{i}}"}}}}}}), flush=True)
        if stopped:
            print(json.dumps({{"type": "diagnostic", "@level": "error",
                              "diagnostic": {{"severity": "error", "summary": "interrupted"}}}}), flush=True)
            sys.exit(1)
        time.sleep(0.05)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
'''


def _tf(tmp_path, **kw) -> Terraform:
    binary = tmp_path / "terraform"
    binary.write_text(STAND_IN.format(python=sys.executable))
    binary.chmod(0o755)
    return Terraform(workdir=tmp_path, cli_config=tmp_path / "rc", env={"FOO": "bar"}, binary=str(binary), **kw)


def test_environment_is_automation_only_and_drops_real_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "prod")
    res = _tf(tmp_path).run(["fast"])
    env = json.loads(json.loads(res.stdout.splitlines()[0])["@message"].split("env ", 1)[1])
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0"
    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "rc")
    assert env["AWS_PROFILE"] is None          # never inherited: targets supply AWS_* themselves
    assert env["FOO"] == "bar" and env["GOGC"] == "400"


def test_exit_code_and_log_file(tmp_path):
    tf = _tf(tmp_path, log_path=tmp_path / "events.jsonl")
    assert tf.run(["fast", "3"]).returncode == 3
    log = (tmp_path / "events.jsonl").read_text().splitlines()
    assert json.loads(log[0]) == {"labctl": "run", "argv": ["fast", "3"], "returncode": 3}


def test_events_stream_while_the_process_runs(tmp_path):
    seen: list[float] = []
    start = time.monotonic()
    res = _tf(tmp_path).run(["slow"], on_event=lambda ev: seen.append(time.monotonic() - start))
    assert res.returncode == 0 and res.progress.done == 200
    assert seen[1] < seen[-1] - 5          # the first events arrived seconds before the last


def test_cancel_interrupts_the_process_group_gracefully(tmp_path):
    cancel = threading.Event()
    tf = _tf(tmp_path, cancel=cancel)
    threading.Timer(1.0, cancel.set).start()
    t0 = time.monotonic()
    res = tf.run(["slow"])
    assert time.monotonic() - t0 < 8
    assert res.returncode == 1
    assert [d.summary for d in res.progress.errors] == ["interrupted"]   # it got SIGINT, not SIGKILL
    assert 0 < res.progress.done < 200


def test_terraform_not_on_path_is_an_environment_problem(monkeypatch):
    import pytest

    from labctl.errors import EnvironmentProblem
    from labctl.tf.runner import find_terraform

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("LABCTL_TERRAFORM", raising=False)
    with pytest.raises(EnvironmentProblem, match="terraform"):
        find_terraform()
    assert os.environ["PATH"] == "/nonexistent"
