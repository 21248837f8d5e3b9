"""Every error labctl raises on purpose is defined in labctl/errors.py with its exit code, so the
README's exit-code table has one source; an exception class defined anywhere else is a private
signal its own module catches, or one of the few listed here with why it is not a user's error."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import labctl
from labctl.errors import ExitCode, LabctlError

PACKAGE = Path(labctl.__file__).parent

# Exception classes outside errors.py that never reach the user as themselves.
NOT_USER_ERRORS = {
    "labctl/meta.py:MetaUnreadable": "CohortState.meta catches it and rebuilds meta.json",
    "labctl/telemetry/prom.py:PromParseError": "the DCGM collector catches it (ValueError) and reports the pass unreadable",
    "labctl/aws/sweep.py:UnknownResourceType": "inventory listed a type sweep cannot delete: a bug in labctl (exit 1)",
}


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_labctl_error_is_defined_in_errors_py_with_a_code_that_is_not_a_bug():
    for mod in pkgutil.walk_packages([str(PACKAGE)], "labctl."):
        if "_bundled" not in mod.name and mod.name != "labctl.__main__":
            importlib.import_module(mod.name)
    elsewhere = sorted(f"{c.__module__}.{c.__qualname__}" for c in _subclasses(LabctlError) if c.__module__ != "labctl.errors")
    assert elsewhere == [], "define the error in labctl/errors.py (re-export it where callers know it)"
    bugs = sorted(c.__qualname__ for c in _subclasses(LabctlError) if c.exit_code == ExitCode.INTERNAL)
    assert bugs == [], "exit 1 means a bug in labctl: give the error the code of what went wrong"


def test_no_other_public_exception_class_is_defined_outside_errors_py():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel == "labctl/errors.py" or "_bundled" in rel:
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and any(
                    (b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "").endswith(("Error", "Exception"))
                    for b in node.bases):
                found.append(f"{rel}:{node.name}")
    assert sorted(set(found) - set(NOT_USER_ERRORS)) == [], "define it in labctl/errors.py"
