"""The error tree, translated at the edges (CLI exit codes, HTTP status codes).

RagError
 ├── ModelMissing      the packaged embedding model is not installed
 ├── IndexMissing      no built index where one was expected
 ├── IndexMismatch     the index was built with another model, dim or format
 ├── IndexCorrupt      an index file fails its checksum or cannot be read
 ├── BuildInProgress   another rebuild holds the lock
 └── SourceError       a source folder or upload cannot be used

Each class carries `public`: what a client may be told. The message itself stays in the
server's log and the CLI, since it can name paths.
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error this library raises on purpose."""

    public = "the index cannot be used now"


class ModelMissing(RagError):
    """The embedding model's package is not installed."""

    public = "the embedding model is not installed"


class IndexMissing(RagError):
    """No index has been built yet."""

    public = "no index is ready yet: start a build with POST /index"


class IndexMismatch(RagError):
    """The index on disk does not fit the embedder or this version."""

    public = "the index was built with another model or format: rebuild it"


class IndexCorrupt(RagError):
    """An index file is damaged, truncated or missing."""

    public = "the index is damaged: rebuild it"


class BuildInProgress(RagError):
    """Another rebuild is running."""

    public = "a rebuild is already running"


class SourceError(RagError):
    """A source folder or file cannot be used."""

    public = "a source folder is missing or unreadable"
