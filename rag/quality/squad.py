"""Answer strings -> SQuAD's normalised form and scores (EM, token F1)."""

from __future__ import annotations

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)


def normalize(text: str) -> str:
    """Lower-case, strip punctuation and articles, collapse spaces (SQuAD's rule)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1_score(prediction: str, gold: str) -> float:
    """Return SQuAD token F1 of a prediction against one gold answer."""
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
