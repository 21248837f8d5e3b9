"""One team's Terraform run from its rendered root and credentials only: nothing else from the
facilitator's disk (no state directory, no cohort file, no meta.json).

This is what lets a team's run move off the facilitator's machine (a Kubernetes Job, a CodeBuild
build, a second laptop): the root (``labctl render`` or a cohort's ``teams/<team>/``, with its
``modules`` beside it) holds the configuration and, for a cohort with its state in S3, the backend
(``backend.tf.json``); the state and its lock are in S3; credentials come from the environment
(``AWS_*``, as terraform reads them, including ``AWS_ENDPOINT_URL`` for an emulator). The run's
``-json`` events go to ``events.jsonl`` in the root, as labctl's own runs do.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from labctl.errors import EnvironmentProblem, NotFoundError
from labctl.tf import argv as A
from labctl.tf import backend
from labctl.tf import config as tfconfig
from labctl.tf.runner import Terraform, find_terraform

Action = Literal["plan", "apply", "destroy"]
ACTIONS: tuple[Action, ...] = ("plan", "apply", "destroy")
# What a team's run may take from the environment: AWS credentials, region and endpoint. Nothing
# else of the caller's environment reaches terraform (the runner's allow-list does the rest).
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
            "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_EC2_METADATA_DISABLED")


@dataclass
class TeamRun:
    root: str
    action: str
    workspace: str | None
    status: str                      # no-changes | would-change | applied | destroyed | failed
    summary: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_team(root: Path, action: Action, workspace: str | None = None, environ: dict[str, str] | None = None,
             mirror: str | None = None) -> TeamRun:
    """init, then plan / apply / destroy one team's root. ``workspace`` (a remote-state root: the
    team's name) defaults to the root folder's name, which is the team's in labctl's layouts."""
    t0 = time.monotonic()
    root = root.absolute()
    if not (root / "main.tf").is_file() or not (root / "terraform.tfvars.json").is_file():
        raise NotFoundError(f"{root}: not a rendered team root (main.tf and terraform.tfvars.json); "
                            "write one with `labctl render COHORT --out DIR`")
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    src = os.environ if environ is None else environ
    env = {k: src[k] for k in _AWS_ENV if k in src}
    if not any(k in env for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")):
        raise EnvironmentProblem("no AWS credentials in the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                                 "AWS_PROFILE or a web identity): a team's run takes them from there")
    remote = backend.is_remote(root)
    if remote:
        workspace = workspace or root.name
        env.update(backend.workspace_env(workspace))
    else:
        workspace = None
    cli_config = root / ".labctl-terraformrc"
    tfconfig.write_cli_config(cli_config, tfconfig.detect_mirror(mirror, environ=dict(src)))
    tf = Terraform(workdir=root, cli_config=cli_config, env=env, binary=find_terraform(),
                   log_path=root / "events.jsonl", state_mirror=(root / backend.MIRROR_FILE) if remote else None)
    tf.init()
    if action == "plan":
        res = tf.run(A.plan())
        status = {0: "no-changes", 2: "would-change"}.get(res.returncode, "failed")
    else:
        res = tf.run(A.apply(destroy=action == "destroy"))
        status = ("destroyed" if action == "destroy" else "applied") if res.ok else "failed"
    return TeamRun(str(root), action, workspace, status, res.progress.summary,
                   [e.one_line() for e in res.progress.errors][:5] or ([] if status != "failed" else [res.stderr.strip()[-300:]]),
                   round(time.monotonic() - t0, 1))
