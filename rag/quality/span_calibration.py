"""A span reader + held-out training questions -> its refusal threshold and quote ratio, read
through the pipeline.

The questions (SQuAD 1.1 dev articles, none trained on) are indexed as a corpus and each is
read three ways, as `rag train` does for the linear reader: as asked (answerable), without its
own paragraph, and with one of its names swapped for another of its article (both not).
The threshold refuses FALSE_REFUSAL_TARGET of the answerable readings; the quote ratio is the
lowest of QUOTE_RATIOS whose answers average at most MAX_MEAN_QUOTES quotes; the short-answer
threshold is the lowest confidence above which SHORT_PRECISION of the short answers cut from
the first quote are right (SQuAD F1 with a gold answer at least SHORT_F1).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.answering.grounding import Policy, answer
from rag.assistant import other_source_ratio
from rag.build.assemble import Progress
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.generations import load_current
from rag.quality.examples import SEED, Example, name_pools, swap_name, write_corpus
from rag.quality.fitting import FALSE_REFUSAL_TARGET
from rag.quality.squad import f1_score
from rag.reading.base import Reader
from rag.reading.features import store_lexicon
from rag.retrieval.retriever import Retriever
from rag.types import Quote

QUOTE_RATIOS = (0.5, 0.35, 0.25, 0.15, 0.1)
SHORT_PRECISION = 0.8  # a shown short answer is right this often...
SHORT_F1 = 0.5  # ...right: sharing at least this F1 with a gold answer ("11,000 troops": "11,000")
MIN_SHOWN = 20  # ... over at least this many answers
MAX_MEAN_QUOTES = 1.5
MAX_QUOTES = 3


def calibrate(
    reader: Reader,
    dev_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    questions: int = 600,
    progress: Progress | None = None,
) -> tuple[float, float, float, dict[str, float]]:
    """Return the refusal threshold, the quote ratio, the short-answer threshold, and what
    they do on held-out readings."""
    examples = write_corpus(dev_dir, work_dir / "corpus")
    settings = Settings(source_dirs=(work_dir / "corpus",), index_dir=work_dir / "index")
    build_index(settings, embedder, progress)
    chosen = random.Random(SEED).sample(examples, min(questions, len(examples)))
    scores, found, quoting, shorts = _read(reader, chosen, settings, embedder, progress)
    short = short_threshold(shorts)
    sure = [right for confidence, right in shorts if confidence >= short]
    positive = np.asarray([s for s, y in scores if y])
    negative = np.asarray([s for s, y in scores if not y])
    threshold = float(np.quantile(positive, FALSE_REFUSAL_TARGET))
    ratio, contained, quotes = lowest_within_budget(quoting)
    return (
        threshold,
        ratio,
        short,
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
            "short_threshold": short,
            "short_answers_shown": len(sure) / max(len(shorts), 1),
            "short_answers_shown_right": float(np.mean(sure)) if sure else 0.0,
            "short_answers_right": float(np.mean([r for _, r in shorts])) if shorts else 0.0,
        },
    )


def lowest_within_budget(
    quoting: Sequence[tuple[float, float, float]],
) -> tuple[float, float, float]:
    """Of (ratio, answer in quotes, quotes per answer) for QUOTE_RATIOS in order, the lowest
    ratio's whose answers average at most MAX_MEAN_QUOTES quotes (else the first)."""
    chosen = quoting[0]
    for option in quoting:
        if option[2] <= MAX_MEAN_QUOTES:
            chosen = option
    return chosen


def holds_answer(quotes: Sequence[Quote], example: Example) -> bool:
    """Tell whether a quote holds the example's gold answer span."""
    return any(
        q.source == example.doc and q.start <= example.start and example.end <= q.end
        for q in quotes
    )


def short_threshold(shorts: Sequence[tuple[float, bool]]) -> float:
    """The lowest confidence above which SHORT_PRECISION of the short answers are right."""
    ranked = sorted(shorts, key=lambda pair: -pair[0])
    right = np.cumsum([r for _, r in ranked])
    best = 1.0
    for i, (confidence, _) in enumerate(ranked):
        if i + 1 >= MIN_SHOWN and right[i] / (i + 1) >= SHORT_PRECISION:
            best = confidence
    return best


def _read(
    reader: Reader,
    examples: Sequence[Example],
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None,
) -> tuple[
    list[tuple[float, int]], list[bool], list[tuple[float, float, float]], list[tuple[float, bool]]
]:
    """Each reading's answerability with its label; whether each answerable reading's best
    sentence holds the answer; per quote ratio, the share of answers quoting it and the mean
    quotes per answer; each answer's short answer confidence and whether it is exactly right."""
    store = load_current(settings.index_dir, embedder)
    lexicon = store_lexicon(store)
    retriever = Retriever(store, embedder)
    rng = random.Random(SEED)
    pools = name_pools(list(examples), store)
    scores: list[tuple[float, int]] = []
    found: list[bool] = []
    quoted: dict[float, list[tuple[bool, int]]] = {r: [] for r in QUOTE_RATIOS}
    shorts: list[tuple[float, bool]] = []
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
            policy = Policy(-1.0, ratio, MAX_QUOTES, other_source_ratio(ratio))
            quotes = answer(e.question, reading, store, policy, e.question, 0).quotes
            tally.append((holds_answer(quotes, e), len(quotes)))
            if ratio == QUOTE_RATIOS[0] and quotes:
                start, end, confidence = reader.short_answer(e.question, quotes[0].text, lexicon)
                cut = quotes[0].text[start:end]
                right = max(f1_score(cut, a) for a in e.answers) >= SHORT_F1
                shorts.append((confidence, right))
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
    return scores, found, quoting, shorts
