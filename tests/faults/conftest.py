"""Fixtures of the fault tests (tests/faults/world.py defines them)."""

from tests.faults.world import sources, world

__all__ = ["sources", "world"]
