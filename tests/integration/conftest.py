"""Fixtures for tests that run the real terraform CLI and aws provider against the emulator."""

from __future__ import annotations

import shutil

import pytest

from labctl.tf.config import detect_mirror


def terraform_or_skip() -> str:
    tf = shutil.which("terraform") or shutil.which("tofu")
    if tf is None:
        pytest.skip("terraform is not on PATH: the real-terraform tests need it (README: prerequisites)")
    return tf


def mirror_or_skip():
    mirror = detect_mirror()
    if mirror is None:
        pytest.skip("no provider mirror (tf-plugins or $LABCTL_TF_MIRROR) and no registry access: "
                    "terraform init cannot install hashicorp/aws offline")
    return mirror
