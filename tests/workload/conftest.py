"""Fixtures of the workload tests: the emulator's S3, and the trainer run as a child process.

The trainer lives in labs/workload/trainer (it is shipped in the image, not in labctl); tests
that call its modules in-process import it from there. Tests that need torch skip, with the
reason, where it is not installed (pip install -e '.[workload]').
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
WORKLOAD_DIR = REPO / "labs" / "workload"
PREFIX = "LABCTL_WORKLOAD_"

if str(WORKLOAD_DIR) not in sys.path:
    sys.path.insert(0, str(WORKLOAD_DIR))

# Small enough for two cores: a run of 200 steps takes about a second after start-up.
SMALL = {
    "LABCTL_WORKLOAD_HIDDEN_SIZE": "192",
    "LABCTL_WORKLOAD_BATCH_SIZE": "32",
    "LABCTL_WORKLOAD_TORCH_THREADS": "1",
    "LABCTL_WORKLOAD_LOG_EVERY": "10",
    "LABCTL_WORKLOAD_METRICS_PORT": "0",
    "LABCTL_WORKLOAD_DEVICE": "cpu",
    "LABCTL_WORKLOAD_SEED": "7",
}
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def require_torch() -> None:
    pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[workload]' "
                                        "(CPU wheel: pip install torch==2.13.0 with the local wheel index)")


class S3:
    """The emulator's S3 as the tests see it."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")

    def new_bucket(self) -> str:
        name = f"team-{uuid.uuid4().hex[:10]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def get(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def pointer(self, bucket: str, prefix: str) -> dict[str, Any]:
        return json.loads(self.get(bucket, f"{prefix}/latest.json"))

    def clone_prefix(self, bucket: str, src: str, dst: str) -> None:
        """Copies a checkpoint prefix, pointer rewritten to the copies' keys."""
        for key in self.keys(bucket, f"{src}/objects/"):
            self.client.copy_object(Bucket=bucket, Key=dst + key[len(src):],
                                    CopySource={"Bucket": bucket, "Key": key})
        pointer = self.pointer(bucket, src)
        for entry in pointer["checkpoints"]:
            entry["key"] = dst + entry["key"][len(src):]
        self.put(bucket, f"{dst}/latest.json", json.dumps(pointer).encode())


@pytest.fixture(scope="session")
def s3() -> S3:
    from labctl.aws.emulator import Emulator

    with Emulator() as emu:
        yield S3(emu.url)


class TrainerRun:
    """``python -m trainer`` as a child process; its JSON log lines are collected as they come."""

    def __init__(self, env: dict[str, str], signal_at: tuple[int, signal.Signals] | None = None) -> None:
        """``signal_at=(k, sig)``: ``sig`` reaches the trainer once it has completed step k.

        The trainer sends it to itself (its test hook, trainer.main.SIGNAL_AT_ENV): a signal sent
        from here when a progress line showed step k raced the trainer, which on a quiet machine
        could finish its short run before this process's reader thread was scheduled.
        """
        self.signalled_at: int | None = None
        if signal_at is not None:
            env = {**env, "LABCTL_TEST_SIGNAL_AT_STEP": f"{signal_at[0]}:{signal_at[1].name}"}
            self.signalled_at = signal_at[0]
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trainer"], cwd=WORKLOAD_DIR, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "_text", "line": line.rstrip()}
            self.events.append(event)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait(self, timeout: float = 90) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind!r} line, got {found}; stderr: {''.join(self.stderr)[-800:]}"
        return found[0]

    def max_step(self) -> int:
        return max((e["step"] for e in self.of("progress")), default=0)


def trainer_env(s3: S3 | None, **workload: str | int) -> dict[str, str]:
    """A clean environment: no inherited LABCTL_WORKLOAD_* or AWS profile, fake credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX) and not k.startswith("AWS_")}
    env.update(FAKE_AWS)
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.update(SMALL)
    if s3 is not None:
        env["LABCTL_WORKLOAD_S3_ENDPOINT_URL"] = s3.endpoint
    for key, value in workload.items():
        env[PREFIX + key.upper()] = str(value)
    return env
