"""The cohort's `state:` section: local files by default, an S3 bucket per cohort on request.

Every bad value is one problem naming the cohort file, the line and the field (exit 3, nothing
touched), like every other field of the cohort file.
"""

from __future__ import annotations

import pytest

from tests.unit.spec.test_accounts import load, problems

BASE = """\
cohort: fall26
window:
  start: 2026-12-01T09:00:00Z
  duration: 4h
lab: gpu-baseline
teams:
  - name: team-a
"""


def test_without_the_section_state_stays_local(tmp_path):
    state = load(tmp_path, BASE).cohort.state
    assert (state.backend, state.keep, state.remote) == ("local", False, False)


def test_s3_with_keep_is_read(tmp_path):
    state = load(tmp_path, BASE + "state: {backend: s3, keep: true}\n").cohort.state
    assert (state.backend, state.keep, state.remote) == ("s3", True, True)


BAD = [
    ("an unknown backend", "state:\n  backend: gcs\n", "cohort.yaml:9: state.backend:"),
    ("a typo in a key", "state:\n  backend: s3\n  kep: true\n", "cohort.yaml:10: state.kep:"),
    ("keep without s3", "state:\n  keep: true\n", "cohort.yaml:8: state: state.keep is read only with `backend: s3`"),
    ("keep that is not a yes or no", "state:\n  backend: s3\n  keep: sometimes\n", "cohort.yaml:10: state.keep:"),
    ("a list instead of a mapping", "state: [s3]\n", "cohort.yaml:8: state:"),
]


@pytest.mark.parametrize("what,section,expected", BAD, ids=[b[0] for b in BAD])
def test_a_bad_state_section_is_one_problem_at_its_line(tmp_path, what, section, expected):
    found = problems(tmp_path, BASE + section)
    assert len(found) == 1, found
    assert found[0].startswith(str(tmp_path / expected)), found
