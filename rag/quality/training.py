"""SQuAD 1.1 training paragraphs -> a ReaderModel: `rag train` (index, read, fit)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.quality.examples import collect, write_corpus
from rag.quality.fitting import fit_reader
from rag.reading.linear import ReaderModel


def train_reader(
    train_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[ReaderModel, dict[str, float]]:
    """Index the training paragraphs, read every question, and fit a ReaderModel."""
    examples = write_corpus(train_dir, work_dir / "corpus")
    settings = Settings(source_dirs=(work_dir / "corpus",), index_dir=work_dir / "index")
    build_index(settings, embedder, progress)
    data = collect(examples, settings, embedder, progress)
    provenance = f"rag train {train_dir.name}: {len(examples)} questions, 5-fold by article"
    return fit_reader(data, provenance)
