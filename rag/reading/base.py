"""Hits -> a Reading: the seam every reader (linear features today, neural later) fills."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.index.base import Store, Vectors
from rag.text.lexicon import Lexicon
from rag.types import Hit, Sentence


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of a retrieved chunk, with where it was found."""

    sentence: Sentence
    text: str
    title: str
    hit_rank: int  # rank of the best hit that holds this sentence
    context: str  # the text of that hit's chunk
    read_as: str = ""  # what the sentence is read as, when more than its text: a row's header


@dataclass(frozen=True, slots=True)
class Reading:
    """Scored candidates (best first) and how likely the question is answered at all."""

    candidates: tuple[Candidate, ...]
    probabilities: tuple[float, ...]
    answerable: float
    # per candidate, the short answer's span in its source, when the reader found one there
    spans: tuple[tuple[int, int] | None, ...] = ()


class Reader(Protocol):
    """Reads retrieved passages: which sentences answer, the short answer, and when to refuse.

    `threshold` and `quote_ratio` are the reader's own calibration: answering refuses below
    the one and quotes further sentences above the other share of the best.
    """

    @property
    def threshold(self) -> float:
        """Refuse when the reading's answerability is below this."""
        ...

    @property
    def quote_ratio(self) -> float:
        """A further quote needs at least this share of the best sentence's probability."""
        ...

    def read(
        self, question: str, vector: Vectors, hits: Sequence[Hit], store: Store, lexicon: Lexicon
    ) -> Reading:
        """Score every sentence of the hits, best first, and the question's answerability."""
        ...

    @property
    def short_threshold(self) -> float:
        """Show a short answer only at this confidence or above (calibrated by `rag train`)."""
        ...

    def short_answer(
        self, question: str, sentence: str, lexicon: Lexicon
    ) -> tuple[int, int, float]:
        """Return the offsets of the short answer inside a quote, and the confidence in it."""
        ...
