"""The `kafka-logging` console script without the server extra: one line, no traceback."""

from __future__ import annotations

from importlib import metadata

import pytest

from kafka_logging import console

REQUIRES = [
    "confluent-kafka<3,>=2.6",
    'click<9,>=8.1; extra == "server"',
    'PyYAML<7,>=6; extra == "server"',
    'pytest>=8; extra == "dev"',
]


def test_missing_server_requirements_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With PyYAML absent the script exits 1 with one line naming what is missing and the
    pip command that installs it; requirements of other extras are not its business."""
    monkeypatch.setattr(metadata, "requires", lambda name: REQUIRES)

    def distribution(name: str) -> object:
        if name in ("PyYAML", "pytest"):
            raise metadata.PackageNotFoundError(name)
        return object()

    monkeypatch.setattr(metadata, "distribution", distribution)
    with pytest.raises(SystemExit) as stop:
        console.main()
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "(missing: PyYAML)" in err
    assert "pip install 'kafka-logging[server]'" in err


def test_nothing_missing_in_the_dev_environment() -> None:
    """The dev extra pulls in the server extra: the tests' own environment lacks nothing."""
    assert console.missing_requirements() == []
