"""An install without a Rust toolchain: pip builds kafka-logging with no cargo on PATH, the
install succeeds without the compiled module, and the pure-Python path runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "target", "build", "dist", "*.egg-info", "*.so", "__pycache__", ".*_cache"
)
CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import kafka_logging, kafka_logging.speedups as s
from shipper.reader import LineFramer
assert kafka_logging.__file__.startswith(sys.argv[1]), kafka_logging.__file__
assert LineFramer(0, 100).feed(b"a\\nb\\n", 0.0) == [(0, 2, "a", ()), (2, 4, "b", ())]
print(s.IMPLEMENTATION, s.REASON)
"""


def test_pip_install_without_cargo_falls_back_to_python(tmp_path: Path) -> None:
    """`pip wheel` + `pip install` with no cargo anywhere on PATH exit 0; the wheel has no
    compiled module; the installed package runs the pure-Python path and frames lines."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("kafka_logging", "shipper", "indexer"):
        shutil.copytree(ROOT / package, source / package, ignore=SKIP)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "cargo").exists()]
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO", "RUSTC", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(path)
    assert shutil.which("cargo", path=env["PATH"]) is None
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = wheels.glob("kafka_logging-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kafka_logging/speedups/__init__.py" in names
    assert not [n for n in names if n.endswith(".so")]
    target = tmp_path / "site"
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    run = subprocess.run(
        [sys.executable, "-c", CHECK, str(target)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert run.stdout.startswith("python compiled module not built"), run.stdout
