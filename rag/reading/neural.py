"""Question + retrieved passages -> answering sentences, short answers and a refusal score, read
by a fine-tuned MiniLM span model (ONNX, int8) in one pass over a few passage windows.

The model gives every passage token a start and an end score, and the first token a
"no answer" score. A sentence's score is its best span (start <= end, at most
MAX_ANSWER_TOKENS long) minus its window's no-answer score; its probability is the logistic of
that margin, and the question's answerability is the best sentence's.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from rag.errors import ModelMissing
from rag.index.base import Store, Vectors
from rag.reading.base import Candidate, Reader, Reading
from rag.reading.features import candidates
from rag.text.lexicon import Lexicon
from rag.types import Chunk, Hit, Sentence

MODELS = Path(__file__).parent / "models"
DEFAULT_WEIGHTS = MODELS / "span_reader.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("start_logits", "end_logits")
MAX_TOKENS = 192
STRIDE = 48  # tokens shared by the windows of a passage longer than one
MAX_ANSWER_TOKENS = 30
WINDOWS = 16  # most windows read at once
CACHED_PASSAGES = 256  # (question, passage) readings kept for a re-read
_Span = tuple[Sentence, float, tuple[int, int]]  # a sentence, its margin, its best span


class SpanRecord(BaseModel):
    """What `rag train --neural` recorded beside the weights: their checksum and calibration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    threshold: float
    quote_ratio: float
    passages: int  # retrieved passages read per question
    provenance: str
    figures: dict[str, float]
    short_threshold: float = 0.0  # show a short answer at this confidence or above

    @classmethod
    def load(cls, weights: Path) -> SpanRecord:
        """Read the record beside the weights; raise ModelMissing if absent or malformed."""
        path = weights.with_suffix(".json")
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ModelMissing(f"span reader record {path} is missing or malformed: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Window:
    """A passage window: its tokens and, per token, its character span in the passage."""

    hit: int  # index of the hit whose chunk this is
    ids: list[int]
    types: list[int]
    offsets: list[tuple[int, int]]


class SpanModel:
    """The ONNX span model and its tokenizer; checks the weights against the record."""

    def __init__(self, weights: Path = DEFAULT_WEIGHTS, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        from rag.embedding.onnx import tokenizer_path

        self.record = SpanRecord.load(weights)
        try:
            blob = weights.read_bytes()
        except OSError as exc:
            raise ModelMissing(f"span reader weights {weights} are missing: {exc}") from exc
        if hashlib.sha256(blob).hexdigest() != self.record.sha256:
            raise ModelMissing(f"span reader weights {weights} do not match their recorded sha256")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            blob, options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path()))
        self._tokenizer.enable_truncation(MAX_TOKENS, stride=STRIDE, strategy="only_second")
        self._tokenizer.no_padding()

    def windows(self, question: str, passages: Sequence[str]) -> list[Window]:
        """Tokenise the question with each passage; a long passage gives several windows."""
        found = []
        for hit, passage in enumerate(passages):
            first = self._tokenizer.encode(question, passage)
            for encoding in [first, *first.overflowing]:
                sequence = encoding.sequence_ids
                offsets = [
                    o if s == 1 else (-1, -1)
                    for o, s in zip(encoding.offsets, sequence, strict=True)
                ]
                types = [1 if s == 1 else 0 for s in sequence]
                found.append(Window(hit, list(encoding.ids), types, offsets))
        return found

    def logits(self, windows: Sequence[Window]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Start and end scores of every token of every window (padded to the longest)."""
        width = max(len(w.ids) for w in windows)
        ids = np.zeros((len(windows), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, window in enumerate(windows):
            n = len(window.ids)
            ids[row, :n], types[row, :n], mask[row, :n] = window.ids, window.types, 1
        start, end = self._session.run(list(OUTPUTS), {"input_ids": ids, "attention_mask": mask,
                                                        "token_type_ids": types})  # fmt: skip
        return start, end


def best_span(
    start: NDArray[np.float32], end: NDArray[np.float32], tokens: NDArray[np.int64]
) -> tuple[float, int, int]:
    """The best span over these (consecutive) tokens: its score and first and last token.

    A span starts no later than it ends and is at most MAX_ANSWER_TOKENS long.
    """
    scores = start[tokens][:, None] + end[tokens][None, :]
    n = len(tokens)
    band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(
        np.ones((n, n), dtype=bool), MAX_ANSWER_TOKENS
    )
    scores = np.where(band, scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), int(tokens[i]), int(tokens[j])


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


class NeuralReader:
    """Reads the best retrieved passages with the span model (a `Reader`)."""

    def __init__(self, model: SpanModel) -> None:
        self.model = model
        self._cache: OrderedDict[tuple[str, str, int, int], list[_Span]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """Refuse below this answerability: calibrated on held-out training questions."""
        return self.model.record.threshold

    @property
    def quote_ratio(self) -> float:
        """A further quote needs this share of the best sentence's probability."""
        return self.model.record.quote_ratio

    def read(
        self, question: str, vector: Vectors, hits: Sequence[Hit], store: Store, lexicon: Lexicon
    ) -> Reading:
        """Score the sentences of the best passages, their short answers and answerability.

        A passage read with the same question before (the re-read after a second hop adds
        passages) comes from a small cache instead of the model.
        """
        chunks = [h.chunk for h in hits[: self.model.record.passages]]
        keys = [(question, c.source_id, c.start, c.end) for c in chunks]
        with self._lock:
            known = {k: self._cache[k] for k in keys if k in self._cache}
        missing = {k: c for c, k in zip(chunks, keys, strict=True) if k not in known}
        fresh = dict(zip(missing, self._read(question, list(missing.values())), strict=True))
        with self._lock:
            self._cache.update(fresh)
            while len(self._cache) > CACHED_PASSAGES:
                self._cache.popitem(last=False)
        known.update(fresh)
        margins: dict[Sentence, tuple[float, tuple[int, int]]] = {}
        for key in keys:
            for sentence, margin, span in known[key]:
                if margin > margins.get(sentence, (-math.inf, span))[0]:
                    margins[sentence] = (margin, span)
        return _reading(candidates(hits, store), margins)

    def _read(self, question: str, chunks: Sequence[Chunk]) -> list[list[_Span]]:
        """Each passage's sentences with their best span (in the source) and its margin."""
        found: list[list[_Span]] = [[] for _ in chunks]
        windows = self.model.windows(question, [c.text for c in chunks])[:WINDOWS]
        if not windows:
            return found
        start, end = self.model.logits(windows)
        for row, window in enumerate(windows):
            chunk = chunks[window.hit]
            null = float(start[row, 0] + end[row, 0])
            for sentence, (score, first, last) in _sentence_spans(
                window, chunk.start, chunk.sentences, start[row], end[row]
            ):
                span = (chunk.start + window.offsets[first][0],
                        chunk.start + window.offsets[last][1])  # fmt: skip
                found[window.hit].append((sentence, score - null, span))
        return found

    @property
    def short_threshold(self) -> float:
        """Show a short answer at this confidence or above: calibrated on held-out questions."""
        return self.model.record.short_threshold

    def short_answer(
        self, question: str, sentence: str, lexicon: Lexicon
    ) -> tuple[int, int, float]:
        """The best span of one quote read alone, and the model's confidence in it (the
        logistic of its score over the no-answer score)."""
        windows = self.model.windows(question, [sentence])[:1]
        if not windows:
            return 0, len(sentence), 0.0
        start, end = self.model.logits(windows)
        tokens = np.flatnonzero(np.asarray(windows[0].types) > 0)
        if len(tokens) == 0:
            return 0, len(sentence), 0.0
        score, first, last = best_span(start[0], end[0], tokens)
        confidence = _sigmoid(score - float(start[0, 0] + end[0, 0]))
        return windows[0].offsets[first][0], windows[0].offsets[last][1], confidence


def _sentence_spans(
    window: Window,
    chunk_start: int,
    sentences: Sequence[Sentence],
    start: NDArray[np.float32],
    end: NDArray[np.float32],
) -> list[tuple[Sentence, tuple[float, int, int]]]:
    """Each sentence of the window's chunk that the window holds, with its best span."""
    firsts = np.asarray([a for a, _ in window.offsets])
    lasts = np.asarray([b for _, b in window.offsets])
    found = []
    for sentence in sentences:
        inside = np.flatnonzero(
            (firsts >= sentence.start - chunk_start) & (lasts <= sentence.end - chunk_start)
            & (lasts > firsts)
        )  # fmt: skip
        if len(inside):
            found.append((sentence, best_span(start, end, inside)))
    return found


def _reading(
    found: Sequence[Candidate], margins: dict[Sentence, tuple[float, tuple[int, int]]]
) -> Reading:
    """Candidates read by the model first (by margin), then the rest in retrieval order.

    The best sentence's probability is the answerability, the logistic of its margin; another
    sentence's is that times exp(its margin - the best's), so that the share of the best it
    needs to be quoted too (`quote_ratio`) is a margin within log(1 / ratio) of the best's.
    """
    scored = sorted(((c, margins[c.sentence][0]) for c in found if c.sentence in margins),
                    key=lambda pair: -pair[1])  # fmt: skip
    rest = [c for c in found if c.sentence not in margins]
    best = scored[0][1] if scored else -math.inf
    answerable = _sigmoid(best) if scored else 0.0
    return Reading(
        candidates=tuple([c for c, _ in scored] + rest),
        probabilities=tuple(
            [answerable * math.exp(m - best) for _, m in scored] + [0.0] * len(rest)
        ),
        answerable=answerable,
        spans=tuple([margins[c.sentence][1] for c, _ in scored] + [None] * len(rest)),
    )


class SpanShortAnswers:
    """A reader's quotes and refusals, with the span model's short answer (a `Reader`).

    The feature reader chooses the sentences and when to refuse, which holds up on documents
    unlike the span model's training text; the span model reads the first quote for the
    short answer, which the feature reader gets wrong half the time.
    """

    def __init__(self, reader: Reader, model: SpanModel) -> None:
        self.reader = reader
        self.spans = NeuralReader(model)

    @property
    def threshold(self) -> float:
        """The feature reader's refusal threshold."""
        return self.reader.threshold

    @property
    def quote_ratio(self) -> float:
        """The feature reader's quote ratio."""
        return self.reader.quote_ratio

    def read(
        self, question: str, vector: Vectors, hits: Sequence[Hit], store: Store, lexicon: Lexicon
    ) -> Reading:
        """The feature reader's reading."""
        return self.reader.read(question, vector, hits, store, lexicon)

    @property
    def short_threshold(self) -> float:
        """The span model's short-answer threshold."""
        return self.spans.short_threshold

    def short_answer(
        self, question: str, sentence: str, lexicon: Lexicon
    ) -> tuple[int, int, float]:
        """The span model's best span in the quote, and its confidence."""
        return self.spans.short_answer(question, sentence, lexicon)
