"""`pip install kafka-logging` into an app's venv: the handler alone, beside the clients and
frameworks the app already pins, shipping to the real broker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from handler_helpers import consume

ROOT = Path(__file__).resolve().parents[3]
SHIP = """
import logging, sys
from kafka_logging import KafkaHandler
handler = KafkaHandler(sys.argv[1], sys.argv[2], service_name="light")
logging.basicConfig(level=logging.INFO, handlers=[handler])
for i in range(50):
    logging.getLogger("app").info("%s-%d", sys.argv[3], i)
assert handler.flush(30), handler.stats()
"""
SERVER_ONLY = ("yaml", "prometheus_client")


# No cargo on PATH: the install skips the optional compiled hot paths (kafka_logging/speedups,
# their own install test is tests/integration/speedups), which would cost a minute of CI here.
NO_CARGO = os.pathsep.join(
    p for p in os.environ.get("PATH", "").split(os.pathsep) if not (Path(p) / "cargo").exists()
)


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env["PATH"] = NO_CARGO
    args = [str(a) for a in argv]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)


def pip_install(python: Path, *what: str | Path) -> None:
    """This interpreter's pip installing into the venv of `python` (`pip --python`: the venv
    needs no pip of its own, which makes it in a second)."""
    done = run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile", *what
    )
    assert done.returncode == 0, done.stderr


def source_tree(to: Path) -> None:
    """The project as a fresh clone has it (no .venv, no build output)."""
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, to / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "*.so")
    for package in ("kafka_logging", "shipper", "indexer"):
        shutil.copytree(ROOT / package, to / package, ignore=skip)


@pytest.mark.timeout(600)
def test_light_install_beside_elasticsearch_8_flask_and_click_7(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    """A fresh venv that first installs elasticsearch<9 and Flask, then kafka-logging with no
    extras: it resolves without touching them, installs nothing of the server extra, and the
    handler ships records; with click 7 too. The console script names the extra in one line."""
    venv, src = tmp_path / "venv", tmp_path / "src"
    src.mkdir()
    source_tree(src)
    assert run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python = venv / "bin" / "python"

    pip_install(python, "elasticsearch<9", "flask")
    pip_install(python, src)

    probe = run(python, "-c", (
        "import importlib.metadata as m, importlib.util as u; "
        "print(m.version('elasticsearch'), *[u.find_spec(n) is None for n in "
        f"{SERVER_ONLY!r}])"
    ))  # fmt: skip
    version, *absent = probe.stdout.split()
    assert version.startswith("8."), probe.stdout + probe.stderr  # the app's client, untouched
    assert absent == ["True", "True"], f"{SERVER_ONLY} installed: {probe.stdout}"

    shipped = run(python, "-c", SHIP, kafka_bootstrap, topic, "flask-es8")
    assert shipped.returncode == 0, shipped.stderr

    cli = run(venv / "bin" / "kafka-logging", "--help")
    assert cli.returncode == 1
    assert cli.stderr.count("\n") == 1, cli.stderr
    assert "pip install 'kafka-logging[server]'" in cli.stderr
    assert "Traceback" not in cli.stderr

    pip_install(python, "click<8")
    shipped = run(python, "-c", SHIP, kafka_bootstrap, topic, "click7")
    assert shipped.returncode == 0, shipped.stderr

    got = sorted(c.record["message"] for c in consume(kafka_bootstrap, topic, 100))
    assert got == sorted(f"{p}-{i}" for p in ("flask-es8", "click7") for i in range(50))
