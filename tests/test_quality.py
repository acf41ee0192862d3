"""Guards on answer quality: one real SQuAD 2.0 article, the real model, the trained reader.

The floors sit below what the default measured when they were set (contained 0.875, evidence
recall 0.94, abstention 0.67, false abstention 0.06, MRR 0.94: see docs/QUALITY.md), so
they catch regressions without being tuned to single questions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.embedding.onnx import OnnxEmbedder
from rag.quality.evaluation import evaluate
from tests.conftest import SHARED, indexed_set

SQUAD = SHARED / "eval" / "squad2"
ARTICLE = "Warsaw"
OFF_TOPIC = [
    "What is the boiling point of mercury?",
    "Who painted the Mona Lisa?",
    "How many North Korean troops were moved into Russia's Kursk region?",
]


@pytest.fixture(scope="module")
def article(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: OnnxEmbedder
) -> tuple[Path, Assistant]:
    """One article's documents and questions as a small evaluation set, indexed."""
    questions = [
        line
        for line in (SQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["article"] == ARTICLE
    ]
    slug = "squad2-" + ARTICLE.lower().replace(" ", "-") + "-"
    documents = sorted((SQUAD / "corpus").glob(slug + "*.txt"))
    return indexed_set(
        tmp_path_factory.mktemp("squad-article"), questions, documents, real_embedder
    )


@pytest.mark.model
@pytest.mark.skipif(not SQUAD.exists(), reason="../shared/eval/squad2 is not present")
def test_an_article_is_answered_from_its_evidence(article: tuple[Path, Assistant]) -> None:
    dataset, assistant = article
    metrics = evaluate(dataset, assistant)
    assert metrics["questions"] == 25
    assert metrics["quote_valid"] == 1.0
    assert (metrics["answer_contained"] or 0) >= 0.6
    assert (metrics["evidence_recall"] or 0) >= 0.7
    assert (metrics["false_abstention_rate"] or 0) <= 0.25
    assert (metrics["mrr_at_10"] or 0) >= 0.8
    assert (metrics["abstention_accuracy"] or 0) >= 0.3  # 9 unanswerable, written to mislead


@pytest.mark.model
@pytest.mark.skipif(not SQUAD.exists(), reason="../shared/eval/squad2 is not present")
@pytest.mark.parametrize("question", OFF_TOPIC)
def test_questions_the_article_cannot_answer_are_refused(
    article: tuple[Path, Assistant], question: str
) -> None:
    assert article[1].ask(question).refused
