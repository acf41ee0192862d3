"""The grounded assistant end to end, with the real packaged model and a real FAISS index."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.grounding import REFUSAL
from rag.assistant import Assistant
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.onnx import OnnxEmbedder
from rag.errors import IndexMismatch, IndexMissing
from rag.types import Answer, Turn
from tests.conftest import SEEDS
from tests.fakes import FakeEmbedder

SEED = "000_5e08608e18cd2d5e.txt"
TROOPS = "How many North Korean troops were moved into Russia's Kursk region?"
OFF_TOPIC = [
    "What is the boiling point of mercury?",
    "Who won the 1998 FIFA World Cup?",
    "How do I bake sourdough bread at home?",
    "What is the capital of Australia?",
]


def assert_verbatim(answer: Answer, folders: tuple[Path, ...]) -> None:
    """Every quote equals its source file's text at its offsets."""
    for quote in answer.quotes:
        path = next(d / quote.source for d in folders if (d / quote.source).exists())
        with open(path, encoding="utf-8", newline="") as handle:
            assert handle.read()[quote.start : quote.end] == quote.text


@pytest.mark.model
def test_seed_question_quotes_the_troop_sentence(
    seed_assistant: Assistant, seed_settings: Settings
) -> None:
    answer = seed_assistant.ask(TROOPS)
    assert not answer.refused
    assert "11,000" in answer.quotes[0].text
    assert answer.quotes[0].source == SEED
    assert answer.quotes[0].title.startswith("North Korea")
    assert answer.generation == seed_assistant.generation >= 1
    assert_verbatim(answer, seed_settings.source_dirs)


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "short"),
    [
        (TROOPS, "11,000"),
        # the feature reader alone answered "production of advanced military technology"
        ("What kind of drones is North Korea mass producing?", "kamikaze"),
        ("Who is the Supreme Leader of North Korea?", "Kim Jong Un"),
    ],
)
def test_the_short_answer_is_what_was_asked_for(
    seed_assistant: Assistant, question: str, short: str
) -> None:
    answer = seed_assistant.ask(question)
    assert short in answer.short_answer
    assert answer.short_answer in answer.quotes[0].text
    assert len(answer.short_answer) < 40
    assert answer.short_answer_sure  # shown: the reader is confident in it


