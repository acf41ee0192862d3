from __future__ import annotations

import pytest

from rag.quality.evaluation import load_questions
from rag.quality.squad import f1_score, normalize
from tests.conftest import SHARED


def test_normalize_follows_squad() -> None:
    assert normalize("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize("an apple a day") == "apple day"


def test_f1() -> None:
    assert f1_score("the 10th century", "10th century") == 1.0
    assert f1_score("", "") == 1.0
    assert f1_score("", "France") == 0.0
    assert f1_score("in France today", "France") == pytest.approx(0.5)


@pytest.mark.skipif(not (SHARED / "eval").exists(), reason="../shared/eval not present")
def test_load_questions_reads_both_sets() -> None:
    squad = load_questions(SHARED / "eval" / "squad2" / "questions.jsonl")
    assert len(squad) == 300 and sum(not q.answerable for q in squad) == 100
    multihop = load_questions(SHARED / "eval" / "multihop" / "questions.jsonl")
    assert all(len(q.evidence) >= 2 for q in multihop)


@pytest.mark.skipif(not (SHARED / "eval").exists(), reason="../shared/eval not present")
def test_off_topic_keeps_the_answerable_questions_and_expects_refusals() -> None:
    from rag.quality.evaluation import off_topic

    squad = load_questions(SHARED / "eval" / "squad2" / "questions.jsonl")
    asked = off_topic(squad)
    assert len(asked) == 200
    assert all(not q.answerable and q.type == "off-topic" and not q.answers for q in asked)
    assert [q.id for q in asked] == [q.id for q in squad if q.answerable]
