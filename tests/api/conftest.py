"""Fixtures of the API tests (tests/api/fixtures.py defines them)."""

from tests.api.fixtures import client, embedder, settings

__all__ = ["client", "embedder", "settings"]
