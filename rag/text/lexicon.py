"""Texts -> content terms and their rarity (IDF): the lexical evidence the reader weighs."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# Words that shape a question but carry no content to look for in a source.
QUESTION_WORDS = frozenset(
    (
        "what which who whom whose when where why how many much did does do is was were "
        "has have had can could would should will may might name named called type kind "
        "year years one ones other also than then there their they them its it he she his her "
        "from into about after before during over under between"
    ).split()
)
STOPWORDS = frozenset(STOPWORDS_EN) | QUESTION_WORDS
_WORD = re.compile(r"\w+", re.UNICODE)


class Lexicon:
    """Stemmed content terms and their inverse document frequencies over one corpus."""

    def __init__(self, documents: Iterable[str]) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        counts: Counter[str] = Counter()
        total = 0
        for document in documents:
            counts.update(set(self.terms(document)))
            total += 1
        self.documents = max(total, 1)
        self._df = counts

    def terms(self, text: str) -> list[str]:
        """Return the stemmed content terms of a text, in order."""
        words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
        return list(self._stemmer.stemWords(words))

    def idf(self, term: str) -> float:
        """Return the smoothed inverse document frequency of a stemmed term."""
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))

    def weights(self, text: str) -> dict[str, float]:
        """Return each distinct content term of a text with its IDF."""
        return {term: self.idf(term) for term in set(self.terms(text))}
