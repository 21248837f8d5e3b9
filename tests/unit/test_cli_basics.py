from labctl.errors import ExitCode


def test_version_prints_package_version(run_cli):
    from labctl import __version__

    result = run_cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_a_usage_error(run_cli):
    result = run_cli("no-such-command")
    assert result.exit_code == ExitCode.USAGE
