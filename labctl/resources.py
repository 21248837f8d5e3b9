"""Where the bundled terraform/, k8s/ and labs/ trees are.

In a checkout (or an editable install) they are the top-level folders of the repository; in an
installed wheel they are shipped inside the package as ``labctl/_bundled/`` (see pyproject).
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def bundled_root() -> Path:
    inside = _PKG / "_bundled"
    if (inside / "terraform").is_dir():
        return inside
    checkout = _PKG.parent
    if (checkout / "terraform" / "modules").is_dir():
        return checkout
    raise FileNotFoundError("labctl's terraform/, k8s/ and labs/ folders are missing from this installation")


def terraform_dir() -> Path:
    return bundled_root() / "terraform"


def k8s_dir() -> Path:
    return bundled_root() / "k8s"


def labs_dir() -> Path:
    return bundled_root() / "labs"


def package_data_dir() -> Path:
    """labctl/data: catalogs and other data owned by the Python package itself."""
    return _PKG / "data"
