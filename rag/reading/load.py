"""A reader by name: linear (features), neural (the span model), or both (the default)."""

from __future__ import annotations

from rag.reading.base import Reader


def load_reader(name: str) -> Reader:
    """Return the shipped reader called `name` ("both", "neural" or "linear").

    Raises:
        ModelMissing: its weights are missing, malformed or not the recorded ones.
    """
    if name == "linear":
        from rag.reading.linear import LinearReader, ReaderModel

        return LinearReader(ReaderModel.load())
    if name == "neural":
        from rag.reading.neural import NeuralReader, SpanModel

        return NeuralReader(SpanModel())
    if name == "both":
        from rag.reading.linear import LinearReader, ReaderModel
        from rag.reading.neural import SpanModel, SpanShortAnswers

        return SpanShortAnswers(LinearReader(ReaderModel.load()), SpanModel())
    raise ValueError(f"unknown reader {name!r}: choose both, neural or linear")
