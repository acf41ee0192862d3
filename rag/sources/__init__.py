"""Source folders -> SourceFile -> Source: find, check and read files, keeping provenance."""

from rag.sources.digests import FileDigests
from rag.sources.extract import load_source, load_sources
from rag.sources.scan import SUPPORTED, scan_sources, supported

__all__ = [
    "SUPPORTED",
    "FileDigests",
    "load_source",
    "load_sources",
    "scan_sources",
    "supported",
]
