"""Fixtures of the indexer's integration tests (defined in indexer_support, a unique module
name: several test folders have a conftest.py)."""

from indexer_support import run_indexer, setup, spawn_indexer

__all__ = ["run_indexer", "setup", "spawn_indexer"]