@pytest.mark.model
def test_a_short_answer_the_reader_is_unsure_of_is_not_shown(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("Where were the troops moved?")
    assert not answer.refused and answer.short_answer
    assert "Kursk" not in answer.short_answer  # a wrong pick ("Hermit Kingdom")...
    assert not answer.short_answer_sure  # ...that the chat does not show


@pytest.mark.model
@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_refused(seed_assistant: Assistant, question: str) -> None:
    answer = seed_assistant.ask(question)
    assert answer.refused
    assert answer.quotes == ()
    assert answer.text == REFUSAL


@pytest.mark.model
def test_on_topic_questions_cite_the_seed(
    seed_assistant: Assistant, seed_settings: Settings
) -> None:
    for question, expected in [
        ("What kind of drones is North Korea mass producing?", "kamikaze drones"),
        ("Who is the Supreme Leader of North Korea?", "Kim Jong Un"),
    ]:
        answer = seed_assistant.ask(question)
        assert not answer.refused, question
        assert any(expected in q.text for q in answer.quotes), (question, answer.text)
        assert_verbatim(answer, seed_settings.source_dirs)


@pytest.mark.model
def test_follow_up_uses_the_conversation(seed_assistant: Assistant) -> None:
    history = [Turn("user", TROOPS), Turn("assistant", "...")]
    answer = seed_assistant.ask("What about the drones?", history=history)
    assert answer.query != answer.question
    assert not answer.refused
    assert any("drone" in q.text for q in answer.quotes)


@pytest.mark.model
def test_rebuild_after_adding_a_file_answers_from_it(
    tmp_path: Path, seed_dir: Path, real_embedder: OnnxEmbedder
) -> None:
    sources = seed_dir
    settings = Settings(source_dirs=(sources,), index_dir=tmp_path / "index")
    build_index(settings, real_embedder)
    assistant = Assistant(settings, real_embedder)
    question = "How tall is the Skerryvore lighthouse?"
    assert assistant.ask(question).refused
    (sources / "lighthouse.txt").write_text(
        "Skerryvore Lighthouse\n\nSkerryvore is a lighthouse off the west coast of Scotland. "
        "The Skerryvore lighthouse is 48 metres tall, the tallest in Scotland. "
        "It was built between 1838 and 1844 by Alan Stevenson.\n",
        encoding="utf-8",
    )
    report = build_index(settings, real_embedder)
    assert (report.added, report.unchanged) == (1, 1)
    assert assistant.reload()
    answer = assistant.ask(question)
    assert not answer.refused
    assert answer.quotes[0].source == "lighthouse.txt"
    assert "48 metres" in answer.quotes[0].text
    assert answer.generation == report.generation
    assert_verbatim(answer, settings.source_dirs)


@pytest.mark.model
def test_broken_files_are_skipped_and_the_rest_answer(
    tmp_path: Path, seed_dir: Path, real_embedder: OnnxEmbedder
) -> None:
    sources = seed_dir
    (sources / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    (sources / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    settings = Settings(source_dirs=(sources,), index_dir=tmp_path / "index")
    report = build_index(settings, real_embedder)
    skipped = {s.path.name: s.reason for s in report.skipped}
    assert set(skipped) == {"binary.txt", "broken.pdf"}
    assert all(reason for reason in skipped.values())
    assert "11,000" in Assistant(settings, real_embedder).ask(TROOPS).text


@pytest.mark.model
def test_an_index_of_another_model_is_refused_clearly(
    tmp_path: Path, real_embedder: OnnxEmbedder
) -> None:
    settings = Settings(source_dirs=(SEEDS,), index_dir=tmp_path / "index")
    build_index(settings, FakeEmbedder())
    assistant = Assistant(settings, real_embedder)
    assert not assistant.ready
    assert any("fake/bag-of-words" in p for p in assistant.problems)
    with pytest.raises(IndexMismatch, match="fake/bag-of-words") as first:
        assistant.ask(TROOPS)
    with pytest.raises(IndexMismatch, match="fake/bag-of-words") as second:
        assistant.ask(TROOPS)
    assert first.value is not second.value  # a stored error re-raised would grow its traceback


def test_no_index_yet_is_reported(tmp_path: Path) -> None:
    assistant = Assistant(Settings(index_dir=tmp_path / "none"), FakeEmbedder())
    assert not assistant.ready
    with pytest.raises(IndexMissing, match="rag index"):
        assistant.ask(TROOPS)


PAINTERS = {  # a two-hop question: the painter's page names the work, the work's page the museum
    "kells.txt": "Marta Kells\n\nMarta Kells is a painter from Oslo whose best known work is "
    "Glass Harbour. She died in 1961.",
    "harbour.txt": "Glass Harbour\n\nGlass Harbour is an oil painting of fishing boats at dawn. "
    "It hangs in the Bergen Museum of Art.",
    **{
        f"painter{i}.txt": f"{name}\n\n{name} is a painter from {city}. {pronoun} best known work "
        f"is {work}. It is famous for its colours."
        for i, (name, city, pronoun, work) in enumerate(
            [
                ("Jonas Brekke", "Trondheim", "His", "Winter Field"),
                ("Ida Sandvik", "Stavanger", "Her", "Red Orchard"),
                ("Lars Moen", "Oslo", "His", "The Mill Pond"),
                ("Sofie Dahl", "Tromso", "Her", "Northern Light"),
                ("Erik Holm", "Bergen", "His", "Quiet Street"),
            ]
        )
    },
    **{
        f"museum{i}.txt": f"{museum}\n\n{museum} is an art museum in {city}. It holds paintings "
        "by many painters of the nineteenth century."
        for i, (museum, city) in enumerate(
            [("Oslo National Gallery", "Oslo"), ("Trondheim Art Hall", "Trondheim")]
        )
    },
}


def painters(tmp_path: Path, embedder: OnnxEmbedder, **overrides: int) -> Assistant:
    """An Assistant over the PAINTERS corpus, indexed with the real model."""
    sources = tmp_path / "sources"
    sources.mkdir()
    for name, text in PAINTERS.items():
        (sources / name).write_text(text)
    settings = Settings(source_dirs=(sources,), index_dir=tmp_path / "index", **overrides)
    build_index(settings, embedder)
    return Assistant(settings, embedder)


@pytest.mark.model
def test_search_follows_the_bridge_to_the_second_document(
    tmp_path: Path, real_embedder: OnnxEmbedder
) -> None:
    assistant = painters(tmp_path, real_embedder, top_k=4)
    question = "In which museum does the best known work of Marta Kells hang?"
    plain = [h.chunk.source_id for h in assistant._current().retriever.retrieve(question, 3)]
    assert plain[0] == "kells.txt" and "harbour.txt" not in plain  # one hop misses it
    found = [h.chunk.source_id for h in assistant.search(question, 3)]
    assert found[:2] == ["kells.txt", "harbour.txt"]  # "Glass Harbour" led the second hop


@pytest.mark.model
def test_a_two_document_answer_quotes_both_hops_in_order(
    tmp_path: Path, real_embedder: OnnxEmbedder
) -> None:
    assistant = painters(tmp_path, real_embedder)
    two_hops = assistant.ask("In which museum does the best known work of Marta Kells hang?")
    assert_verbatim(two_hops, assistant.settings.source_dirs)
    assert [q.source for q in two_hops.quotes] == ["kells.txt", "harbour.txt"]
    first, second = (q.text for q in two_hops.quotes)  # each quoted with its short paragraph
    assert "best known work is Glass Harbour." in first
    assert "It hangs in the Bergen Museum of Art." in second  # what the first left open
    one_hop = assistant.ask("What is the best known work of Marta Kells?")
    assert [q.source for q in one_hop.quotes] == ["kells.txt"]  # nothing left open: one quote


@pytest.mark.model
@pytest.mark.parametrize("reader", ["linear", "neural", "both"])
def test_both_shipped_readers_quote_the_seed(
    seed_settings: Settings, real_embedder: OnnxEmbedder, reader: str
) -> None:
    from rag.reading.load import load_reader

    assistant = Assistant(seed_settings, real_embedder, load_reader(reader))
    answer = assistant.ask(TROOPS)
    assert "11,000" in answer.quotes[0].text
    assert_verbatim(answer, seed_settings.source_dirs)
    assert assistant.ask(OFF_TOPIC[0]).refused
