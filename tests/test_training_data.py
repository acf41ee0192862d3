"""What `rag train` learns multi-hop reading from (each question read as asked and without one
of its supporting documents, sentences labelled by the evidence), and how it sets the quote
ratio (plumbing: a fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.quality.multihop_examples import collect_multihop, load_multihop
from rag.quality.quote_calibration import calibrate_quote_ratio
from rag.quality.span_calibration import MAX_MEAN_QUOTES, QUOTE_RATIOS
from rag.reading.linear import LinearReader, ReaderModel
from tests.fakes import FakeEmbedder

DOCS = {
    "mh-rush": "Rush\n\nNobody's Hero is a song by the Canadian band Rush. It was a single.",
    "mh-peart": "Neil Peart\n\nPeart joined the Modern Drummer Hall of Fame in 1983. He wrote.",
    "mh-moon": "Keith Moon\n\nMoon was the drummer of the Who. He was born in London.",
    "mh-baker": "Ginger Baker\n\nBaker played drums in Cream. He also played in Africa.",
}
QUESTION = "Which Canadian band had a drummer in the Modern Drummer Hall of Fame?"
EVIDENCE = [
    {"doc": "mh-rush", "text": "Nobody's Hero is a song by the Canadian band Rush."},
    {"doc": "mh-peart", "text": "Peart joined the Modern Drummer Hall of Fame in 1983."},
]


def write_set(root: Path, evidence: list[dict[str, str]], removed: str | None) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    for name, text in DOCS.items():
        (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    row = {"id": "q1", "question": QUESTION, "answers": ["Rush"], "evidence": evidence}
    (root / "questions.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    if removed:
        derived = {"id": "q1-gold-removed", "derived_from": "q1", "removed_doc": removed}
        (root / "questions_gold_removed.jsonl").write_text(json.dumps(derived) + "\n")
    return root


@pytest.fixture
def reader() -> LinearReader:
    return LinearReader(ReaderModel.load())


def test_a_question_is_read_as_asked_and_without_a_supporting_document(
    tmp_path: Path, reader: LinearReader
) -> None:
    train = write_set(tmp_path / "multihop-train", EVIDENCE, removed="mh-peart")
    (question,) = load_multihop(train)
    assert question.removed == "mh-peart.txt"
    data = collect_multihop(train, tmp_path / "work", FakeEmbedder(), reader)
    assert data.answerable == [1, 0]
    assert data.groups == ["q1", "q1"]  # one question's readings share a fold
    asked, without = data.labels
    assert asked.sum() == 2  # both evidence sentences, one from each document
    assert without.sum() == 1  # the removed document's sentence is no longer read
    assert [len(t) for t in data.tables] == [len(asked), len(without)]


def test_a_reading_without_its_evidence_teaches_no_answer(
    tmp_path: Path, reader: LinearReader
) -> None:
    missing = [{"doc": "mh-elsewhere", "text": "A sentence of a document not in the corpus."}]
    train = write_set(tmp_path / "multihop-train", missing, removed=None)
    data = collect_multihop(train, tmp_path / "work", FakeEmbedder(), reader)
    assert data.tables == [] and data.answerable == []


def test_the_quote_ratio_is_the_lowest_whose_answers_stay_within_the_quote_budget(
    tmp_path: Path, reader: LinearReader
) -> None:
    rows = []
    for a, article in enumerate(["Owls", "Boats", "Trains"]):
        for p in range(2):
            context = (
                f"{article} paragraph {p} says the {article.lower()} number {a}{p} is known. "
                f"It adds that the {article.lower()} colour is grey. Nothing else is said."
            )
            answer = f"{a}{p}"
            question = f"Which number are the {article.lower()} of paragraph {p}?"
            qa = {"question": question, "answers": [answer], "answer_start": context.index(answer)}
            rows.append(
                {"id": f"{article}-{p}", "article": article, "context": context, "qas": [qa]}
            )
    squad = tmp_path / "squad11-train"
    squad.mkdir()
    (squad / "paragraphs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ratio, figures = calibrate_quote_ratio(reader, squad, tmp_path / "work", FakeEmbedder())
    assert figures["quote_calibration_questions"] == 6
    within = [r for r in QUOTE_RATIOS if figures[f"quotes_per_answer_at_{r}"] <= MAX_MEAN_QUOTES]
    assert ratio == (within[-1] if within else QUOTE_RATIOS[0])
    assert figures["quote_ratio"] == ratio
