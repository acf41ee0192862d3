"""Plain values that flow along the pipeline: Source -> Chunk -> Hit -> Quote -> Answer."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file found in a source folder, before its text is extracted."""

    id: str  # path relative to its source folder, posix separators
    path: str  # absolute path on disk (a str: a scan makes thousands)
    file_sha256: str  # sha256 of the file's bytes: decides new / changed / unchanged
    size: int


@dataclass(frozen=True, slots=True)
class Source:
    """A source document's extracted text; every offset in the index points into `text`."""

    id: str
    path: Path
    title: str
    text: str
    sha256: str  # sha256 of `text` (UTF-8): what a citation was cut from
    file_sha256: str
    pages: tuple[int, ...] = ()  # a PDF's page starts in `text` (page 1 at pages[0]); else ()

    def page_at(self, offset: int) -> int | None:
        """Return the 1-based page that holds `text[offset]`, or None for a text without pages."""
        return bisect.bisect_right(self.pages, offset) if self.pages else None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that could not be used, and why."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a source, as a character span of its text."""

    source_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A window of consecutive sentences: the unit that is embedded and retrieved."""

    id: str  # f"{source_id}#{ordinal}"
    source_id: str
    start: int
    end: int
    text: str  # == source.text[start:end]
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its fused score and its place in the store."""

    chunk: Chunk
    row: int  # the chunk's row in the store
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class Quote:
    """A verbatim span of a source with its citation."""

    text: str  # == source.text[start:end], checked by grounding
    source: str  # source id
    title: str
    start: int
    end: int
    score: float
    sha256: str  # sha256 of the source text the span was cut from
    page: int | None = None  # the PDF page the quote starts on
    section: str | None = None  # the heading the quote sits under, when the source has one


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation, for follow-up questions."""

    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Answer:
    """Quotes that answer a question, or a refusal (no quotes)."""

    question: str
    text: str  # the quotes joined with fixed connecting words, or the refusal sentence
    quotes: tuple[Quote, ...] = ()
    short_answer: str = ""
    short_confidence: float = 0.0  # the reader's confidence in the short answer
    short_answer_sure: bool = False  # confident enough to show: at the reader's threshold
    query: str = ""  # the standalone query actually searched
    generation: int = 0  # the index generation it was answered from
    confidence: float = 0.0

    @property
    def refused(self) -> bool:
        """True when the sources do not hold an answer."""
        return not self.quotes
