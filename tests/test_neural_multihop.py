"""Guards on the span model's multi-hop phase: held-out multihop-train questions, the real model.

Four questions the span model never trained on (one in five of multihop-train is held out of
its training), each with the documents it comes with (10 or 20, distractors included). The
span model of phase 1 alone refused all four; with its multi-hop phase it answers each from
the document that holds the answer (see docs/QUALITY.md, row 25).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.embedding.onnx import OnnxEmbedder
from rag.quality.evaluation import evaluate
from rag.quality.squad import normalize
from tests.conftest import SHARED, indexed_set

MULTIHOP = SHARED / "train" / "multihop-train"
QUESTIONS = {  # id -> the document that holds the answer
    "hotpotqa-5a714dea5542994082a3e7a9": "mh-hotpot-summer-wars-521eef.txt",  # comparison
    "hotpotqa-5a770eb65542994aec3b71d4": "mh-hotpot-the-ninth-gate-6d24b7.txt",  # bridge
    "2wiki-02ae4663095611ebbdaeac1f6bf848b6": "mh-2wiki-samson-and-his-mighty-challenge-9362a6.txt",
    "musique-2hop__475808_71302": "mh-musique-the-godfather-part-ii-16dfdf.txt",
}
pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not MULTIHOP.exists(), reason="../shared/train/multihop-train is absent"),
]


@pytest.fixture(scope="module")
def held_out(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: OnnxEmbedder
) -> tuple[Path, Assistant]:
    """The four questions as a small evaluation set over their documents, read by `neural`."""
    lines = [
        line
        for line in (MULTIHOP / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["id"] in QUESTIONS
    ]
    documents = [MULTIHOP / "corpus" / f"{doc}.txt"
                 for line in lines for doc in json.loads(line)["context_docs"]]  # fmt: skip
    root = tmp_path_factory.mktemp("multihop-held-out")
    return indexed_set(root, lines, documents, real_embedder, reader="neural")


def test_the_held_out_questions_are_answered_with_valid_quotes(
    held_out: tuple[Path, Assistant],
) -> None:
    metrics = evaluate(*held_out)
    assert metrics["questions"] == len(QUESTIONS)
    assert metrics["quote_valid"] == 1.0
    assert metrics["false_abstention_rate"] == 0.0
    assert (metrics["evidence_recall"] or 0) >= 0.75


@pytest.mark.parametrize("question_id", sorted(QUESTIONS))
def test_each_answer_is_quoted_from_its_document(
    held_out: tuple[Path, Assistant], question_id: str
) -> None:
    dataset, assistant = held_out
    rows = [json.loads(line) for line in (dataset / "questions.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["id"] == question_id)
    answer = assistant.ask(row["question"])
    assert not answer.refused
    holding = [q for q in answer.quotes if q.source == QUESTIONS[question_id]]
    assert holding, [q.source for q in answer.quotes]
    quoted = normalize(" ".join(q.text for q in holding))
    assert any(normalize(gold) in quoted for gold in row["answers"])
