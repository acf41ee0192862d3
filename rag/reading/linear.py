"""Candidate sentences -> answer probabilities and an answerability score (trained, linear)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import TypeAdapter, ValidationError

from rag.errors import ModelMissing
from rag.index.base import Store, Vectors
from rag.reading.base import Reading
from rag.reading.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    candidates,
    question_features,
    sentence_features,
)
from rag.reading.spans import SPAN_FEATURES, candidate_spans, span_features
from rag.text.lexicon import Lexicon
from rag.types import Hit

DEFAULT_MODEL = Path(__file__).parent / "models" / "reader.json"


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Standardised logistic regression: p = sigmoid(((x - mean) / scale) . coef + intercept)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, table: NDArray[np.float32]) -> NDArray[np.float32]:
        """Return the positive-class probability of each row."""
        z = ((table - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        return np.asarray(1.0 / (1.0 + np.exp(-(z + self.intercept))), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class ReaderModel:
    """The sentence scorer, the answerability scorer and the calibrated refusal threshold."""

    sentence: LinearModel
    question: LinearModel
    span: LinearModel
    threshold: float  # refuse when the answerability probability is below this
    quote_ratio: float  # a further quote needs at least this share of the best one's probability
    provenance: str
    short_threshold: float = 0.0  # show a short answer at this span probability or above

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> ReaderModel:
        """Read a reader model from JSON; raise ModelMissing if absent, malformed or stale."""
        try:
            model = _FILE.validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ModelMissing(f"reader model {path} is missing or malformed: {exc}") from exc
        trained = (model.sentence.features, model.question.features, model.span.features)
        if trained != (SENTENCE_FEATURES, QUESTION_FEATURES, SPAN_FEATURES):
            raise ModelMissing(f"reader model {path} was trained on other features: retrain")
        return model

    def save(self, path: Path) -> None:
        """Write the model as JSON."""
        path.write_bytes(_FILE.dump_json(self, indent=1) + b"\n")


_FILE: TypeAdapter[ReaderModel] = TypeAdapter(ReaderModel)


class LinearReader:
    """Scores the sentences of retrieved chunks with trained logistic models (a `Reader`)."""

    def __init__(self, model: ReaderModel) -> None:
        self.model = model

    @property
    def threshold(self) -> float:
        """Refuse below this answerability: calibrated by `rag train`."""
        return self.model.threshold

    @property
    def quote_ratio(self) -> float:
        """A further quote needs this share of the best sentence's probability."""
        return self.model.quote_ratio

    def read(
        self,
        question: str,
        vector: Vectors,
        hits: Sequence[Hit],
        store: Store,
        lexicon: Lexicon,
    ) -> Reading:
        """Score every sentence of the hits and the question's answerability."""
        found = candidates(hits, store)
        table = sentence_features(question, vector, hits, found, store, lexicon)
        probabilities = self.model.sentence.probability(table)
        row = question_features(table, probabilities, len(lexicon.weights(question)))
        answerable = float(self.model.question.probability(row[None, :])[0]) if found else 0.0
        order = np.argsort(-probabilities, kind="stable")
        return Reading(
            candidates=tuple(found[i] for i in order),
            probabilities=tuple(float(probabilities[i]) for i in order),
            answerable=answerable,
        )

    @property
    def short_threshold(self) -> float:
        """Show a short answer at this span probability or above."""
        return self.model.short_threshold

    def short_answer(
        self, question: str, sentence: str, lexicon: Lexicon
    ) -> tuple[int, int, float]:
        """Return the likeliest short answer inside a quote, and its span probability."""
        spans = candidate_spans(question, sentence, lexicon)
        if not spans:
            return 0, len(sentence), 0.0
        scores = self.model.span.probability(span_features(question, sentence, spans, lexicon))
        best = int(np.argmax(scores))
        return spans[best].start, spans[best].end, float(scores[best])
