"""The error tree, translated at the edges (CLI exit codes, HTTP status codes).

RagError
 ├── ModelMissing      the packaged embedding model is not installed
 ├── IndexMissing      no built index where one was expected
 ├── IndexMismatch     the index was built with another model, dim or format
 ├── IndexCorrupt      an index file fails its checksum or cannot be read
 ├── BuildInProgress   another rebuild holds the lock
 └── SourceError       a source folder or upload cannot be used
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error this library raises on purpose."""


class ModelMissing(RagError):
    """The embedding model's package is not installed."""


class IndexMissing(RagError):
    """No index has been built yet."""


class IndexMismatch(RagError):
    """The index on disk does not fit the embedder or this version."""


class IndexCorrupt(RagError):
    """An index file is damaged, truncated or missing."""


class BuildInProgress(RagError):
    """Another rebuild is running."""


class SourceError(RagError):
    """A source folder or file cannot be used."""
