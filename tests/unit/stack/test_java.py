"""Finding a JDK for each service."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_logging.stack import java
from kafka_logging.stack.errors import StackError


def _fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


@pytest.mark.parametrize(
    ("version", "major"), [("17.0.15", 17), ("1.8.0_392", 8), ("25", 25), ("21-ea", 21)]
)
def test_java_major_reads_old_and_new_version_schemes(version: str, major: int) -> None:
    """Both '1.8.0' and '17.0.1' styles give the major version."""
    assert java.java_major(version) == major


def test_read_jdk_rejects_a_folder_without_release_file(tmp_path: Path) -> None:
    """A folder that only looks like a JDK is not one."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").write_text("")
    assert java.read_jdk(tmp_path) is None


def test_java_home_wins_when_new_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JAVA_HOME is honoured when it satisfies the minimum."""
    home = _fake_jdk(tmp_path, "mine", "22.0.1")
    monkeypatch.setattr(java, "_candidates", lambda: [("JAVA_HOME", home)])
    assert java.find_jdk(21, "Elasticsearch").home == home.resolve()


def test_oldest_sufficient_jdk_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Among system JDKs, the oldest that satisfies the minimum is used."""
    jdks = [_fake_jdk(tmp_path, n, v) for n, v in [("a", "25.0.1"), ("b", "17.0.2"), ("c", "11")]]
    monkeypatch.setattr(java, "_candidates", lambda: [("/usr/lib/jvm", p) for p in jdks])
    assert java.find_jdk(17, "Kafka").version == "17.0.2"


def test_missing_jdk_error_names_what_was_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a new enough JDK the error says what is needed and what exists."""
    old = _fake_jdk(tmp_path, "old", "17.0.2")
    monkeypatch.setattr(java, "_candidates", lambda: [("/usr/lib/jvm", old)])
    with pytest.raises(StackError, match=r"needs Java 21 or newer.*17\.0\.2"):
        java.find_jdk(21, "Elasticsearch 9.2.0")
