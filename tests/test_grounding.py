"""Quote selection and refusal over a real (fake-embedded) store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.grounding import REFUSAL, Policy, answer
from rag.build.indexer import build_index
from rag.config import Settings
from rag.index.generations import load_current
from rag.index.local import LocalStore
from rag.reading.base import Reading
from rag.reading.features import candidates, store_lexicon
from rag.text.blocks import UNIT_CHARS
from rag.text.kinds import NUMBER, OPTION, asked_kind, holds_kind
from rag.types import Hit
from tests.fakes import FakeEmbedder

POLICY = Policy(threshold=0.5, quote_ratio=0.5, max_quotes=3, other_source_ratio=0.2)
# A paragraph too long to be quoted whole: its sentences are quoted one by one.
PADDING = " ".join(f"Filler sentence number {i} pads the paragraph." for i in range(20))


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "a.txt").write_text(
        "Alpha\n\nThe first fact is here. The second fact follows it. "
        f"{PADDING} A third one ends it.\n\n"
        "A short note starts here. Its second sentence holds the answer.\n",
        encoding="utf-8",
    )
    (sources / "b.txt").write_text("Beta\n\nAnother source says something else.\n", "utf-8")
    embedder = FakeEmbedder()
    settings = Settings(source_dirs=(sources,), index_dir=tmp_path / "index")
    build_index(settings, embedder)
    return load_current(settings.index_dir, embedder)


def reading(store: LocalStore, scores: dict[str, float], answerable: float) -> Reading:
    """A reading whose candidates are the store's sentences with the given scores."""
    hits = [
        Hit(chunk=c, row=row, title=store.sources[c.source_id].title, score=0.0)
        for row, c in enumerate(store.chunks)
    ]
    found = [c for c in candidates(hits, store) if c.text in scores]
    found.sort(key=lambda c: -scores[c.text])
    return Reading(tuple(found), tuple(scores[c.text] for c in found), answerable)


def test_low_answerability_is_a_refusal(store: LocalStore) -> None:
    result = answer(
        "q", reading(store, {"The first fact is here.": 0.9}, 0.2), store, POLICY, "q", 1
    )
    assert result.refused and result.quotes == () and result.text == REFUSAL


def test_quotes_are_verbatim_and_adjacent_sentences_merge(store: LocalStore) -> None:
    scores = {"The first fact is here.": 0.9, "The second fact follows it.": 0.6}
    result = answer("q", reading(store, scores, 0.9), store, POLICY, "q", 7)
    assert len(result.quotes) == 1
    quote = result.quotes[0]
    assert quote.text == "The first fact is here. The second fact follows it."
    assert store.sources[quote.source].text[quote.start : quote.end] == quote.text
    assert quote.sha256 == store.sources["a.txt"].sha256
    assert result.generation == 7 and "[1]" in result.text


def test_a_sentence_is_quoted_with_the_rest_of_its_short_paragraph(store: LocalStore) -> None:
    result = answer(
        "q", reading(store, {"A short note starts here.": 0.9}, 0.9), store, POLICY, "q", 1
    )
    assert [q.text for q in result.quotes] == [
        "A short note starts here. Its second sentence holds the answer."
    ]
    long = store.sources["a.txt"].text.split("\n\n")[1]
    assert len(long) > UNIT_CHARS  # ... but a long paragraph is quoted sentence by sentence


def test_weak_sentences_of_the_same_source_are_left_out(store: LocalStore) -> None:
    scores = {"The first fact is here.": 0.9, "A third one ends it.": 0.3}
    result = answer("q", reading(store, scores, 0.9), store, POLICY, "q", 1)
    assert [q.text for q in result.quotes] == ["The first fact is here."]


def test_another_source_joins_on_a_lower_bar(store: LocalStore) -> None:
    scores = {"The first fact is here.": 0.9, "Another source says something else.": 0.3}
    result = answer("q", reading(store, scores, 0.9), store, POLICY, "q", 1)
    assert [q.source for q in result.quotes] == ["a.txt", "b.txt"]


def test_a_question_asking_for_a_number_is_refused_by_a_quote_without_one(
    store: LocalStore,
) -> None:
    scores = {"The first fact is here.": 0.9}
    asked = answer("How many facts are there?", reading(store, scores, 0.9), store, POLICY, "q", 1)
    assert asked.refused
    plain = answer("Which fact comes first?", reading(store, scores, 0.9), store, POLICY, "q", 1)
    assert not plain.refused


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many seconds is the default interval?", NUMBER),
        ("What numeric value does MAX_SIZE have?", NUMBER),
        ("Is os.cpus().length the way to decide how many threads to start?", None),
        ("Which idn2 option reads names from a file?", OPTION),
        ("Which command-line option tells xz how many threads to use?", OPTION),
        ("How long did the war last?", None),
    ],
)
def test_the_kind_of_answer_asked_for(question: str, kind: str | None) -> None:
    assert asked_kind(question) == kind


def test_a_quote_holds_a_number_or_an_option() -> None:
    assert holds_kind("default is 75", NUMBER) and holds_kind("nine factors", NUMBER)
    assert not holds_kind("ASN1_MAX_NAME_SIZE is the maximum of an ASN.1 name", NUMBER)
    assert holds_kind("use --with-system-libdir", OPTION) and holds_kind("xz -6 is", OPTION)
    assert not holds_kind("the x-ray option reads files", OPTION)


def test_a_second_hop_named_by_another_sentence_of_the_first_source_is_quoted(
    tmp_path: Path,
) -> None:
    """ "Luther is an executive." is the best sentence, but "He ran Dunkin Brands." names the
    second source: both follow it, so the chain reads whole."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "luther.txt").write_text(
        f"Jon Luther\n\nJon Luther is an American executive. {PADDING} "
        "He was the chief executive of Dunkin Brands.\n",
        encoding="utf-8",
    )
    (sources / "dunkin.txt").write_text(
        "Dunkin Brands\n\nIt is headquartered in Canton, Massachusetts.\n", encoding="utf-8"
    )
    embedder = FakeEmbedder()
    settings = Settings(source_dirs=(sources,), index_dir=tmp_path / "index")
    build_index(settings, embedder)
    store = load_current(settings.index_dir, embedder)
    scores = {
        "Jon Luther is an American executive.": 0.9,
        "He was the chief executive of Dunkin Brands.": 0.1,
        "It is headquartered in Canton, Massachusetts.": 0.05,
    }
    question = "In which city is the company Jon Luther ran headquartered?"
    lexicon = store_lexicon(store)
    result = answer(question, reading(store, scores, 0.9), store, POLICY, question, 1, lexicon)
    assert [q.text for q in result.quotes] == list(scores)
    one = answer(question, reading(store, scores, 0.9), store, replace(POLICY, max_quotes=2),
                 question, 1, lexicon)  # fmt: skip
    assert [q.text for q in one.quotes] == ["Jon Luther is an American executive."]  # no room
