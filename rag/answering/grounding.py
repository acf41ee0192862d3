"""Reading -> Answer: verbatim quotes with citations, or a refusal. Nothing else is said."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.errors import IndexCorrupt
from rag.index.base import Store
from rag.reading.base import Reader, Reading
from rag.text.blocks import UNIT_CHARS
from rag.text.kinds import asked_kind, asks_release, holds_kind
from rag.text.lexicon import Lexicon
from rag.text.sections import names_version, opening, section_of, versioned_section_at
from rag.text.units import unit_at
from rag.types import Answer, Quote, Sentence

REFUSAL = "The sources do not contain an answer to this question."


@dataclass(frozen=True, slots=True)
class Policy:
    """How many quotes to give, and when to refuse instead."""

    threshold: float  # refuse when answerability is below this
    quote_ratio: float  # a further quote needs this share of the best quote's probability
    max_quotes: int
    other_source_ratio: float  # the same, for a quote from a source not yet quoted
    short_threshold: float = 0.0  # a short answer is sure (shown) at this confidence or above


def _pick(reading: Reading, policy: Policy) -> list[tuple[Sentence, float]]:
    """Return the best sentence, then those close enough to it, best first.

    A sentence from a source not yet quoted needs less (`other_source_ratio`): a question
    that joins facts from two documents is answered by quoting both.
    """
    if not reading.candidates:
        return []
    best = reading.probabilities[0]
    picked: list[tuple[Sentence, float]] = []
    sources: set[str] = set()
    for candidate, probability in zip(reading.candidates, reading.probabilities, strict=True):
        if len(picked) == policy.max_quotes:
            break
        sentence = candidate.sentence
        ratio = policy.quote_ratio if sentence.source_id in sources else policy.other_source_ratio
        if picked and probability < best * ratio:
            continue
        picked.append((sentence, probability))
        sources.add(sentence.source_id)
    return picked


def _bridge(
    question: str,
    reading: Reading,
    picked: list[tuple[Sentence, float]],
    max_quotes: int,
    lexicon: Lexicon,
) -> list[tuple[Sentence, float]]:
    """Add the second hop of a two-document answer.

    When the best quote names a source that the question does not, and a sentence of that
    source holds question terms the best quote lacks, that sentence follows it: "A's best work
    is B." then "B hangs in C." for "Where does A's best work hang?". When another sentence of
    the best quote's source names it instead ("A is a painter." ... "A's best work is B."),
    that sentence links the two and is quoted too.
    """
    if not picked or len(picked) >= max_quotes:
        return picked
    best = reading.candidates[0]
    asked = question.lower()
    open_terms = set(lexicon.terms(question)) - set(lexicon.terms(f"{best.title} {best.text}"))
    quoted = {sentence.source_id for sentence, _ in picked}
    chosen = {sentence for sentence, _ in picked}
    scored = list(zip(reading.candidates, reading.probabilities, strict=True))
    own_title = best.title.strip().lower()
    hops = [  # sentences of another, unquoted source that the question does not name
        (c.title.strip().lower(), c, p)
        for c, p in scored
        if c.sentence.source_id not in quoted
        and c.title.strip().lower() != own_title
        and not _names_in(c.title.strip().lower(), asked)
        and open_terms & set(lexicon.terms(c.text))
    ]
    links = [(c, p) for c, p in scored if c.sentence.source_id == best.sentence.source_id]
    for link, link_probability in links:  # the best sentence first
        said = link.text.lower()
        added = [] if link.sentence in chosen else [(link.sentence, link_probability)]
        if len(picked) + len(added) >= max_quotes:
            continue
        for title, candidate, probability in hops:
            if _names_in(title, said):
                return [*picked, *added, (candidate.sentence, probability)]
    return picked


def _names_in(title: str, text: str) -> bool:
    """Does the text name this title, as whole words?"""
    return len(title) > 2 and re.search(rf"(?<!\w){re.escape(title)}(?!\w)", text) is not None


def _merge_adjacent(
    picked: list[tuple[Sentence, float]], store: Store
) -> list[tuple[Sentence, float]]:
    """Join spans of one source that overlap or follow each other into one span."""
    merged: list[tuple[Sentence, float]] = []
    for sentence, score in picked:
        text = store.sources[sentence.source_id].text
        for i, (other, other_score) in enumerate(merged):
            if other.source_id != sentence.source_id:
                continue
            first, second = sorted((other, sentence), key=lambda s: s.start)
            if second.start < first.end or not text[first.end : second.start].strip():
                span = Sentence(sentence.source_id, first.start, max(first.end, second.end))
                merged[i] = (span, max(score, other_score))
                break
        else:
            merged.append((sentence, score))
    return merged


def _whole_units(
    picked: list[tuple[Sentence, float]], store: Store
) -> list[tuple[Sentence, float]]:
    """Widen each picked span to the short unit that holds it (`_merge_adjacent` then joins
    spans that overlap). A table row is quoted from its table's header when `units` says
    they fit together."""
    out: list[tuple[Sentence, float]] = []
    for sentence, score in picked:
        text = store.sources[sentence.source_id].text
        unit = unit_at(text, sentence.start, sentence.end)
        if unit is not None and unit.end - unit.start <= UNIT_CHARS:
            end = opening(text, unit.start, unit.end)  # a heading, with what opens its section
            sentence = Sentence(sentence.source_id, unit.quote_start, end)
        out.append((sentence, score))
    return out


def quote(store: Store, sentence: Sentence, score: float) -> Quote:
    """Cut a quote from its source, checking that it is verbatim."""
    source = store.sources[sentence.source_id]
    text = source.text[sentence.start : sentence.end]
    if not text or text != text.strip():
        raise IndexCorrupt(f"span {sentence.start}:{sentence.end} of {source.id} is not a sentence")
    return Quote(
        text=text,
        source=source.id,
        title=source.title,
        start=sentence.start,
        end=sentence.end,
        score=round(score, 4),
        sha256=source.sha256,
        page=source.page_at(sentence.start),
        section=section_of(source.text, sentence.start),
    )


def _with_release(question: str, quotes: tuple[Quote, ...], store: Store) -> tuple[Quote, ...]:
    """Quote the release heading above the first quote first, when the question asks for a
    release or version that no quote names ("* Noteworthy changes in release 1.6 ...")."""
    if not quotes or not asks_release(question):
        return quotes
    if any(names_version(q.text) for q in quotes):
        return quotes
    first = quotes[0]
    found = versioned_section_at(store.sources[first.source].text, first.start)
    if found is None:
        return quotes
    return (quote(store, Sentence(first.source, *found), first.score), *quotes)


def compose(quotes: tuple[Quote, ...]) -> str:
    """Join quotes with fixed connecting words and numbered citations."""
    return "\n".join(f"“{q.text}” [{i}]" for i, q in enumerate(quotes, start=1))


def answer(
    question: str,
    reading: Reading,
    store: Store,
    policy: Policy,
    query: str,
    generation: int,
    lexicon: Lexicon | None = None,
    reader: Reader | None = None,
) -> Answer:
    """Answer with verbatim quotes from the reading, or refuse.

    Args:
        lexicon: the store's terms; with it, a two-document answer quotes its second hop.
        reader: with it (and the lexicon), the short answer is cut from the first quote.
    """
    refusal = Answer(
        question=question,
        text=REFUSAL,
        query=query,
        generation=generation,
        confidence=round(reading.answerable, 4),
    )
    if reading.answerable < policy.threshold:
        return refusal
    picked = _pick(reading, policy)
    if lexicon is not None:
        picked = _bridge(question, reading, picked, policy.max_quotes, lexicon)
    spans = _merge_adjacent(_whole_units(picked, store), store)
    quotes = _with_release(question, tuple(quote(store, s, p) for s, p in spans), store)
    kind = asked_kind(question)
    if not quotes or (kind is not None and not any(holds_kind(q.text, kind) for q in quotes)):
        return refusal  # nothing quoted, or nothing of the kind asked for ("how many ...?")
    short, confidence = _short_answer(question, reading, quotes[0], store, reader, lexicon)
    return Answer(
        question=question,
        text=compose(quotes),
        quotes=quotes,
        short_answer=short,
        short_confidence=round(confidence, 4),
        short_answer_sure=bool(short) and confidence >= policy.short_threshold,
        query=query,
        generation=generation,
        confidence=round(reading.answerable, 4),
    )


def _short_answer(
    question: str,
    reading: Reading,
    first: Quote,
    store: Store,
    reader: Reader | None,
    lexicon: Lexicon | None,
) -> tuple[str, float]:
    """The reading's own span when it lies in the first quote, else the reader's pick in it,
    with the reader's confidence in it."""
    for candidate, span in zip(reading.candidates, reading.spans, strict=False):
        inside = span is not None and first.start <= span[0] < span[1] <= first.end
        if candidate.sentence.source_id == first.source and span is not None and inside:
            return store.sources[first.source].text[span[0] : span[1]], reading.answerable
    if reader is None or lexicon is None:
        return "", 0.0
    start, end, confidence = reader.short_answer(question, first.text, lexicon)
    return first.text[start:end], confidence
