"""The test tree's own rules: pytest imports test modules by basename (rootdir mode)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parents[1]


def test_every_python_module_under_tests_has_a_unique_basename() -> None:
    """Two test files with one name make the whole collection fail; keep names unique."""
    names = Counter(
        p.name for p in TESTS.rglob("*.py") if p.name not in ("conftest.py", "__init__.py")
    )
    assert [name for name, count in names.items() if count > 1] == []
