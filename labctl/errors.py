"""One error tree for labctl and the exit codes the CLI returns (documented in the README).

A ``LabctlError`` is something the user can act on: the CLI prints its message as one line
(or one line per problem for ``SpecError``) and exits with its code; a traceback is shown
only with ``--debug``. Anything else escaping a command is a bug and exits with INTERNAL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


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
