"""Installed versions stay above the releases that fixed known advisories."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from packaging.version import Version

# package -> (first fixed release, the advisory it fixed)
FLOORS = {
    "gradio": ("5.31.0", "arbitrary file deletion through flagging, CVE-2025-48889"),
    "starlette": ("0.49.1", "Range header DoS in FileResponse, CVE-2025-62727"),
    "pypdf": ("6.14.2", "infinite loops on unterminated inline images, GHSA-g867-7843-wf8q"),
    "python-multipart": ("0.0.22", "path traversal in file uploads, CVE-2026-24486"),
}


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_installed_version_is_past_known_advisories(package: str) -> None:
    floor, advisory = FLOORS[package]
    assert Version(version(package)) >= Version(floor), f"{package} < {floor}: {advisory}"
