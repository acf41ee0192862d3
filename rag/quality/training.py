"""Training questions -> a ReaderModel: `rag train` (index, read, fit).

SQuAD 1.1 paragraphs teach single-document questions. Beside them, multihop-train/ (if the
training folder has it) teaches questions that two or more documents answer together: they
are read through the second hop with the reader fitted on SQuAD alone, then both are fitted
together, so that the refusal learns not to refuse what only a pair of documents answers.
With squad11-train/ beside them, the quote ratio is then set on questions of its articles
(rag/quality/quote_calibration.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import SourceError
from rag.quality.examples import collect, write_corpus
from rag.quality.fitting import fit_reader
from rag.quality.multihop_examples import collect_multihop
from rag.quality.quote_calibration import calibrate_quote_ratio
from rag.reading.linear import LinearReader, ReaderModel

MULTIHOP = "multihop-train"
HELD_OUT = "squad11-train"  # questions it never learns from: its quote ratio is set on them


def train_reader(
    train_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[ReaderModel, dict[str, float]]:
    """Index the training paragraphs, read every question, and fit a ReaderModel.

    Args:
        train_dir: a folder with paragraphs.jsonl (SQuAD 1.1), or one holding squad11/ and,
            optionally, multihop-train/ and squad11-train/ (../shared/train).
    """
    squad = train_dir / "squad11" if (train_dir / "squad11").is_dir() else train_dir
    if not (squad / "paragraphs.jsonl").is_file():
        raise SourceError(
            f"no training questions in {train_dir}: expected squad11/paragraphs.jsonl "
            "(as in ../shared/train) or paragraphs.jsonl"
        )
    examples = write_corpus(squad, work_dir / "corpus")
    settings = Settings(source_dirs=(work_dir / "corpus",), index_dir=work_dir / "index")
    build_index(settings, embedder, progress)
    data = collect(examples, settings, embedder, progress)
    provenance = f"rag train {squad.name}: {len(examples)} questions"
    multihop = train_dir / MULTIHOP
    if multihop.is_dir():
        first, _ = fit_reader(data, provenance)
        more = collect_multihop(multihop, work_dir, embedder, LinearReader(first), progress)
        data.extend(more)
        provenance += f" + {MULTIHOP}: {sum(more.answerable)} questions read through two hops"
    model, report = fit_reader(data, f"{provenance}, 5-fold by article or question")
    held_out = train_dir / HELD_OUT
    if held_out.is_dir():
        ratio, figures = calibrate_quote_ratio(
            LinearReader(model), held_out, work_dir, embedder, progress
        )
        model = replace(model, quote_ratio=ratio)
        report.update(figures)
    return model, report
