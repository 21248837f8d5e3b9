"""The embedded AWS emulator: moto's server (real AWS wire protocol) on 127.0.0.1.

Its state lives in memory only. ``labctl emulator start`` runs it as a background process and
records ``{pid, url, boot_id}`` in ``<state-dir>/emulator.json``; a cohort remembers the boot id
it was provisioned against, so labctl can refuse to act on a restarted emulator whose (empty)
state no longer matches the cohort's Terraform state. ``labctl demo`` runs one in-process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labctl.aws import compat
from labctl.errors import EmulatorError

STATE_FILE = "emulator.json"


@dataclass(frozen=True)
class EmulatorInfo:
    url: str
    boot_id: str
    pid: int | None = None


def seed_ids(url: str, seed: int) -> None:
    """Seed the emulator's id generator, so the ids it hands out next (instances launched by the
    simulator) are the same for the same seed: `labctl demo --seed S` twice gives the same debrief."""
    req = urllib.request.Request(f"{url}/moto-api/seed?a={int(seed)}", data=b"", method="POST")  # noqa: S310
    urllib.request.urlopen(req, timeout=30).read()  # noqa: S310 - loopback only


_log = logging.getLogger("labctl.emulator")
REPLAY_ANSWERS = 4096            # successful answers kept for retried attempts
REPLAY_MAX_BYTES = 256 * 1024    # larger answers (big listings) are not kept: a retried read runs again
_ATTEMPT = re.compile(r"attempt=(\d+)")


def _call_of(environ: dict[str, Any]) -> str:
    """'CreateRole', 'AWSBudgetServiceGateway.CreateNotification' or 'POST /clusters/x/node-groups':
    the call a request makes, for the replay log (reads the body, which moto then never sees)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    try:
        body = environ["wsgi.input"].read(min(int(environ.get("CONTENT_LENGTH") or 0), 65536))
    except (KeyError, ValueError, OSError):
        body = b""
    action = re.search(rb"(?:^|&)Action=([A-Za-z0-9]+)", body)
    if action:
        return action.group(1).decode()
    return f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"


