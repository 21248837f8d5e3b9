"""A team root's remote state: the generated backend file, the team's workspace, and the read copy.

With a cohort's state in S3 (``state: {backend: s3}``), each team root gets ``backend.tf.json``
(Terraform JSON syntax, written here from validated values only: a bucket name derived from the
account id and the cohort id, a region that passed the cohort file's pattern). Every team of a
cohort has the same backend configuration and is its own workspace (``TF_WORKSPACE=<team>``), so
the cohort's one shared ``terraform init`` (labctl.ops.common.RunContext.data_dir) serves every
team, and team T's state is ``teams/T/terraform.tfstate`` in the bucket.

Terraform ignores a ``terraform.tfstate`` file in the working directory once a remote backend is
configured, so labctl keeps one there as a read copy of the remote state ("the mirror"): every
reader of a team's state (status, plan's estimate, teardown accounting) goes on reading that file,
and the runner refreshes it (``terraform state pull``) after every command that writes the state.
``init`` runs with ``-reconfigure`` so the mirror is never offered to Terraform as state to migrate.

What the emulator needs, verified against moto 5.2.1 with terraform 1.11.4: nothing beyond the
environment labctl already gives terraform (``AWS_ENDPOINT_URL``, fake credentials): the backend
reads the endpoint from it, answers STS against the emulator, and uses path-style addressing for
an IP endpoint by itself, so no ``endpoints``, ``use_path_style`` or ``skip_*`` argument is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BACKEND_FILE = "backend.tf.json"
MIRROR_FILE = "terraform.tfstate"


def s3_backend(bucket: str, region: str, key: str, workspace_key_prefix: str) -> dict[str, Any]:
    """The ``backend.tf.json`` document for a team root whose state lives in ``bucket``."""
    return {"terraform": {"backend": {"s3": {
        "bucket": bucket,
        "key": key,
        "workspace_key_prefix": workspace_key_prefix,
        "region": region,
        "encrypt": True,
        # Terraform's S3-native lock (>= 1.10): <key>.tflock written with If-None-Match.
        "use_lockfile": True,
    }}}}


def write_backend(team_dir: Path, doc: dict[str, Any] | None) -> bool:
    """Write (or, with None, remove) the team root's backend file; True when it changed."""
    path = team_dir / BACKEND_FILE
    if doc is None:
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    team_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


def is_remote(workdir: Path) -> bool:
    return (workdir / BACKEND_FILE).is_file()


WORKSPACE_ENV = "TF_WORKSPACE"


def workspace_env(team: str) -> dict[str, str]:
    """The environment that selects team ``team``'s workspace (created on first use by the S3 backend)."""
    return {WORKSPACE_ENV: team}


def without_workspace(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for ``terraform init``, which must select no workspace: init refuses one that does
    not exist yet ("Currently selected workspace ... does not exist", with input off) as soon as
    the bucket holds two (default and a first team's), while every other command creates its
    workspace at its first state write. So a team's first init after another team's state is in
    the bucket (a batch's second team, a team added later) would fail with it set."""
    return {k: v for k, v in env.items() if k != WORKSPACE_ENV}


# Commands after which the remote state may have changed, so the mirror is pulled again.
_WRITES = {("apply",), ("import",), ("state", "push"), ("state", "rm"), ("state", "mv"), ("state", "replace-provider")}


def writes_state(args: list[str]) -> bool:
    return tuple(args[:1]) in _WRITES or tuple(args[:2]) in _WRITES


def lock_info(diagnostic: str) -> dict[str, str]:
    """The "Lock Info:" fields (ID, Path, Operation, Who, Version, Created, Info) terraform prints
    when it cannot take a state lock; {} when the text has none."""
    out: dict[str, str] = {}
    seen = False
    for line in diagnostic.splitlines():
        line = line.strip(" │╷╵")
        if line.startswith("Lock Info:"):
            seen = True
            continue
        if seen and ":" in line:
            k, _, v = line.partition(":")
            if k.strip() in ("ID", "Path", "Operation", "Who", "Version", "Created", "Info"):
                out[k.strip()] = v.strip()
    return out
