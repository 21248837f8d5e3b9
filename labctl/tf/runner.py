"""The one place labctl starts terraform processes.

Like hashicorp/terraform-exec: TF_IN_AUTOMATION and TF_INPUT=0 always, TF_CLI_CONFIG_FILE always
pointing at labctl's own config, each terraform in its own process group (so a cancel reaches the
provider plugins too), and machine-readable output only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labctl.errors import Cancelled, EnvironmentProblem, TerraformError
from labctl.state import write_atomic
from labctl.tf import argv as A
from labctl.tf import backend
from labctl.tf import run_trace
from labctl.tf.events import Event, Progress, parse_line

# After a cancel (Ctrl-C, SIGTERM, a run out of time) terraform gets SIGINT and this long to stop
# on its own: it stops starting operations, cancels the provider's in-flight calls and writes its
# state. Only then is its process group terminated (a state not written then is recovered by the
# next `up` or `down`, which look for what the state lacks).
STOP_GRACE_S = 8.0

# Fault injection for the crash tests (tests/integration/test_crash_recovery.py): with this set to
# N, the N-th resource an `apply` completes kills terraform's process group and labctl itself with
# SIGKILL, as a laptop that dies or an OOM kill would. Read per run, never at import.
KILL_AFTER_ENV = "LABCTL_TEST_KILL_AFTER_APPLIES"

# Environment passed through to terraform; everything else is dropped so a user's real AWS
# credentials can never reach a run against the emulator (the target supplies AWS_* itself).
_PASSTHROUGH = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
                "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def find_terraform(explicit: str | None = None) -> str:
    for cand in (explicit, os.environ.get("LABCTL_TERRAFORM"), "terraform", "tofu"):
        if cand and (path := shutil.which(cand)):
            return path
    raise EnvironmentProblem("terraform (>= 1.6) or OpenTofu is not on PATH; install it first")


@dataclass(frozen=True)
class Result:
    returncode: int
    progress: Progress
    stderr: str
    stdout: str
    timed_out: bool = False         # stopped because it ran past ``run(timeout_s=...)``
    cancelled: bool = False         # stopped because the command was interrupted

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def planned_changes(self) -> list[str]:
        """"<action> <address>" for each resource the run planned to change, from its -json stream."""
        out = []
        for line in self.stdout.splitlines():
            ev = parse_line(line)
            if ev and ev.plans_a_change and ev.address:
                out.append(f"{ev.action} {ev.address}")
        return out


@dataclass
class Terraform:
    workdir: Path
    cli_config: Path
    env: Mapping[str, str]            # target-specific (AWS_*), merged over the pass-through
    binary: str = "terraform"
    log_path: Path | None = None      # every -json event and stderr line is appended here
    gogc: int | None = 400            # see bench/README: trades ~30% provider CPU for ~30% memory
    cancel: threading.Event | None = None
    # Remote state (labctl/tf/backend.py): the read copy refreshed after each command that writes it.
    state_mirror: Path | None = None

    def _environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in _PASSTHROUGH}
        env.update(self.env)
        env.update({
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            # Absolute: terraform runs in the team's directory, where a relative path names nothing
            # and terraform would silently fall back to the online registry.
            "TF_CLI_CONFIG_FILE": str(Path(self.cli_config).absolute()),
            "CHECKPOINT_DISABLE": "1",
        })
        if self.gogc:
            env["GOGC"] = str(self.gogc)
        return env

    def run(self, args: list[str], on_event: Callable[[Event], None] | None = None,
            timeout_s: float | None = None) -> Result:
        """Run terraform; stream its -json events to ``on_event``.

        terraform writes to files, not pipes, so that if labctl itself is killed the terraform
        process (in its own session) finishes its apply and writes its state instead of dying
        on a broken pipe mid-apply; the next `up` then resumes from that state.

        ``timeout_s`` bounds the run: past it terraform is stopped as on a cancel (SIGINT, then
        its process group terminated after STOP_GRACE_S) and the result says ``timed_out``.
        Raises Cancelled, starting nothing, when the command is already being interrupted.
        """
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"terraform {args[0]} not started: the command is being interrupted")
        kill_after = _kill_after(args)
        progress = Progress()
        runs = self.workdir / run_trace.RUNS_DIR
        runs.mkdir(parents=True, exist_ok=True)
        out_path, err_path = run_trace.output_file(self.workdir, args[0]), runs / f"{args[0]}.stderr"
        with open(out_path, "w") as out_fh, open(err_path, "w") as err_fh:
            run_trace.hold(out_fh)      # terraform inherits it: locked while terraform lives (run_trace.ended)
            proc = subprocess.Popen(  # noqa: S603 - argv from pure builders, no shell
                [self.binary, *args], cwd=self.workdir, env=self._environ(), stdin=subprocess.DEVNULL,
                stdout=out_fh, stderr=err_fh, text=True, start_new_session=True,
            )
        stopping: list[str] = []          # why terraform was asked to stop: "cancel" or "timeout"
        watcher = threading.Thread(target=self._watch, args=(proc, timeout_s, stopping), daemon=True)
        watcher.start()
        out_lines: list[str] = []

        def consume(line: str) -> None:
            out_lines.append(line)
            ev = parse_line(line)
            if ev is not None:
                progress.feed(ev)
                if kill_after and progress.done >= kill_after:
                    _die_with(proc)
                if on_event is not None:
                    on_event(ev)

        try:
            with open(out_path) as reader:
                pending = ""
                while True:
                    chunk = reader.readline()
                    if chunk:
                        pending += chunk
                        if pending.endswith("\n"):     # a whole line; else wait for the rest
                            consume(pending)
                            pending = ""
                        continue
                    if proc.poll() is not None:
                        for line in (pending + reader.read()).splitlines(keepends=True):
                            consume(line)
                        break
                    time.sleep(0.1)
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM, labctl.ops.interrupt) in the thread that runs terraform itself
            # (`team plan`, `team apply`): the graceful stop, so terraform writes its state first.
            self._stop(proc)
            raise
        finally:
            if proc.poll() is None:
                self._kill(proc)
        stderr = err_path.read_text()
        if self.log_path is not None:
            with open(self.log_path, "a") as log:
                log.write(json.dumps({"labctl": "run", "argv": args, "returncode": proc.returncode}) + "\n")
                log.writelines(line if line.endswith("\n") else line + "\n" for line in out_lines)
                if stderr:
                    log.write(json.dumps({"labctl": "stderr", "text": stderr[-20000:]}) + "\n")
        if self.state_mirror is not None and backend.writes_state(args):
            self.pull_mirror()
        return Result(proc.returncode, progress, stderr, "".join(out_lines),
                      timed_out="timeout" in stopping, cancelled="cancel" in stopping)

    def pull_mirror(self) -> None:
        """Copy the remote state into ``state_mirror`` (removed when there is none yet). A pull that
        fails leaves the old copy: the next command's refresh (labctl.ops.remote_state) tries again."""
        assert self.state_mirror is not None
        # Not into the events log: a state holds every attribute, sensitive ones included.
        # It runs even while the command is interrupted: the copy must show what the apply saved.
        res = replace(self, log_path=None, state_mirror=None, cancel=None).run(A.state_pull())
        if not res.ok:
            return
        if res.stdout.strip():
            write_atomic(self.state_mirror, res.stdout)
        else:
            self.state_mirror.unlink(missing_ok=True)

    def _watch(self, proc: subprocess.Popen, timeout_s: float | None, stopping: list[str]) -> None:  # type: ignore[type-arg]
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while proc.poll() is None:
            if self.cancel is not None and self.cancel.wait(0.25):
                stopping.append("cancel")
            elif deadline is not None and time.monotonic() >= deadline:
                stopping.append("timeout")
            elif self.cancel is None:
                time.sleep(0.25)
            if stopping:
                self._stop(proc)
                return

    def _stop(self, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
        """SIGINT first: terraform stops gracefully and writes its state; the group is terminated
        if it has not exited after STOP_GRACE_S."""
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self._kill(proc)

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
        # terraform takes a second signal as "exit now"; SIGKILL if even that is not heeded.
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    # --- typed helpers --------------------------------------------------------------------
    def init(self) -> Result:
        tf = replace(self, env=backend.without_workspace(self.env))      # it says why
        if self.state_mirror is not None and self.state_mirror.exists():
            # Even with -reconfigure, init offers a terraform.tfstate beside a newly configured
            # remote backend for migration (and stops: no input). The read copy is no state to
            # migrate: out of the way while init runs, then back.
            aside = self.state_mirror.with_name(self.state_mirror.name + ".init-aside")
            self.state_mirror.replace(aside)
            try:
                res = tf.run(A.init(reconfigure=True))
            finally:
                if aside.exists():
                    aside.replace(self.state_mirror)
        else:
            res = tf.run(A.init(reconfigure=self.state_mirror is not None))
        if not res.ok:
            raise TerraformError(f"terraform init failed in {self.workdir}: {_last_error(res.stderr)}")
        return res

    def output(self) -> dict[str, Any]:
        res = self.run(A.output_json())
        if not res.ok:
            raise TerraformError(f"terraform output failed: {_last_error(res.stderr)}")
        data = json.loads(res.stdout or "{}")
        return {k: v.get("value") for k, v in data.items()}

    def show_plan(self, plan_file: Path) -> dict[str, Any]:
        res = self.run(A.show_json(plan_file))
        if not res.ok:
            raise TerraformError(f"terraform show failed: {_last_error(res.stderr)}")
        return json.loads(res.stdout)

    def show_state(self) -> dict[str, Any]:
        res = self.run(A.show_json())
        if not res.ok:
            raise TerraformError(f"terraform show failed: {_last_error(res.stderr)}")
        return json.loads(res.stdout or "{}")


def _kill_after(args: list[str]) -> int | None:
    value = os.environ.get(KILL_AFTER_ENV, "")
    return int(value) if args and args[0] == "apply" and value.isdigit() and int(value) > 0 else None


def _die_with(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """The fault KILL_AFTER_ENV injects: terraform, its providers and labctl die at once."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def _last_error(stderr: str) -> str:
    lines = [ln.strip(" │╷╵") for ln in stderr.splitlines() if ln.strip(" │╷╵")]
    for i, ln in enumerate(lines):
        if ln.startswith("Error:"):
            return " ".join(lines[i:i + 3])[:500]
    return (lines[-1] if lines else "no output")[:500]
