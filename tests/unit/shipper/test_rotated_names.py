"""Which sibling names are rotations of a live file (logrotate, kubelet, Docker)."""

from __future__ import annotations

import pytest

from shipper.discovery import rotation_of


@pytest.mark.parametrize(
    "name",
    [
        "app.log.1",
        "app.log.12.gz",
        "app.log-20261207",
        "app.log-2026120712.gz",
        "app-20261207.log",
        "app.log.20261207-120102",
        "app.log-2026120717.backup",
    ],
)
def test_rotated_names_of_app_log(name: str) -> None:
    """logrotate (numbered, dateext, extension, .backup), kubelet and Docker names match."""
    assert rotation_of(name, "app.log")


@pytest.mark.parametrize(
    "name", ["app.log", "app.log.bak", "app.logx.1", "other.log.1", "app.log.1x"]
)
def test_other_names_are_not_rotations(name: str) -> None:
    """The live file itself, other files and non-numeric suffixes are not rotations."""
    assert not rotation_of(name, "app.log")


def test_kubelet_container_log_rotations() -> None:
    """kubelet renames 0.log to 0.log.<YYYYMMDD-HHMMSS> and gzips it later."""
    assert rotation_of("0.log.20261207-120102", "0.log")
    assert rotation_of("0.log.20261207-120102.gz", "0.log")
