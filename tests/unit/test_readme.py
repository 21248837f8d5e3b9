"""The README's examples are tests: the cohort file it shows validates."""

import re
from pathlib import Path

from labctl.ops.validate import validate_cohort

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_cohort_example_validates(tmp_path):
    block = re.search(r"## The cohort file\n\n```yaml\n(.*?)```", README.read_text(), re.S)
    assert block, "README lost its cohort example"
    spec = tmp_path / "cohort.yaml"
    spec.write_text(block.group(1))
    assert [t.name for t in validate_cohort(spec).teams] == ["team-a", "team-b"]


def test_readme_quickstart_has_exactly_the_two_commands_ci_uses():
    text = README.read_text()
    quick = re.search(r"## Quickstart.*?```sh\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in quick.splitlines() if line.strip()]
    assert commands == ["./dev demo", "./dev test"]
    assert "./dev test" in (README.parent / ".ci" / "run").read_text()
