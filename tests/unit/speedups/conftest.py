"""The compiled module for the equality tests: they compare it with the pure-Python twins in
one process, whichever path KAFKA_LOGGING_PURE selects for the rest of the suite. Absent (an
install without cargo) they skip, except in CI (CI=true), where `make test` builds it."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def native() -> ModuleType:
    try:
        from kafka_logging.speedups import _native
    except ImportError as exc:
        message = f"kafka_logging.speedups._native is not built ({exc}): pip install with cargo"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return _native
