from pathlib import Path

from labctl.tf import config


def test_mirror_config_installs_hashicorp_providers_from_the_mirror_only(tmp_path):
    text = config.render_cli_config(Path("/opt/my mirror"))
    assert 'path    = "/opt/my mirror"' in text
    assert 'include = ["registry.terraform.io/hashicorp/*"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in text


def test_no_mirror_means_plain_downloads():
    assert "provider_installation" not in config.render_cli_config(None)


def test_mirror_from_environment_overrides_detection(tmp_path):
    assert config.detect_mirror(environ={"LABCTL_TF_MIRROR": str(tmp_path)}) == tmp_path
    assert config.detect_mirror(environ={"LABCTL_TF_MIRROR": "none"}) is None
    assert config.detect_mirror(explicit=tmp_path, environ={"LABCTL_TF_MIRROR": "/x"}) == tmp_path


def test_path_with_quotes_is_escaped_not_spliced():
    text = config.render_cli_config(Path('/tmp/a"b'))
    assert 'path    = "/tmp/a\\"b"' in text


def test_write_is_idempotent(tmp_path):
    dest = tmp_path / "rc"
    config.write_cli_config(dest, None)
    mtime = dest.stat().st_mtime_ns
    config.write_cli_config(dest, None)
    assert dest.stat().st_mtime_ns == mtime
