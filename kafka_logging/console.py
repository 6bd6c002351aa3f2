"""The `kafka-logging` console script's front door.

`pip install kafka-logging` installs the logging handler only (what an app needs); the
daemons and the command line tools need the `server` extra. Without it this says so in one
line and exits 1, instead of a traceback about a missing module.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

DISTRIBUTION = "kafka-logging"
EXTRA = "server"
HINT = f"pip install '{DISTRIBUTION}[{EXTRA}]'"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def missing_requirements(extra: str = EXTRA) -> list[str]:
    """Distributions that `extra` requires and that are not installed (by the installed
    package's own metadata, so it follows setup.cfg); empty when the metadata is absent
    (running from a source tree)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    missing = []
    for requirement in requires:
        marker = _EXTRA_MARKER.search(requirement)
        name = _NAME.match(requirement)
        if marker is None or marker.group(1) != extra or name is None:
            continue
        try:
            metadata.distribution(name.group(0))
        except metadata.PackageNotFoundError:
            missing.append(name.group(0))
    return missing


def _refuse(missing: str) -> None:
    sys.stderr.write(
        f"kafka-logging: the command line tools and daemons need the {EXTRA} extra "
        f"(missing: {missing}); install it with: {HINT}\n"
    )
    raise SystemExit(1)


def main() -> None:
    missing = missing_requirements()
    if missing:
        _refuse(", ".join(missing))
    try:
        from kafka_logging.cli import main as cli  # noqa: PLC0415 - only once they are there
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in ("kafka_logging", "shipper", "indexer"):
            raise  # our own module missing is a bug to see, not a missing extra
        _refuse(exc.name or str(exc))
    cli()
