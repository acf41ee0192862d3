"""Short answers: candidate spans, their features, and the trained span picker."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rag.reading.linear import LinearReader, ReaderModel
from rag.reading.spans import SINGLE_FEATURES, SPAN_FEATURES, candidate_spans, span_features
from rag.text.lexicon import Lexicon
from tests.conftest import SEEDS

SEED_TEXT = (SEEDS / "000_5e08608e18cd2d5e.txt").read_text(encoding="utf-8")
TROOPS = "How many North Korean troops were moved into Russia's Kursk region?"
TROOPS_SENTENCE = (
    "Recent developments have seen approximately 11,000 North Korean troops being moved "
    "into Russia's Kursk region."
)


def test_spans_never_repeat_the_question_and_pairs_are_products() -> None:
    lexicon = Lexicon([SEED_TEXT])
    spans = candidate_spans(TROOPS, TROOPS_SENTENCE, lexicon)
    texts = {TROOPS_SENTENCE[s.start : s.end] for s in spans}
    assert "11,000" in texts
    assert not any("Kursk" in t or "troops" in t for t in texts)
    table = span_features(TROOPS, TROOPS_SENTENCE, spans, lexicon)
    assert table.shape == (len(spans), len(SPAN_FEATURES))
    k = len(SINGLE_FEATURES)
    for column, (a, b) in enumerate(itertools.combinations(range(k), 2), start=k):
        assert SPAN_FEATURES[column] == f"{SINGLE_FEATURES[a]}*{SINGLE_FEATURES[b]}"
        np.testing.assert_allclose(table[:, column], table[:, a] * table[:, b], rtol=1e-6)


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        (TROOPS, TROOPS_SENTENCE, "11,000"),
        (
            "In what year was the article published?",
            "Published November 20, 2024 - 00:11am",
            "2024",
        ),
    ],
)
def test_the_trained_picker_cuts_the_short_answer(
    question: str, sentence: str, expected: str
) -> None:
    reader = LinearReader(ReaderModel.load())
    start, end, _ = reader.short_answer(question, sentence, Lexicon([SEED_TEXT]))
    assert sentence[start:end] == expected