def one_at_a_time(app: Any, keep: int = REPLAY_ANSWERS) -> Any:
    """A WSGI app that handles one request at a time, and answers a retried attempt of a request
    it already answered with that same answer.

    One at a time: moto's backends are not thread-safe (its FAQ says so), and the threaded server
    runs every request in its own thread; a 30-team `up` has about a hundred requests in flight.
    moto's handlers are pure Python under the GIL, so one at a time costs no throughput (a 30-team
    `up` measured the same: 237 s); connections are still accepted concurrently and queue here
    (p99 wait 0.6 s, max 1.1 s in that run).

    Replays: the AWS SDKs mark every attempt of one call with the same ``amz-sdk-invocation-id``
    and count attempts in ``amz-sdk-request: attempt=N``. Under a loaded 30-team `up` the aws
    provider's Go client, about once per run of ~5,800 requests, reset the connection right after
    the 200 answer had arrived and sent the call again (a packet capture showed it). For a create
    that second attempt ran again and failed ("EntityAlreadyExists", "RouteAlreadyExists"), so a
    team failed. A retry of a call that was answered with success gets that answer again, as an
    idempotency token would give it; a retry after an error runs again as usual.
    """
    lock = threading.Lock()
    answered: OrderedDict[str, tuple[str, list[tuple[str, str]], list[bytes]]] = OrderedDict()

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        attempt = _ATTEMPT.match(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
        retried = invocation is not None and attempt is not None and int(attempt.group(1)) > 1
        with lock:
            if retried and invocation in answered:
                status, headers, body = answered[invocation]
                _log.info("attempt %s of an answered call (%s, invocation %s) gets the same answer: %s",
                          attempt.group(1), _call_of(environ), invocation, status)  # type: ignore[union-attr]
                start_response(status, headers)
                return body
            seen: list[Any] = []

            def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                seen[:] = [status, headers]
                return start_response(status, headers, exc_info)

            body = list(app(environ, remember))
            if invocation is not None and seen and seen[0].startswith("2") and sum(map(len, body)) <= REPLAY_MAX_BYTES:
                answered[invocation] = (seen[0], list(seen[1]), body)
                if len(answered) > keep:
                    answered.popitem(last=False)
            return body

    return wsgi


class Emulator:
    """moto's ThreadedMotoServer with labctl's compatibility layer, in this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise EmulatorError(f"the embedded emulator listens on loopback only, not {host!r}")
        self._host = host
        self._port = port
        self._server = None
        self.boot_id = uuid.uuid4().hex
        self.url = ""

    def start(self) -> EmulatorInfo:
        # moto here, not at the top: only a command that starts the emulator pays for importing it.
        from moto.server import ThreadedMotoServer

        compat.apply()
        # werkzeug logs every request; the emulator's callers show their own progress.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        wsgi = self._server._server  # werkzeug's server, made by start()
        wsgi.app = one_at_a_time(wsgi.app)
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # moto keeps its state in process-wide globals: a new emulator starts empty, and its
        # backends are re-created with the compat settings (managed IAM policies) in force.
        reset = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=30).read()  # noqa: S310 - loopback
        return EmulatorInfo(url=self.url, boot_id=self.boot_id, pid=os.getpid())

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PROBE_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, "
               "SignedHeaders=host, Signature=0")


def _probe(url: str, timeout: float = 15.0) -> bool:
    """A cheap STS GetCallerIdentity; generous timeout because a busy emulator answers slowly."""
    req = urllib.request.Request(  # noqa: S310 - loopback only
        url + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15", method="POST",
        headers={"Authorization": _PROBE_AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return resp.status == 200 and b"GetCallerIdentityResponse" in resp.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False


def read_info(state_dir: Path) -> EmulatorInfo | None:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        return EmulatorInfo(url=data["url"], boot_id=data["boot_id"], pid=data.get("pid"))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def running(state_dir: Path) -> EmulatorInfo | None:
    """The background emulator recorded in the state dir, if it is alive and answering."""
    info = read_info(state_dir)
    if info is None:
        return None
    if info.pid is not None and not _pid_alive(info.pid):
        return None
    return info if _probe(info.url) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_background(state_dir: Path, port: int = 0, wait_s: float = 60.0) -> tuple[EmulatorInfo, bool]:
    """Start the background emulator unless one is running; returns (info, started_now)."""
    current = running(state_dir)
    if current is not None:
        return current, False
    state_dir.mkdir(parents=True, exist_ok=True)
    info_path = state_dir / STATE_FILE
    info_path.unlink(missing_ok=True)
    log = open(state_dir / "emulator.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no user input
        [sys.executable, "-m", "labctl.aws.emulator", "--port", str(port), "--info-file", str(info_path)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True,
    )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorError(f"the emulator exited with code {proc.returncode}; see {state_dir / 'emulator.log'}")
        info = read_info(state_dir)
        if info is not None and _probe(info.url):
            return info, True
        time.sleep(0.2)
    proc.kill()
    raise EmulatorError(f"the emulator did not answer within {wait_s:.0f}s; see {state_dir / 'emulator.log'}")


def stop_background(state_dir: Path) -> bool:
    info = read_info(state_dir)
    if info is None or info.pid is None or not _pid_alive(info.pid):
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        return False
    os.kill(info.pid, signal.SIGTERM)
    for _ in range(50):
        if not _pid_alive(info.pid):
            break
        time.sleep(0.1)
    else:
        os.kill(info.pid, signal.SIGKILL)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return True


def _serve(port: int, info_file: Path) -> None:
    # The background emulator's stderr is emulator.log: one line per replayed answer goes there.
    # In-process (`labctl demo`) the lines stay quiet (INFO) so they do not break the progress display.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="emulator: %(message)s")
    emu = Emulator(port=port)
    info = emu.start()
    tmp = info_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info)))
    tmp.replace(info_file)
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    while not stop:
        time.sleep(0.5)
    emu.stop()


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="labctl's embedded AWS emulator (moto server on 127.0.0.1)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--info-file", type=Path, required=True)
    a = p.parse_args()
    _serve(a.port, a.info_file)
