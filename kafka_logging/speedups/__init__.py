"""The compiled hot paths (Rust, built by setuptools-rust at `pip install` when cargo is
there) and the switch between them and their pure-Python twins.

Every compiled function has a pure-Python twin giving the same objects and bytes (proven by
the property tests in tests/unit/speedups); the twins live next to their callers
(`shipper.reader`, `shipper.records`). Which path runs is decided once, at import:

- `KAFKA_LOGGING_PURE=1` (any value but "" and "0"): the pure-Python path;
- else the compiled module `kafka_logging.speedups._native` if it was built (from these
  sources: a stale build is ignored);
- else (an install without a Rust toolchain) the pure-Python path.

`IMPLEMENTATION` ("rust" or "python") and `REASON` say which and why; the handler's
`stats()`, the shipper's metrics and `kafka-logging --version` report them.
"""

from __future__ import annotations

import os
from types import ModuleType

ENV_PURE = "KAFKA_LOGGING_PURE"
# The interface this Python code calls (src/lib.rs INTERFACE): a module built from older
# sources (left in a checkout that was not rebuilt) is not used.
INTERFACE = 2


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get(ENV_PURE, "") not in ("", "0"):
        return None, f"{ENV_PURE}={os.environ[ENV_PURE]}"
    try:
        from kafka_logging.speedups import _native  # noqa: PLC0415 - optional by design
    except ImportError as exc:
        return None, f"compiled module not built ({exc})"
    built = getattr(_native, "INTERFACE", 1)
    if built != INTERFACE:
        return None, f"compiled module is stale (interface {built}, want {INTERFACE}: reinstall)"
    return _native, "compiled module loaded"


native, REASON = _load()
IMPLEMENTATION = "rust" if native is not None else "python"


def describe() -> str:
    """One line for `--version` and logs: which path runs and why."""
    return f"speedups: {IMPLEMENTATION} ({REASON})"
