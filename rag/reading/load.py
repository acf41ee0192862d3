"""A reader by name: the neural span model (the default) or the linear feature model."""

from __future__ import annotations

from rag.reading.base import Reader


def load_reader(name: str) -> Reader:
    """Return the shipped reader called `name` ("neural" or "linear").

    Raises:
        ModelMissing: its weights are missing, malformed or not the recorded ones.
    """
    if name == "linear":
        from rag.reading.linear import LinearReader, ReaderModel

        return LinearReader(ReaderModel.load())
    if name == "neural":
        from rag.reading.neural import NeuralReader, SpanModel

        return NeuralReader(SpanModel())
    raise ValueError(f"unknown reader {name!r}: choose neural or linear")
