"""One error tree for labctl and the exit codes the CLI returns (documented in the README).

Every error labctl raises on purpose is defined here, with the exit code that says what kind of
problem it is; adapters and use cases import them from here (and a few re-export them under the
names their callers know, e.g. ``labctl.k8s.interface.NotFound``).

A ``LabctlError`` is something the user can act on: the CLI prints its message as one line
(or one line per problem for ``SpecError``) and exits with its code; a traceback is shown
only with ``--debug``. Anything else escaping a command is a bug and exits with INTERNAL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1          # a bug: unexpected exception (traceback with --debug)
    USAGE = 2             # click usage error (unknown option, missing argument)
    INVALID_SPEC = 3      # cohort or lab file rejected; nothing was touched
    TERRAFORM = 4         # terraform failed for at least one team (others may have finished)
    EMULATOR = 5          # embedded emulator missing, unreachable or out of step with state
    LEFTOVERS = 6         # teardown finished but resources are still present
    NOT_FOUND = 7         # no such cohort / team / state in the state directory
    ENVIRONMENT = 8       # a prerequisite is missing (terraform binary, credentials, ...)
    REFUSED = 9           # the cohort's state forbids it: torn down (re-provision on purpose), or busy with --no-wait
    CLUSTER = 10          # a Kubernetes cluster (EKS or kind) could not be reached or refused a request
    CANCELLED = 130       # interrupted by the user (Ctrl-C)


class LabctlError(Exception):
    """An error the user can act on; ``str(err)`` is the one line we print."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One validation problem, located as precisely as we can."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SpecError(LabctlError):
    exit_code = ExitCode.INVALID_SPEC

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class TerraformError(LabctlError):
    exit_code = ExitCode.TERRAFORM


class EmulatorError(LabctlError):
    exit_code = ExitCode.EMULATOR


class LeftoversError(LabctlError):
    exit_code = ExitCode.LEFTOVERS


class NotFoundError(LabctlError):
    exit_code = ExitCode.NOT_FOUND


class EnvironmentProblem(LabctlError):
    exit_code = ExitCode.ENVIRONMENT


class RefusedError(LabctlError):
    """The command would act on a cohort in a state that forbids it: one torn down (acting on it
    again would re-provision GPUs by accident), or one another command holds with --no-wait."""

    exit_code = ExitCode.REFUSED


class StateUnreadable(LabctlError):
    """A Terraform state file exists but is not one (cut off by a full disk or a killed writer,
    emptied): teardown sets it aside and sweeps; anything that would build on it is refused."""

    exit_code = ExitCode.REFUSED

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: unreadable Terraform state ({reason}); `labctl down` sets it aside and "
                         "sweeps what it described by tag")
        self.path = path
        self.reason = reason


class UsageError(LabctlError):
    """A command used in a way it refuses, beyond what click checks (exit 2)."""

    exit_code = ExitCode.USAGE


class FileExists(UsageError):
    """`init` onto an existing file without --force: nothing written."""


# --------------------------------------------------------------------- bad input (exit 3)

class UnknownLab(LabctlError):
    """--lab names no lab; the message lists the labs there are."""

    exit_code = ExitCode.INVALID_SPEC


class RenderError(LabctlError):
    """A template or a value that cannot be rendered into a valid manifest (it came from the
    cohort or lab file)."""

    exit_code = ExitCode.INVALID_SPEC


class WorkloadSettingError(LabctlError):
    """A workload setting (from a lab or cohort file) that the contract rejects."""

    exit_code = ExitCode.INVALID_SPEC


class CatalogError(LabctlError):
    """A catalog file is malformed; the message names the file, line and column."""

    exit_code = ExitCode.INVALID_SPEC


# ------------------------------------------------------------- the outside world (exit 8, 10)

class PreflightFailed(EnvironmentProblem):
    """At least one preflight check failed (details printed above)."""


class PricingError(EnvironmentProblem):
    """A live price API answered something that cannot be used as a price."""


class CapacityError(EnvironmentProblem):
    """The market has no capacity for this type now (InsufficientInstanceCapacity)."""


_MESSAGE_MAX = 240


class AwsError(EnvironmentProblem):
    """An AWS API call failed. ``code`` is AWS's error code (or a connection problem)."""

    def __init__(self, service: str, operation: str, code: str, message: str) -> None:
        self.service = service
        self.operation = operation
        self.code = code
        short = message if len(message) <= _MESSAGE_MAX else message[: _MESSAGE_MAX - 3] + "..."
        super().__init__(f"{service} {operation}: {code}: {short}" if short else f"{service} {operation}: {code}")


class AccountsFailed(EnvironmentProblem):
    """A team's account could not be found or made (labctl.ops.team_accounts); ``partial`` holds
    what was (recorded, so a rerun reuses it)."""

    def __init__(self, message: str, partial: Any) -> None:
        super().__init__(message)
        self.partial = partial


class AccountCreationFailed(AwsError):
    """Organizations' CreateAccount request ended FAILED (e.g. EMAIL_ALREADY_EXISTS, ACCOUNT_LIMIT_EXCEEDED)."""


class AwsNotFound(AwsError):
    """The resource does not exist (any more): for a deletion, that is success."""


class AwsConflict(AwsError):
    """Something still depends on the resource, or it is busy (DependencyViolation, ResourceInUse)."""


class AwsAccessDenied(AwsError):
    """The credentials may not do this (or are missing / expired)."""


class AwsThrottled(AwsError):
    """Rate limited after the AWS SDK's own retries."""


class AwsUnavailable(AwsError):
    """The endpoint could not be reached."""


class EmulatorUnavailable(AwsUnavailable, EmulatorError):
    """The embedded emulator's endpoint could not be reached (exit 5, not 8: restart the emulator)."""

    exit_code = ExitCode.EMULATOR


class ClusterError(LabctlError):
    """The cluster refused or failed a request; the message carries a truncated body only. Not a
    bug in labctl: an unreachable cluster is exit 10, not 1."""

    exit_code = ExitCode.CLUSTER


class ClusterNotFound(ClusterError):
    pass


class ClusterConflict(ClusterError):
    """Server-side apply found fields owned by another manager (re-apply with force=True)."""


class ClusterUnreachable(ClusterError):
    pass


# ------------------------------------------------------------------ stopped (exit 130)

class Interrupted(LabctlError):
    """The command was stopped by SIGINT or SIGTERM (labctl.ops.interrupt); the message says how
    to resume."""

    exit_code = ExitCode.CANCELLED


class Cancelled(Interrupted):
    """A terraform run was not started because the command is being interrupted (labctl.tf.runner)."""
