"""The EC2 records validation reads are labctl's own copy (labctl/data/ec2), the same bytes as
the pinned moto ships, and the pure core never reaches into another package's files for them."""

from __future__ import annotations

import ast
import shutil
from importlib.util import find_spec
from pathlib import Path

from labctl.spec import offerings

PACKAGE = Path(__file__).resolve().parents[3] / "labctl"
PURE_CORE = ("spec", "render", "cost", "report")


def _moto_resources() -> Path:
    spec = find_spec("moto")
    assert spec is not None and spec.submodule_search_locations, "moto (a test dependency) is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "ec2" / "resources"


def _records(root: Path) -> list[Path]:
    return [Path("instance_types.json.gz"),
            *sorted(p.relative_to(root) for p in (root / "instance_type_offerings" / "region").glob("*.json.gz"))]


def test_the_shipped_records_are_the_ones_the_pinned_moto_ships(request):
    moto, ours = _moto_resources(), offerings.data_dir()
    if request.config.getoption("--update-golden"):
        shutil.rmtree(ours / "instance_type_offerings", ignore_errors=True)
        for rel in _records(moto):
            (ours / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(moto / rel, ours / rel)
    assert _records(ours) == _records(moto)
    changed = [str(rel) for rel in _records(moto) if (ours / rel).read_bytes() != (moto / rel).read_bytes()]
    assert not changed, (f"moto ships other EC2 records than labctl/data/ec2 ({', '.join(changed[:5])}); run "
                         "pytest tests/unit/spec/test_offerings_data.py --update-golden and update its README")


def test_validation_reads_them_from_labctl_data():
    assert offerings.data_dir() == PACKAGE / "data" / "ec2"
    assert "g6.xlarge" in offerings.offered_types("us-east-1")
    info = offerings.type_info("g5.xlarge")
    assert info is not None and (info.gpus, info.gpu_model) == (1, "A10G")


def find_spec_calls(package: Path = PACKAGE) -> list[str]:
    """``find_spec(...)`` calls in the pure core (the import contracts see imports, not this)."""
    found = []
    for sub in PURE_CORE:
        for path in sorted((package / sub).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "find_spec":
                    found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def test_the_pure_core_looks_up_no_package_to_read_its_files():
    assert find_spec_calls() == [], "ship the data under labctl/data, or read it in an adapter and pass it in"


def test_the_check_finds_a_lookup(tmp_path):
    (tmp_path / "labctl" / "spec").mkdir(parents=True)
    (tmp_path / "labctl" / "spec" / "x.py").write_text('import importlib.util\nimportlib.util.find_spec("moto")\n')
    assert find_spec_calls(tmp_path / "labctl") == ["labctl/spec/x.py:2"]

