"""A question and a quoted sentence -> the short answer span inside it."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rag.text.lexicon import STOPWORDS, Lexicon

SINGLE_FEATURES = (
    "length",
    "capitalised",
    "digit",
    "year",
    "number_match",
    "name_match",
    "date_match",
    "distance",
    "nearby_terms",
    "after_preposition",
    "before_punctuation",
    "in_parentheses",
    "position",
    "inner_stopwords",
    "left_clean",
    "right_clean",
    "single",
    "terms_before",
    "terms_after",
)
# every feature alone and every pair of them multiplied: "how many" x "holds a digit", ...
SPAN_FEATURES = (
    *SINGLE_FEATURES,
    *(f"{a}*{b}" for a, b in itertools.combinations(SINGLE_FEATURES, 2)),
)
_PAIRS = np.triu_indices(len(SINGLE_FEATURES), 1)  # the same pairs, in the same order
MAX_TOKENS = 8
_TOKEN = re.compile(r"\w+(?:[-'’.,/]\w+)*|[^\w\s]")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|century|centuries)\b",
    re.IGNORECASE,
)
_ASKS_NUMBER = re.compile(r"\bhow (many|much|long|old|far|big|large|tall)\b|percent", re.I)
_ASKS_NAME = re.compile(r"\b(who|whom|whose|where|which|what (is the )?name)\b", re.I)
_ASKS_DATE = re.compile(r"\b(when|what year|which year|what century|what date)\b", re.I)
PREPOSITIONS = frozenset("in on at by of from to as for with during since until".split())


@dataclass(frozen=True, slots=True)
class Span:
    """A candidate short answer: character offsets inside the sentence."""

    start: int
    end: int


def _tokens(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def candidate_spans(question: str, sentence: str, lexicon: Lexicon) -> list[Span]:
    """Return the word sequences of a sentence that could answer without repeating it."""
    asked = set(lexicon.terms(question))
    tokens = _tokens(sentence)
    words = [sentence[s:e] for s, e in tokens]
    usable = [
        w[0].isalnum() and w.lower() not in STOPWORDS and not set(lexicon.terms(w)) & asked
        for w in words
    ]
    spans = []
    for i in range(len(tokens)):
        if not usable[i]:
            continue
        for j in range(i, min(i + MAX_TOKENS, len(tokens))):
            if words[j][0].isalnum() and set(lexicon.terms(words[j])) & asked:
                break
            if usable[j]:
                spans.append(Span(tokens[i][0], tokens[j][1]))
    return spans


def span_features(
    question: str, sentence: str, spans: list[Span], lexicon: Lexicon
) -> NDArray[np.float32]:
    """Return one row of SPAN_FEATURES per candidate span.

    The pairwise products let the linear model weigh a kind of span by the kind of question.
    """
    asked = set(lexicon.terms(question))
    tokens = _tokens(sentence)
    starts = {s: i for i, (s, _) in enumerate(tokens)}
    ends = {e: i for i, (_, e) in enumerate(tokens)}
    hits = [i for i, (s, e) in enumerate(tokens) if set(lexicon.terms(sentence[s:e])) & asked]
    flags = (
        bool(_ASKS_NUMBER.search(question)),
        bool(_ASKS_NAME.search(question)),
        bool(_ASKS_DATE.search(question)),
    )
    rows = []
    for span in spans:
        first, last = starts[span.start], ends[span.end]
        rows.append(_row(sentence, tokens, first, last, hits, len(asked), flags))
    single = np.asarray(rows, dtype=np.float32).reshape(len(spans), len(SINGLE_FEATURES))
    return np.hstack([single, single[:, _PAIRS[0]] * single[:, _PAIRS[1]]])


def _row(
    sentence: str,
    tokens: list[tuple[int, int]],
    first: int,
    last: int,
    hits: list[int],
    asked: int,
    flags: tuple[bool, bool, bool],
) -> list[float]:
    text = sentence[tokens[first][0] : tokens[last][1]]
    words = [sentence[s:e] for s, e in tokens[first : last + 1]]
    capitalised = all(w[0].isupper() or w[0].isdigit() for w in words if w[0].isalnum())
    digit = any(ch.isdigit() for ch in text)
    dated = bool(_YEAR.search(text) or _MONTH.search(text))
    distance = min((min(abs(h - first), abs(h - last)) for h in hits), default=20)
    nearby = sum(1 for h in hits if first - 6 <= h <= last + 6)
    before = sentence[tokens[first - 1][0] : tokens[first - 1][1]].lower() if first else ""
    after_word = sentence[slice(*tokens[last + 1])] if last + 1 < len(tokens) else "."
    after = after_word[0]
    return [
        len(words) / MAX_TOKENS,
        float(capitalised),
        float(digit),
        float(bool(_YEAR.search(text))),
        float(flags[0] and digit),
        float(flags[1] and capitalised),
        float(flags[2] and dated),
        min(distance, 20) / 20.0,
        nearby / max(asked, 1),
        float(before in PREPOSITIONS),
        float(not after.isalnum()),
        float(before == "(" and after == ")"),
        first / max(len(tokens), 1),
        sum(w.lower() in STOPWORDS for w in words) / len(words),
        float(not before[:1].isalnum() or before in STOPWORDS or (first - 1) in hits),
        float(not after.isalnum() or after_word.lower() in STOPWORDS or (last + 1) in hits),
        float(len(words) == 1),
        sum(1 for h in hits if h < first) / max(asked, 1),
        sum(1 for h in hits if h > last) / max(asked, 1),
    ]
