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
