"""A feature reader + questions it never trained on -> the quote ratio it ships with.

A further quote needs `quote_ratio` times the best quote's probability. The ratio is the
lowest of QUOTE_RATIOS whose answers average at most MAX_MEAN_QUOTES quotes, as for the span
reader (rag/quality/span_calibration.py), measured on SQuAD 1.1 training questions
(squad11-train/), which the feature reader does not learn from: the paragraphs of ARTICLES
articles drawn with a fixed seed are indexed as a corpus, and QUESTIONS of their questions
are asked through the whole pipeline (`Assistant.ask`), once per ratio.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from rag.assistant import Assistant
from rag.build.assemble import Progress
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.quality.examples import SEED, write_corpus
from rag.quality.span_calibration import QUOTE_RATIOS, holds_answer, lowest_within_budget
from rag.reading.base import Reader

ARTICLES = 20
QUESTIONS = 600


def calibrate_quote_ratio(
    reader: Reader,
    squad_train: Path,
    work_dir: Path,
    embedder: Embedder,
    progress: Progress | None = None,
) -> tuple[float, dict[str, float]]:
    """Return the quote ratio and, per ratio tried, the quotes per answer and the share of
    answers that quote the gold answer."""
    source = work_dir / "quote-calibration"
    _draw_articles(squad_train / "paragraphs.jsonl", source / "paragraphs.jsonl")
    examples = write_corpus(source, source / "corpus")
    settings = Settings(source_dirs=(source / "corpus",), index_dir=source / "index")
    build_index(settings, embedder, progress)
    assistant = Assistant(settings, embedder, reader)
    chosen = random.Random(SEED).sample(examples, min(QUESTIONS, len(examples)))
    figures: dict[str, float] = {"quote_calibration_questions": float(len(chosen))}
    quoting = []
    for done, option in enumerate(QUOTE_RATIOS, start=1):
        answers = [assistant.ask(e.question, threshold=-1.0, quote_ratio=option) for e in chosen]
        held = float(
            np.mean([holds_answer(a.quotes, e) for a, e in zip(answers, chosen, strict=True)])
        )
        count = float(np.mean([len(a.quotes) for a in answers]))
        figures[f"quotes_per_answer_at_{option}"] = count
        figures[f"answer_in_quotes_at_{option}"] = held
        quoting.append((option, held, count))
        if progress:
            progress("calibrating quotes", done, len(QUOTE_RATIOS))
    ratio = lowest_within_budget(quoting)[0]
    figures["quote_ratio"] = ratio
    return ratio, figures


def _draw_articles(paragraphs: Path, target: Path) -> None:
    """Write the paragraphs of ARTICLES articles, drawn with the fixed seed, to `target`."""
    rows = [json.loads(line) for line in paragraphs.read_text(encoding="utf-8").splitlines()]
    articles = sorted({row["article"] for row in rows})
    drawn = set(random.Random(SEED).sample(articles, min(ARTICLES, len(articles))))
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = [json.dumps(row) for row in rows if row["article"] in drawn]
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")
