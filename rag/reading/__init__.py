"""Hits -> a Reading: the Reader seam and the trained linear reader."""

from rag.reading.base import Candidate, Reader, Reading
from rag.reading.linear import LinearReader, ReaderModel

__all__ = [
    "Candidate",
    "LinearReader",
    "Reader",
    "ReaderModel",
    "Reading",
]
