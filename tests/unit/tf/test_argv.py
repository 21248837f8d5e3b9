"""terraform argv builders, as a table (they are pure)."""

from pathlib import Path

import pytest

from labctl.tf import argv as A

CASES = [
    ("init", A.init(), ["init", "-input=false", "-no-color", "-lock-timeout=120s"]),
    ("plan to file", A.plan(out=Path("tfplan")),
     ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", "-lock-timeout=120s", "-out=tfplan"]),
    ("plan destroy without refresh", A.plan(destroy=True, refresh=False),
     ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", "-lock-timeout=120s", "-destroy", "-refresh=false"]),
    ("apply auto-approve", A.apply(),
     ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=120s", "-auto-approve"]),
    ("apply first time skips refresh", A.apply(refresh=False, parallelism=20),
     ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=120s", "-auto-approve", "-refresh=false", "-parallelism=20"]),
    ("apply saved plan never auto-approves flags", A.apply(plan_file=Path("tfplan")),
     ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=120s", "tfplan"]),
    ("destroy", A.destroy(),
     ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=120s", "-auto-approve", "-destroy"]),
    ("destroy fallback without refresh", A.destroy(refresh=False),
     ["apply", "-input=false", "-no-color", "-json", "-lock-timeout=120s", "-auto-approve", "-destroy", "-refresh=false"]),
    ("show plan", A.show_json(Path("tfplan")), ["show", "-json", "-no-color", "tfplan"]),
    ("show state", A.show_json(), ["show", "-json", "-no-color"]),
    ("output", A.output_json(), ["output", "-json", "-no-color"]),
    ("validate", A.validate(), ["validate", "-json", "-no-color"]),
    ("fmt check", A.fmt_check(), ["fmt", "-check", "-recursive", "-list=true", "-no-color"]),
]


@pytest.mark.parametrize("name,got,want", CASES, ids=[c[0] for c in CASES])
def test_argv(name, got, want):
    assert got == want
