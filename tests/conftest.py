"""Shared fixtures. Markers (pyproject) say what a test needs; a skip always says why."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.fixture
def cli_runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def run_cli(cli_runner, tmp_path):
    """Invoke labctl in-process with its own state dir; returns the click Result."""
    from labctl.cli.main import _register, cli

    _register()

    def _run(*args: str, state_dir=None):
        sd = state_dir or (tmp_path / "state")
        return cli_runner.invoke(cli, ["--state-dir", str(sd), *args], catch_exceptions=False)

    return _run


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite golden files from the current output instead of comparing.")


@pytest.fixture
def golden(request):
    """golden(path, text): compare text with the golden file, or rewrite it with --update-golden."""
    update = request.config.getoption("--update-golden")

    def _check(path, text: str) -> None:
        if update or not path.exists():
            if not update:
                pytest.fail(f"golden file {path} is missing; run pytest --update-golden to create it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        assert text == path.read_text(), f"{path} differs; if the change is intended, run pytest --update-golden"

    return _check
