"""A span reader + held-out training questions -> its refusal threshold, read through the pipeline.

The questions (SQuAD 1.1 dev articles, none trained on) are indexed as a corpus and each is
read three ways, as `rag train` does for the linear reader: as asked (answerable), without its
own paragraph, and with one of its names swapped for another of its article (both not).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.build.assemble import Progress
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.generations import load_current
from rag.quality.examples import SEED, Example, swap_name, write_corpus
from rag.reading.base import Reader
from rag.reading.features import store_lexicon
from rag.retrieval.retriever import Retriever
from rag.text.followup import names

FALSE_REFUSAL_TARGET = 0.10  # share of answerable held-out questions we accept to refuse


def calibrate(
    reader: Reader,
    dev_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    questions: int = 600,
    progress: Progress | None = None,
) -> tuple[float, dict[str, float]]:
    """Return the threshold that refuses FALSE_REFUSAL_TARGET of the answerable questions,
    and what it does on them and on the unanswerable readings."""
    examples = write_corpus(dev_dir, work_dir / "corpus")
    settings = Settings(source_dirs=(work_dir / "corpus",), index_dir=work_dir / "index")
    build_index(settings, embedder, progress)
    chosen = random.Random(SEED).sample(examples, min(questions, len(examples)))
    scores, found = _read(reader, chosen, settings, embedder, progress)
    positive = np.asarray([s for s, y in scores if y])
    negative = np.asarray([s for s, y in scores if not y])
    threshold = float(np.quantile(positive, FALSE_REFUSAL_TARGET))
    return threshold, {
        "calibration_questions": float(len(positive)),
        "calibration_negatives": float(len(negative)),
        "top_sentence_holds_answer": float(np.mean(found)),
        "false_abstention": float(np.mean(positive < threshold)),
        "abstention_on_negatives": float(np.mean(negative < threshold)),
        "threshold": threshold,
    }


def _read(
    reader: Reader,
    examples: Sequence[Example],
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None,
) -> tuple[list[tuple[float, int]], list[bool]]:
    """Each reading's answerability with its label, and whether each answerable reading's
    best sentence holds the answer."""
    store = load_current(settings.index_dir, embedder)
    lexicon = store_lexicon(store)
    retriever = Retriever(store, embedder)
    rng = random.Random(SEED)
    pools: dict[str, set[str]] = {}
    for e in examples:
        pools.setdefault(e.group, set()).update(names(store.sources[e.doc].text))
    scores: list[tuple[float, int]] = []
    found: list[bool] = []
    k = settings.top_k
    for done, e in enumerate(examples, start=1):
        text = store.sources[e.doc].text
        vector = embedder.embed([e.question])[0]
        pool = retriever.retrieve_embedded(e.question, vector, k + 12)
        reading = reader.read(e.question, vector, pool[:k], store, lexicon)
        scores.append((reading.answerable, 1))
        best = reading.candidates[0].sentence if reading.candidates else None
        found.append(best is not None and best.source_id == e.doc
                     and best.start <= e.start and e.end <= best.end)  # fmt: skip
        without = [h for h in pool if h.chunk.source_id != e.doc][:k]
        if not any(a.lower() in h.chunk.text.lower() for h in without for a in e.answers):
            scores.append((reader.read(e.question, vector, without, store, lexicon).answerable, 0))
        swapped = swap_name(e.question, text, sorted(pools[e.group]), rng)
        if swapped:
            other = embedder.embed([swapped])[0]
            hits = retriever.retrieve_embedded(swapped, other, k)
            scores.append((reader.read(swapped, other, hits, store, lexicon).answerable, 0))
        if progress:
            progress("calibrating", done, len(examples))
    return scores, found
