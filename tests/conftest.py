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
