"""The API's request and response bodies: Answer, Hit and index state as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from rag import Answer, Hit

if TYPE_CHECKING:
    from rag import BuildReport, CatalogEntry, RebuildStatus

# Bounds on a request body that Settings does not cover: they keep one request small.
MAX_HISTORY_TURNS = 50
MAX_TURN_CHARS = 20_000


def _encodable(text: str) -> str:
    """Refuse text that cannot be written as UTF-8 (a lone surrogate from a JSON escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError("the text holds a lone surrogate (invalid Unicode)") from err
    return text


def _whole(value: object) -> object:
    """Turn a float with no fraction into an int; leave anything else to the int check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Text a client sends: valid Unicode. `Asked` also holds a character other than white space.
Text = Annotated[str, AfterValidator(_encodable)]
# JSON Schema counts 5.0 as an integer, so a strict model must too (but never 5.5 or "5").
Count = Annotated[int, Field(ge=1, le=100), BeforeValidator(_whole)]
# "Holds a character that is not white space", spelt out so that JSON Schema's regex, pydantic's
# and Python's agree on it (each reads `\S` differently: U+FEFF, U+001C..U+001F, U+0085).
SPACES = "".join(c for c in map(chr, range(0x10000)) if c.isspace()) + "\ufeff"
Asked = Annotated[str, Field(min_length=1, pattern=f"[^{SPACES}]"), AfterValidator(_encodable)]


class Request(BaseModel):
    """A request body: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class TurnIn(Request):
    role: Literal["user", "assistant"]
    content: Text = Field(max_length=MAX_TURN_CHARS)


class AskRequest(Request):
    question: Asked = Field(description="The question; at most `max_question_chars` characters.")
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns, oldest first, for a follow-up question.",
    )
    top_k: Count | None = Field(default=None, description="Passages to retrieve.")


class SearchRequest(Request):
    query: Asked = Field(description="The query; at most `max_question_chars` characters.")
    k: Count | None = Field(default=None, description="Passages to return.")


class QuoteOut(BaseModel):
    text: str = Field(description="Exactly `source_text[start:end]` of the cited source.")
    source: str
    title: str
    start: int
    end: int
    score: float
    sha256: str = Field(description="sha256 of the source text the span was cut from.")
    page: int | None = Field(default=None, description="The PDF page the quote starts on.")
    section: str | None = Field(
        default=None, description="The heading of the section the quote sits under."
    )


class AskResponse(BaseModel):
    question: str
    answer: str
    refused: bool
    quotes: list[QuoteOut]
    short_answer: str = Field(description="The answer in a few words, cut from the first quote.")
    short_answer_confidence: float = Field(description="The reader's confidence in it, 0 to 1.")
    short_answer_sure: bool = Field(
        description="Confident enough to show (the reader's calibrated threshold); the chat shows "
        "the short answer only then."
    )
    query: str = Field(description="The standalone query actually searched.")
    generation: int = Field(description="The index generation that answered.")

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        """Present an Answer the way `rag ask --json` does."""
        return cls(
            question=answer.question,
            answer=answer.text,
            refused=answer.refused,
            quotes=[
                QuoteOut(
                    text=q.text,
                    source=q.source,
                    title=q.title,
                    start=q.start,
                    end=q.end,
                    score=q.score,
                    sha256=q.sha256,
                    page=q.page,
                    section=q.section,
                )
                for q in answer.quotes
            ],
            short_answer=answer.short_answer,
            short_answer_confidence=answer.short_confidence,
            short_answer_sure=answer.short_answer_sure,
            query=answer.query,
            generation=answer.generation,
        )


class HitOut(BaseModel):
    chunk: str
    source: str
    title: str
    start: int
    end: int
    score: float
    text: str

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        """Present a retrieved passage with its span."""
        chunk = hit.chunk
        return cls(
            chunk=chunk.id,
            source=chunk.source_id,
            title=hit.title,
            start=chunk.start,
            end=chunk.end,
            score=hit.score,
            text=chunk.text,
        )


class SearchResponse(BaseModel):
    query: str
    generation: int
    hits: list[HitOut]


class SourceSummary(BaseModel):
    id: str
    title: str | None = Field(description="Known once the source is indexed.")
    sha256: str | None = Field(description="sha256 of the indexed text.")
    chunks: int
    indexed: bool = Field(description="The index holds this file's current content.")
    on_disk: bool = Field(description="The file is still in a source folder.")
    size: int | None = Field(default=None, description="The file's bytes, while on disk.")
    problem: str | None = Field(default=None, description="Why the file cannot be indexed.")

    @classmethod
    def of(cls, entry: CatalogEntry) -> SourceSummary:
        """Present one catalog entry (its fields are this model's; no path in a problem)."""
        problem = without_paths(entry.problem) if entry.problem else None
        return cls.model_validate(entry, from_attributes=True).model_copy(
            update={"problem": problem}
        )


class SourceDetail(BaseModel):
    id: str
    title: str
    sha256: str
    file_sha256: str
    chunks: int
    generation: int
    text: str = Field(description="The extracted text every quote offset points into.")


class Uploaded(BaseModel):
    id: str
    size: int
    file_sha256: str
    indexed: bool = Field(default=False, description="Not yet: the rebuild indexes it.")
    rebuild_requested: bool = Field(default=False, description="A rebuild will index it.")


class Deleted(BaseModel):
    id: str
    deleted: bool = True
    rebuild_requested: bool = Field(default=False, description="A rebuild will drop it.")


class SkippedOut(BaseModel):
    file: str
    reason: str


class BuildReportOut(BaseModel):
    generation: int
    added: int
    changed: int
    removed: int
    unchanged: int
    skipped: int
    skipped_files: list[SkippedOut]
    sources: int
    chunks: int
    embedded: int
    seconds: float
    published: bool = Field(description="False when nothing changed: `generation` still serves.")

    @classmethod
    def of(cls, report: BuildReport) -> BuildReportOut:
        """Present a build report; skipped files by name only."""
        return cls(
            generation=report.generation,
            added=report.added,
            changed=report.changed,
            removed=report.removed,
            unchanged=report.unchanged,
            skipped=len(report.skipped),
            skipped_files=[
                SkippedOut(file=s.path.name, reason=without_paths(s.reason)) for s in report.skipped
            ],
            sources=report.sources,
            chunks=report.chunks,
            embedded=report.embedded,
            seconds=report.seconds,
            published=report.published,
        )


class IndexState(BaseModel):
    state: Literal["idle", "running", "succeeded", "failed"]
    stage: str
    done: int
    total: int
    generation: int = Field(description="The generation queries are answered from now.")
    report: BuildReportOut | None
    error: str | None

    @classmethod
    def of(cls, current: RebuildStatus, generation: int) -> IndexState:
        """Present the rebuilder's status next to the generation being served."""
        report = current.report
        return cls(
            state=current.state,
            stage=current.stage,
            done=current.done,
            total=current.total,
            generation=generation,
            report=BuildReportOut.of(report) if report else None,
            error=without_paths(current.error) if current.error else None,
        )


def without_paths(text: str) -> str:
    """Return a library message with every path-like word replaced (paths never leave)."""
    return " ".join("<path>" if "/" in word else word for word in text.split())


class Health(BaseModel):
    ready: bool
    generation: int
    model_id: str
    rebuild: str
    problems: list[str]


class ErrorOut(BaseModel):
    """Every error body: one sentence saying why, never a path or an exception's class."""

    detail: str
