"""The layer rules hold: the import-linter contracts in pyproject.toml (boto3 and botocore are
imported only in labctl.aws), and no AWS SDK client is made outside labctl.aws, which no import
contract can see (``target.client("eks")`` imports nothing)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "labctl"


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), f"{lint} is missing: install the test extra (pip install -e '.[test]', or ./dev test)"
    res = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"lint-imports found broken contracts:\n{res.stdout}\n{res.stderr}"
    assert "0 broken" in res.stdout


def sdk_clients_outside_aws(package: Path = PACKAGE) -> list[str]:
    """``<anything>.client("<service>")`` calls in labctl outside labctl/aws, as file:line."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        if rel.parts[:2] == ("labctl", "aws") or "_bundled" in rel.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.append(f"{rel}:{node.lineno}")
    return found


def test_no_aws_sdk_client_is_made_outside_labctl_aws():
    assert sdk_clients_outside_aws() == [], "call a typed function in labctl/aws instead of a raw client"


def test_the_client_check_finds_a_raw_client(tmp_path):
    pkg = tmp_path / "labctl"
    (pkg / "ops").mkdir(parents=True)
    (pkg / "aws").mkdir()
    (pkg / "ops" / "x.py").write_text('def f(target):\n    return target.client("eks").list_clusters()\n')
    (pkg / "aws" / "y.py").write_text('def g(target):\n    return target.client("eks")\n')
    assert sdk_clients_outside_aws(pkg) == ["labctl/ops/x.py:2"]


def import_loops() -> list[str]:
    """Pairs of labctl modules that reach each other through imports, lazy ones included (a lazy
    import hides a loop from Python, not from this)."""
    import grimp

    graph = grimp.build_graph("labctl", cache_dir=None)
    loops = []
    for a in sorted(m for m in graph.modules if m.startswith("labctl.")):
        for b in sorted(graph.find_modules_directly_imported_by(a)):
            if b.startswith("labctl.") and b != a and graph.find_shortest_chain(importer=b, imported=a):
                loops.append(f"{a} -> {b} -> ... -> {a}")
    return loops


def test_no_import_loops():
    assert import_loops() == [], "move what both sides need into a module below them both"


# Imports of labctl modules inside a function, outside labctl/cli (whose commands import their use
# case when they run, for start-up speed; see labctl.cli.main): each is here with why. None may
# exist to hide an import loop (test_no_import_loops counts them anyway); one that costs nothing
# belongs at the top of its module.
LAZY_LABCTL_IMPORTS = {
    "labctl/k8s/kind.py -> labctl.k8s.real": "the official Kubernetes client takes about half a second to import",
    "labctl/ops/collect.py -> labctl.k8s.real": "the same; a pass on the simulator, and status, do without it",
}


def lazy_labctl_imports(package: Path = PACKAGE) -> list[str]:
    """``file -> module`` for each labctl import made inside a function or under TYPE_CHECKING."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        if rel.startswith("labctl/cli/") or "_bundled" in rel:
            continue
        for top in ast.walk(ast.parse(path.read_text(), rel)):
            guarded = isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
            if not (guarded or isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef))):
                continue
            for node in ast.walk(top):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                found += [f"{rel} -> {n}" for n in names if n == "labctl" or n.startswith("labctl.")]
    return sorted(set(found))


def test_labctl_is_imported_inside_functions_only_where_listed_with_why():
    assert lazy_labctl_imports() == sorted(LAZY_LABCTL_IMPORTS), \
        "import it at the top of the module, or list it in LAZY_LABCTL_IMPORTS saying why it must wait"


def test_the_lazy_import_check_finds_one_in_a_function_and_under_type_checking(tmp_path):
    pkg = tmp_path / "labctl"
    (pkg / "ops").mkdir(parents=True)
    (pkg / "ops" / "x.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from labctl.render import docs\n"
                                      "def f():\n    from labctl.ops import y\n    import json\n")
    assert lazy_labctl_imports(pkg) == ["labctl/ops/x.py -> labctl.ops", "labctl/ops/x.py -> labctl.render"]
