"""The Terraform CLI configuration labctl writes and always points TF_CLI_CONFIG_FILE at.

Where a provider mirror is configured (setting, $LABCTL_TF_MIRROR, or an auto-detected
``tf-plugins`` directory), init installs hashicorp/* providers from it and never goes online;
elsewhere init downloads as usual. TF_PLUGIN_CACHE_DIR is deliberately not used: parallel inits
race on it, and the unpacked mirror is already shared by symlink.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MIRROR_ENV = "LABCTL_TF_MIRROR"
# Places these lab machines carry an unpacked provider mirror.
_CANDIDATES = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins", "~/.terraform.d/plugins")


def detect_mirror(explicit: str | Path | None = None, environ: dict[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    # Absolute: the CLI config that names the mirror is read by terraform in each team's directory.
    if explicit:
        return Path(explicit).expanduser().absolute()
    if env.get(MIRROR_ENV):
        value = env[MIRROR_ENV]
        return None if value in ("", "none", "off") else Path(value).expanduser().absolute()
    for cand in _CANDIDATES:
        p = Path(cand).expanduser()
        if (p / "registry.terraform.io" / "hashicorp").is_dir():
            return p
    return None


def render_cli_config(mirror: Path | None) -> str:
    if mirror is None:
        return "# written by labctl: no provider mirror configured, providers download as usual\n"
    # json.dumps gives a correctly quoted and escaped HCL string for the path.
    path = json.dumps(str(mirror))
    return (
        "# written by labctl: install hashicorp/* providers from the local mirror only\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {path}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )


def write_cli_config(dest: Path, mirror: Path | None) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = render_cli_config(mirror)
    if not dest.exists() or dest.read_text() != text:
        tmp = dest.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(dest)
    return dest
