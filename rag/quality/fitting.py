"""Readings -> a ReaderModel: the sentence, answerability and span models, and the threshold."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from rag.quality.examples import Tables
from rag.reading.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    question_features,
)
from rag.reading.linear import LinearModel, ReaderModel
from rag.reading.spans import SINGLE_FEATURES, SPAN_FEATURES

FALSE_REFUSAL_TARGET = 0.10  # share of answerable training questions we accept to refuse
QUOTE_RATIO = 0.5


def _fit(x: NDArray[np.float32], y: NDArray[np.int_], names: tuple[str, ...]) -> LinearModel:
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-6, x.std(axis=0), 1.0)
    model = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    return LinearModel(
        features=names,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
    )


def _fit_sentences(data: Tables, rows: Iterable[int]) -> LinearModel:
    """Fit the sentence model on these readings (the answered ones among them)."""
    answered = [i for i in rows if data.answerable[i]]
    return _fit(
        np.concatenate([data.tables[i] for i in answered]),
        np.concatenate([data.labels[i] for i in answered]),
        SENTENCE_FEATURES,
    )


def sentence_oof(data: Tables) -> list[NDArray[np.float32]]:
    """Return each reading's sentence probabilities from a model that never saw its article
    (5 folds by article)."""
    n = len(data.tables)
    oof: list[NDArray[np.float32]] = [np.zeros(0, dtype=np.float32)] * n
    for train, test in GroupKFold(n_splits=5).split(np.zeros(n), groups=data.groups):
        model = _fit_sentences(data, train)
        for i in test:
            oof[i] = model.probability(data.tables[i])
    return oof


def fit_reader(data: Tables, provenance: str) -> tuple[ReaderModel, dict[str, float]]:
    """Fit both models with out-of-fold scores, then calibrate the refusal threshold."""
    n = len(data.tables)
    oof = sentence_oof(data)
    questions = np.stack(
        [question_features(t, p, m) for t, p, m in zip(data.tables, oof, data.terms, strict=True)]
    )
    y = np.asarray(data.answerable, dtype=np.int_)
    question_model = _fit(questions, y, QUESTION_FEATURES)
    scores = question_model.probability(questions)
    threshold = float(np.quantile(scores[y == 1], FALSE_REFUSAL_TARGET))
    positives = [i for i in range(n) if data.answerable[i]]
    top1 = np.mean(
        [data.labels[i][int(np.argmax(oof[i]))] if len(oof[i]) else 0 for i in positives]
    )
    report = {
        "questions": float(len(positives)),
        "negatives": float(n - len(positives)),
        "top1_sentence_accuracy_oof": float(top1),
        "abstention_on_train_negatives": float(np.mean(scores[y == 0] < threshold)),
        "false_abstention_on_train": float(np.mean(scores[y == 1] < threshold)),
        "threshold": threshold,
    }
    sentence_model = _fit_sentences(data, positives)
    span_model = _fit_spans(data, range(len(data.span_tables)))
    report["span_exact_top1_oof"] = _span_exact_oof(data, len(SPAN_FEATURES))
    # the same without the pairwise products, as a baseline measured in the same run
    report["span_exact_top1_oof_single_features"] = _span_exact_oof(data, len(SINGLE_FEATURES))
    reader = ReaderModel(
        sentence_model, question_model, span_model, threshold, QUOTE_RATIO, provenance
    )
    return reader, report


def _fit_spans(data: Tables, rows: Iterable[int], columns: int | None = None) -> LinearModel:
    chosen = list(rows)
    return _fit(
        np.concatenate([data.span_tables[i][:, :columns] for i in chosen]),
        np.concatenate([data.span_labels[i] for i in chosen]),
        SPAN_FEATURES[:columns],
    )


def _span_exact_oof(data: Tables, columns: int) -> float:
    """Share of answer sentences whose best span is the answer exactly (5 folds by article).

    Args:
        columns: how many of SPAN_FEATURES the model reads (the first ones).
    """
    n = len(data.span_tables)
    exact = []
    for train, test in GroupKFold(n_splits=5).split(np.zeros(n), groups=data.span_groups):
        model = _fit_spans(data, train, columns)
        exact += [
            data.span_labels[i][int(np.argmax(model.probability(data.span_tables[i][:, :columns])))]
            for i in test
        ]
    return float(np.mean(exact))
