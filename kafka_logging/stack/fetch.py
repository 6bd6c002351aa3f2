"""Downloading the services from Maven Central with `mvn`, once, into the cache directory."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from kafka_logging.stack.errors import StackError

if TYPE_CHECKING:
    from kafka_logging.stack.engines import Distribution

Progress = Callable[[str], None]

ES_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"


def stack_file(name: str) -> Path:
    """A file shipped in kafka_logging/stack/files (also reachable as deploy/local-stack/)."""
    return Path(str(resources.files("kafka_logging.stack") / "files" / name))


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (`mvn`) is not on PATH; the stack fetches Kafka and Elasticsearch from "
            "Maven Central with it. Install it with `apt-get install maven`."
        )
    return mvn


def _run_mvn(args: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(
        [_mvn(), "-B", "-q", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()[-20:]
        raise StackError(f"downloading {what} with mvn failed:\n" + "\n".join(output))


def ensure_kafka(cache_dir: Path, version: str, progress: Progress) -> Path:
    """The folder of jars making up the Kafka broker, downloaded on first use."""
    target = cache_dir / f"kafka-{version}" / "lib"
    if (target.parent / ".complete").is_file():
        return target
    progress(f"Fetching Apache Kafka {version} jars from Maven Central (first run only)...")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".kafka-") as tmp:
        work = Path(tmp)
        shutil.copy(stack_file("pom.xml"), work / "pom.xml")
        _run_mvn(
            [
                f"-Dkafka.version={version}",
                "dependency:copy-dependencies",
                "-DoutputDirectory=lib",
                "-DincludeScope=runtime",
            ],
            work,
            f"Kafka {version}",
        )
        jars = list((work / "lib").glob("*.jar"))
        if not any(j.name.startswith(f"kafka_2.13-{version}") for j in jars):
            raise StackError(f"mvn ran but kafka_2.13-{version}.jar is not among {len(jars)} jars")
        final = target.parent
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir(parents=True)
        (work / "lib").rename(target)
        (final / ".complete").write_text(f"{len(jars)} jars\n")
    progress(f"  {len(jars)} jars in {target}")
    return target


def ensure_elasticsearch_zip(cache_dir: Path, version: str, progress: Progress) -> Path:
    """The Elasticsearch distribution zip, downloaded on first use."""
    target = cache_dir / f"elasticsearch-{version}.zip"
    if target.is_file():
        return target
    progress(f"Fetching Elasticsearch {version} from Maven Central (first run only, ~100 MB)...")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".es-") as tmp:
        _run_mvn(
            [
                "dependency:copy",
                f"-Dartifact={ES_ARTIFACT.format(version=version)}",
                f"-DoutputDirectory={tmp}",
            ],
            Path(tmp),
            f"Elasticsearch {version}",
        )
        downloaded = Path(tmp) / f"elasticsearch-{version}.zip"
        if not downloaded.is_file():
            raise StackError(f"mvn ran but {downloaded.name} did not appear")
        downloaded.rename(target)
    progress(f"  {target} ({target.stat().st_size // 2**20} MiB)")
    return target


def ensure_engine_zip(cache_dir: Path, dist: Distribution, progress: Progress) -> Path:
    """The zip of a search engine distribution (stack/engines.py), downloaded on first use."""
    target = cache_dir / dist.zip_name
    if target.is_file():
        return target
    progress(f"Fetching {dist.title} from Maven Central (first run only, 50-110 MB)...")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".engine-") as tmp:
        _run_mvn(
            ["dependency:copy", f"-Dartifact={dist.artifact}", f"-DoutputDirectory={tmp}"],
            Path(tmp),
            dist.title,
        )
        downloaded = Path(tmp) / dist.zip_name
        if not downloaded.is_file():
            raise StackError(f"mvn ran but {downloaded.name} did not appear")
        downloaded.rename(target)
    progress(f"  {target} ({target.stat().st_size // 2**20} MiB)")
    return target


def unzip(archive: Path, into: Path) -> None:
    """Unpack with Debian's unzip, which keeps the executable bits Python's zipfile drops."""
    unzip_bin = shutil.which("unzip")
    if unzip_bin is None:
        raise StackError("`unzip` is not on PATH; install it with `apt-get install unzip`.")
    into.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [unzip_bin, "-q", "-o", str(archive), "-d", str(into)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StackError(f"unzipping {archive} failed: {proc.stderr.strip()}")
