"""A span reader + held-out training questions -> its refusal threshold and quote ratio, read
through the pipeline.

The questions (SQuAD 1.1 dev articles, none trained on) are indexed as a corpus and each is
read three ways, as `rag train` does for the linear reader: as asked (answerable), without its
own paragraph, and with one of its names swapped for another of its article (both not).
The threshold refuses FALSE_REFUSAL_TARGET of the answerable readings; the quote ratio is the
lowest of QUOTE_RATIOS whose answers average at most MAX_MEAN_QUOTES quotes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.answering.grounding import Policy, answer
from rag.assistant import OTHER_SOURCE_RATIO
from rag.build.assemble import Progress
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.generations import load_current
from rag.quality.examples import SEED, Example, name_pools, swap_name, write_corpus
from rag.quality.fitting import FALSE_REFUSAL_TARGET
from rag.reading.base import Reader
from rag.reading.features import store_lexicon
from rag.retrieval.retriever import Retriever

QUOTE_RATIOS = (0.5, 0.35, 0.25, 0.15, 0.1)
MAX_MEAN_QUOTES = 1.5
MAX_QUOTES = 3


def calibrate(
    reader: Reader,
    dev_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    questions: int = 600,
    progress: Progress | None = None,
) -> tuple[float, float, dict[str, float]]:
    """Return the refusal threshold, the quote ratio, and what they do on held-out readings."""
    examples = write_corpus(dev_dir, work_dir / "corpus")
    settings = Settings(source_dirs=(work_dir / "corpus",), index_dir=work_dir / "index")
    build_index(settings, embedder, progress)
    chosen = random.Random(SEED).sample(examples, min(questions, len(examples)))
    scores, found, quoting = _read(reader, chosen, settings, embedder, progress)
    positive = np.asarray([s for s, y in scores if y])
    negative = np.asarray([s for s, y in scores if not y])
    threshold = float(np.quantile(positive, FALSE_REFUSAL_TARGET))
    ratio, contained, quotes = quoting[0]
    for option in quoting:
        if option[2] <= MAX_MEAN_QUOTES:
            ratio, contained, quotes = option
    return (
        threshold,
        ratio,
        {
            "calibration_questions": float(len(positive)),
            "calibration_negatives": float(len(negative)),
            "top_sentence_holds_answer": float(np.mean(found)),
            "false_abstention": float(np.mean(positive < threshold)),
            "abstention_on_negatives": float(np.mean(negative < threshold)),
            "threshold": threshold,
            "quote_ratio": ratio,
            "answer_in_quotes": contained,
            "quotes_per_answer": quotes,
        },
    )


def _read(
    reader: Reader,
    examples: Sequence[Example],
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None,
) -> tuple[list[tuple[float, int]], list[bool], list[tuple[float, float, float]]]:
    """Each reading's answerability with its label; whether each answerable reading's best
    sentence holds the answer; per quote ratio, the share of answers quoting it and the mean
    quotes per answer."""
    store = load_current(settings.index_dir, embedder)
    lexicon = store_lexicon(store)
    retriever = Retriever(store, embedder)
    rng = random.Random(SEED)
    pools = name_pools(list(examples), store)
    scores: list[tuple[float, int]] = []
    found: list[bool] = []
    quoted: dict[float, list[tuple[bool, int]]] = {r: [] for r in QUOTE_RATIOS}
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
        for ratio, tally in quoted.items():
            policy = Policy(-1.0, ratio, MAX_QUOTES, min(ratio, OTHER_SOURCE_RATIO))
            quotes = answer(e.question, reading, store, policy, e.question, 0).quotes
            held = any(q.source == e.doc and q.start <= e.start and e.end <= q.end for q in quotes)
            tally.append((held, len(quotes)))
        without = [h for h in pool if h.chunk.source_id != e.doc][:k]
        if not any(a.lower() in h.chunk.text.lower() for h in without for a in e.answers):
            scores.append((reader.read(e.question, vector, without, store, lexicon).answerable, 0))
        swapped = swap_name(e.question, text, pools[e.group], rng)
        if swapped:
            other = embedder.embed([swapped])[0]
            hits = retriever.retrieve_embedded(swapped, other, k)
            scores.append((reader.read(swapped, other, hits, store, lexicon).answerable, 0))
        if progress:
            progress("calibrating", done, len(examples))
    quoting = [(r, float(np.mean([h for h, _ in t])), float(np.mean([n for _, n in t])))
               for r, t in quoted.items()]  # fmt: skip
    return scores, found, quoting
