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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl.errors import EnvironmentProblem, TerraformError
from labctl.tf import argv as A
from labctl.tf.events import Event, Progress, parse_line

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

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Terraform:
    workdir: Path
    cli_config: Path
    env: Mapping[str, str]            # target-specific (AWS_*), merged over the pass-through
    binary: str = "terraform"
    log_path: Path | None = None      # every -json event and stderr line is appended here
    gogc: int | None = 400            # see bench/README: trades ~30% provider CPU for ~30% memory
    cancel: threading.Event | None = None

    def _environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in _PASSTHROUGH}
        env.update(self.env)
        env.update({
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "CHECKPOINT_DISABLE": "1",
        })
        if self.gogc:
            env["GOGC"] = str(self.gogc)
        return env

    def run(self, args: list[str], on_event: Callable[[Event], None] | None = None) -> Result:
        progress = Progress()
        cmd = [self.binary, *args]
        proc = subprocess.Popen(  # noqa: S603 - argv from pure builders, no shell
            cmd, cwd=self.workdir, env=self._environ(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        stderr_chunks: list[str] = []
        t = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        t.start()
        watcher = None
        if self.cancel is not None:
            watcher = threading.Thread(target=self._watch_cancel, args=(proc,), daemon=True)
            watcher.start()
        out_lines: list[str] = []
        log = open(self.log_path, "a") if self.log_path else None  # noqa: SIM115
        try:
            if log:
                log.write(json.dumps({"labctl": "run", "argv": args}) + "\n")
            for line in proc.stdout:  # type: ignore[union-attr]
                out_lines.append(line)
                if log:
                    log.write(line if line.endswith("\n") else line + "\n")
                ev = parse_line(line)
                if ev is not None:
                    progress.feed(ev)
                    if on_event is not None:
                        on_event(ev)
            proc.wait()
            t.join()
            if log and stderr_chunks and stderr_chunks[0]:
                log.write(json.dumps({"labctl": "stderr", "text": stderr_chunks[0][-20000:]}) + "\n")
        finally:
            if proc.poll() is None:
                self._kill(proc)
            if log:
                log.close()
        return Result(proc.returncode, progress, "".join(stderr_chunks), "".join(out_lines))

    def _watch_cancel(self, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
        assert self.cancel is not None
        while proc.poll() is None:
            if self.cancel.wait(0.5):
                # SIGINT first: terraform stops gracefully and writes its state.
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    return
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    self._kill(proc)
                return

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    # --- typed helpers --------------------------------------------------------------------
    def init(self) -> Result:
        res = self.run(A.init())
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


def _last_error(stderr: str) -> str:
    lines = [ln.strip(" │╷╵") for ln in stderr.splitlines() if ln.strip(" │╷╵")]
    for i, ln in enumerate(lines):
        if ln.startswith("Error:"):
            return " ".join(lines[i:i + 3])[:500]
    return (lines[-1] if lines else "no output")[:500]
