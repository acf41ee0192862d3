"""The chat: answers rendered as inert text, its handlers over a real index, and the mounted app."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from rag.answering.grounding import REFUSAL
from rag.assistant import Assistant
from rag.build.indexer import build_index
from rag.build.rebuild import Rebuilder
from rag.config import Settings
from rag.types import Answer, Quote, Source
from tests.conftest import LOCAL
from tests.fakes import FakeEmbedder
from ui.chat import Chat
from ui.render import escape_markdown, format_answer, passage_html, source_html
from ui.server import create_server

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> ![pic](http://example.com/a.png) "
    "[link](http://example.com) http://example.com www.example.com a@b.org **bold** _it_ `code` "
    "$x^2$ $$y$$ {{tpl}} ${js} &amp; # not a heading\n    indented\n1. not a list\n> not nested"
)


def quote_of(text: str, start: int = 0) -> Quote:
    return Quote(text, "evil.md", "Evil <b>title</b>", start, start + len(text), 0.9, "0" * 64)


def rendered(markdown: str) -> str:
    """Render like a chat client does (CommonMark with raw HTML allowed), for inspection."""
    return MarkdownIt("commonmark", {"html": True}).enable("strikethrough").render(markdown)


def visible_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_escaped_markdown_renders_as_exactly_the_source_text() -> None:
    for line in HOSTILE.splitlines():
        out = rendered(escape_markdown(line))
        assert re.findall(r"<(\w+)", out) == ["p"], out
        assert visible_text(out).strip() == line.strip()


def test_format_answer_shows_block_quotes_with_numbered_citations_and_no_live_markup() -> None:
    answer = Answer(
        question="q?",
        text="joined",
        quotes=(quote_of(HOSTILE), quote_of("Second quote.", 500)),
        short_answer="**11,000**",
        query="q? (North Korea)",
        short_answer_sure=True,
    )
    out = rendered(format_answer(answer))
    tags = set(re.findall(r"<(\w+)", out))
    assert tags <= {"p", "blockquote", "strong", "div", "br", "span"}, tags
    assert out.count("class='rag-cite'") == 2  # each quote's [n] opens its citation
    text = visible_text(out)
    for line in HOSTILE.splitlines():
        assert line.strip() in text.replace("\xa0", " ")
    assert "[1]" in text and "[2]" in text and "Searched for: q? (North Korea)" in text
    assert "Evil <b>title</b> · evil.md, characters 0–" in text


def test_a_short_answer_is_shown_only_when_the_reader_is_sure_of_it() -> None:
    unsure = Answer(question="q?", text="t", quotes=(quote_of("A quote."),), short_answer="Ames")
    assert "Ames" not in format_answer(unsure)
    sure = Answer(
        question="q?",
        text="t",
        quotes=(quote_of("A quote."),),
        short_answer="Ames",
        short_answer_sure=True,
    )
    assert "**Ames**" in format_answer(sure)


def test_a_refusal_is_shown_as_such() -> None:
    out = format_answer(Answer(question="q?", text=REFUSAL, query="q?"))
    assert "rag-refusal" in out and REFUSAL in html.unescape(out) and "<blockquote" not in out


def test_passage_highlights_exactly_the_quoted_span() -> None:
    text = "Intro line.\nBefore <i>x</i> the quoted {{span}} here. After.\nNext paragraph."
    start = text.index("the quoted")
    quote = quote_of("the quoted {{span}} here.", start)
    source = Source("evil.md", Path("/srv/evil.md"), "Evil", text, "0" * 64, "1" * 64)
    out = passage_html(source, quote)
    marked = re.search(r"<mark>(.*?)</mark>", out)
    assert marked and html.unescape(marked.group(1)) == quote.text
    assert "<i>" not in out and "{{" not in out and "/srv" not in out
    assert "Intro line" not in out and "Next paragraph" not in out  # the passage, not the file
    assert "Before &lt;i&gt;x&lt;/i&gt;" in out
    full = source_html(source, quote)
    assert html.unescape(re.sub(r"</?mark>|</?div[^>]*>", "", full)) == text
    stale = passage_html(source, quote_of("not in the text", 3))
    assert "changed since the answer" in stale


@pytest.fixture
def chat(tmp_path: Path, seed_dir: Path) -> Chat:
    settings = Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    assistant = Assistant(settings, embedder)
    rebuilder = Rebuilder(settings, embedder, on_success=lambda _r: assistant.reload())
    (tmp_path / "upload").mkdir()
    return Chat(assistant, rebuilder, tmp_path / "upload")


def test_respond_appends_the_turn_and_shows_the_first_citation(chat: Chat) -> None:
    question = "How many North Korean troops were moved into Russia's Kursk region?"
    cleared, messages, turns, answers, shown, radio, passage, _full, plain = chat.respond(
        question, [], [], []
    )
    assert cleared == "" and [m["role"] for m in messages] == ["user", "assistant"]
    assert turns[0].content == question and turns[1].content == shown.text
    assert answers == [shown]
    if shown.quotes:
        assert radio.value == 0 and "<mark>" in passage
        assert plain.startswith(f"“{shown.quotes[0].text}” [1]") and "characters" in plain
    follow = chat.respond("What about the drones?", messages, turns, answers)
    assert len(follow[1]) == 4 and "Searched for" in follow[1][3]["content"]


def test_respond_says_when_the_question_is_too_long(chat: Chat) -> None:
    long = "x" * (chat.assistant.settings.max_question_chars + 1)
    _, messages, turns, *_ = chat.respond(long, [], [], [])
    assert "longer than" in messages[1]["content"] and turns == []


def test_upload_then_rebuild_reports_counts(chat: Chat, tmp_path: Path) -> None:
    upload = tmp_path / "upload" / "Tide table.txt"
    upload.write_text("High tide at Marlow is at six.\n")
    refused = tmp_path / "upload" / "x.exe"
    refused.write_bytes(b"MZ")
    report = chat.upload([str(upload), str(refused)])
    assert "Saved Tide table" in report and "Refused x" in report
    steps: list[float] = []
    counts, status = chat.rebuild(lambda fraction, desc=None: steps.append(fraction))  # type: ignore[arg-type]
    assert "Generation 2" in counts and "1 added" in counts
    assert "Index generation 2: 2 sources" in html.unescape(status).replace("\\", "")


def test_upload_refuses_files_outside_the_upload_folder(chat: Chat, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code is 4711.\n")
    escape = tmp_path / "upload" / ".." / "secret.txt"
    report = chat.upload([str(secret), str(escape)])
    assert report.count("not a file uploaded to this chat") == 2
    folder = chat.assistant.settings.source_dirs[0]
    assert not [p for p in folder.rglob("*") if "4711" in p.read_text(errors="replace")]


def wait_ready(client: TestClient, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while not (health := client.get("/health").json())["ready"]:
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
    return health


def test_server_builds_the_first_index_and_serves_the_chat(tmp_path: Path, seed_dir: Path) -> None:
    settings = Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index")
    with TestClient(create_server(settings, FakeEmbedder()), base_url=LOCAL) as client:
        assert wait_ready(client)["generation"] == 1
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert client.get("/config").status_code == 200
        assert client.post("/ask", json={"question": "Kursk troops"}).status_code == 200


def test_with_watch_the_server_rebuilds_when_a_source_changes(
    tmp_path: Path, seed_dir: Path
) -> None:
    settings = Settings(
        source_dirs=(seed_dir,), index_dir=tmp_path / "index", watch=True, watch_debounce_s=0.2
    )
    with TestClient(create_server(settings, FakeEmbedder()), base_url=LOCAL) as client:
        assert wait_ready(client)["generation"] == 1
        (seed_dir / "tide.txt").write_text("High tide at Marlow is at six.\n")
        deadline = time.monotonic() + 30
        while client.get("/health").json()["generation"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "tide.txt" in {s["id"] for s in client.get("/sources").json() if s["indexed"]}


def test_the_chat_serves_no_files_outside_its_upload_folder_and_caps_uploads(
    tmp_path: Path, seed_dir: Path
) -> None:
    settings = Settings(
        source_dirs=(seed_dir,), index_dir=tmp_path / "index", upload_max_bytes=1000
    )
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    seed = next(seed_dir.iterdir()).resolve()
    with TestClient(create_server(settings, embedder), base_url=LOCAL) as client:
        for path in (seed, Path("/etc/passwd"), Path(__file__).resolve()):
            assert client.get(f"/gradio_api/file={path}").status_code in (403, 404)
        big = {"files": ("big.txt", b"x" * 5000, "text/plain")}
        assert client.post("/gradio_api/upload", files=big).status_code == 413
        small = {"files": ("small.txt", b"x" * 10, "text/plain")}
        assert client.post("/gradio_api/upload", files=small).status_code == 200


def test_with_an_api_key_the_chat_needs_a_login(tmp_path: Path, seed_dir: Path) -> None:
    settings = Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index", api_key="k3y")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    with TestClient(create_server(settings, embedder), base_url=LOCAL) as client:
        assert client.get("/config").status_code == 401
        assert client.post("/gradio_api/queue/join", json={}).status_code == 401
        assert client.post("/login", data={"username": "u", "password": "nope"}).status_code == 400
        assert client.post("/login", data={"username": "u", "password": "k3y"}).status_code == 200
        assert client.get("/config").status_code == 200
        assert client.post("/ask", json={"question": "Kursk"}).status_code == 401
        assert client.get("/health").status_code == 200


def test_a_conversation_round_trips_through_browser_storage(chat: Chat) -> None:
    question = "How many North Korean troops were moved into Russia's Kursk region?"
    _, messages, turns, answers, *_ = chat.respond(question, [], [], [])
    kept = json.loads(json.dumps(chat.keep(messages, turns, answers)))  # as the browser has it
    again, turns_again, answers_again, shown, *_ = chat.restore(kept)
    assert (again, turns_again, answers_again) == (messages, turns, answers)
    assert shown == answers[-1]
    assert chat.restore({"messages": "garbled"})[:3] == ([], [], [])


def test_the_sources_tab_lists_and_deletes(chat: Chat, tmp_path: Path) -> None:
    folder = chat.assistant.settings.source_dirs[0]
    (folder / "empty.txt").write_text("")
    (folder / "tide.txt").write_text("High tide at Marlow is at six.\n")  # left after a delete
    rows, pick = chat.sources()
    by_file = {row[0]: row for row in rows}
    assert by_file["empty.txt"][6] and "empty" in by_file["empty.txt"][6]  # its problem
    seed = next(row for row in rows if row[0].endswith(".txt") and row[5] == "yes")
    assert seed[2] == "TXT" and seed[4] > 0 and seed[3].endswith("kB")
    assert seed[0] in [choice[0] for choice in pick.choices]
    quiet = lambda *_args, **_kwargs: None  # noqa: E731 (stands in for gr.Progress)
    note, rows_after, *_ = chat.delete(seed[0], quiet)  # type: ignore[arg-type]
    assert f"Deleted {seed[0]}" in html.unescape(note).replace("\\", "")
    assert seed[0] not in {row[0] for row in rows_after} and not (folder / seed[0]).exists()


def test_session_settings_change_how_a_question_is_answered(chat: Chat) -> None:
    question = "How many North Korean troops were moved into Russia's Kursk region?"
    answered = chat.respond(question, [], [], [])[3][-1]
    strict = chat.respond(question, [], [], [], 8, 3, 1.0)[3][-1]  # strictness at its highest
    assert not answered.refused and strict.refused
    one = chat.respond(question, [], [], [], 8, 1, 0.0)[3][-1]
    assert len(one.quotes) == 1
