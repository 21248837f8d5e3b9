"""Pure builders of terraform argv, one per command (tested as tables)."""

from __future__ import annotations

from pathlib import Path

COMMON = ["-input=false", "-no-color"]


def init(upgrade: bool = False, reconfigure: bool = False) -> list[str]:
    argv = ["init", *COMMON, "-lock-timeout=120s"]
    if upgrade:
        argv.append("-upgrade")
    if reconfigure:     # a remote backend: never offer a local file to migrate (labctl/tf/backend.py)
        argv.append("-reconfigure")
    return argv


def plan(out: Path | None = None, destroy: bool = False, refresh: bool = True,
         parallelism: int | None = None) -> list[str]:
    argv = ["plan", *COMMON, "-json", "-detailed-exitcode", "-lock-timeout=120s"]
    if destroy:
        argv.append("-destroy")
    if not refresh:
        argv.append("-refresh=false")
    if parallelism:
        argv.append(f"-parallelism={parallelism}")
    if out is not None:
        argv.append(f"-out={out}")
    return argv


def apply(plan_file: Path | None = None, destroy: bool = False, refresh: bool = True,
          parallelism: int | None = None) -> list[str]:
    argv = ["apply", *COMMON, "-json", "-lock-timeout=120s"]
    if plan_file is None:
        argv.append("-auto-approve")
        if destroy:
            argv.append("-destroy")
        if not refresh:
            argv.append("-refresh=false")
    if parallelism:
        argv.append(f"-parallelism={parallelism}")
    if plan_file is not None:
        argv.append(str(plan_file))
    return argv


def destroy(refresh: bool = True, parallelism: int | None = None) -> list[str]:
    return apply(destroy=True, refresh=refresh, parallelism=parallelism)


def show_json(plan_file: Path | None = None) -> list[str]:
    argv = ["show", "-json", "-no-color"]
    if plan_file is not None:
        argv.append(str(plan_file))
    return argv


def output_json() -> list[str]:
    return ["output", "-json", "-no-color"]


def validate() -> list[str]:
    return ["validate", "-json", "-no-color"]


def fmt_check() -> list[str]:
    return ["fmt", "-check", "-recursive", "-list=true", "-no-color"]


def state_list() -> list[str]:
    return ["state", "list", "-no-color"]


def state_pull() -> list[str]:
    return ["state", "pull"]


def state_push(state_file: Path) -> list[str]:
    # No -force: terraform refuses a state of another lineage, or an older serial, over the remote one.
    return ["state", "push", "-lock-timeout=120s", str(state_file)]


def force_unlock(lock_id: str) -> list[str]:
    return ["force-unlock", "-force", "-no-color", lock_id]
