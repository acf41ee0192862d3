"""The real server, the real model and a real headless chromium: ask, cite, upload, rebuild."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from rag.config import Settings
from rag.embedding.base import Embedder
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "docs" / "screenshot-chat.png"
SCREENSHOT_DARK_PHONE = REPO / "docs" / "screenshot-chat-dark-phone.png"
SCREENSHOT_LIGHT_PHONE = REPO / "docs" / "screenshot-chat-light-phone.png"
SCREENSHOT_DARK_DESKTOP = REPO / "docs" / "screenshot-chat-dark-desktop.png"
SEED_QUESTION = "How many North Korean troops were moved into Russia's Kursk region?"
# Markup in a source must reach the screen as text: no live tags, no image fetched.
UPLOAD_TEXT = (
    "Port Ellery Harbour\n"
    "The harbour master of Port Ellery is **Mira Quist** <img src=x onerror=alert(1)>, "
    "who has run the harbour since 1998. Mooring costs {{7*7}} or ${7*7} crowns.\n"
    "The harbour closes every winter because of ice.\n"
)
UPLOAD_QUESTION = "Who is the harbour master of Port Ellery?"
TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions: CI may be busy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server_url(tmp_path: Path, seed_dir: Path, real_embedder: Embedder) -> Iterator[str]:
    import uvicorn

    from ui.server import create_server

    port = free_port()
    settings = Settings(
        source_dirs=(seed_dir,), index_dir=tmp_path / "index", host="127.0.0.1", port=port
    )
    app = create_server(settings, real_embedder)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:  # the server starts with no index: the lifespan builds the first one
        try:
            if httpx.get(f"{url}/health", timeout=2).json()["ready"]:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.2)
    yield url
    server.should_exit = True
    thread.join(timeout=15)


def test_ask_cite_upload_rebuild_in_a_real_browser(
    server_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # docs/ keeps the published screenshot; `pytest --update-screenshot` replaces it.
    shot = SCREENSHOT if request.config.getoption("--update-screenshot") else tmp_path / "chat.png"
    upload = tmp_path / "Port Ellery.txt"
    upload.write_text(UPLOAD_TEXT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server_url)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(server_url)
        chat = page.locator("#chat")
        expect(chat).to_contain_text("Kursk region")  # the example questions on the empty chat

        ask(page, "Who won the 2022 football World Cup?")
        expect(chat.locator(".rag-refusal")).to_be_visible()  # a refusal, shown as such

        ask(page, SEED_QUESTION)
        answer = chat.locator(".message").last
        expect(answer).to_contain_text("11,000")
        expect(answer).to_contain_text("[1]")
        expect(answer.locator("strong")).to_have_text("11,000")  # a short answer it is sure of

        # A complete question stands alone; an elliptical one is searched with the last names,
        # and the query used is shown.
        ask(page, "What military technology is North Korea mass-producing?")
        expect(chat.locator(".message").last).to_contain_text("drones")
        assert chat.locator(".message").last.locator(".rag-query").count() == 0
        ask(page, "What about the troops?")
        expect(chat.locator(".message").last.locator(".rag-query")).to_contain_text("Searched for")

        # A short answer the reader is unsure of ("Hermit Kingdom") is not shown: quotes only.
        ask(page, "Where were the troops moved?")
        expect(chat.locator(".message").last.locator("blockquote").first).to_be_visible()
        assert chat.locator(".message").last.locator("strong").count() == 0

        # The session's settings apply to its next question: the strictest refuses.
        page.locator("#settings").get_by_text("Settings").click()
        page.locator("#strictness input[type=number]").fill("1")
        page.locator("#strictness input[type=number]").press("Enter")
        ask(page, SEED_QUESTION)
        expect(chat.locator(".message").last.locator(".rag-refusal")).to_be_visible()
        page.locator("#strictness input[type=number]").fill("0.2")
        page.locator("#strictness input[type=number]").press("Enter")
        ask(page, SEED_QUESTION)
        expect(chat.locator(".message").last).to_contain_text("11,000")
        assert chat.locator("blockquote").count() >= 1
        assert chat.locator("img, script, a[href^='http']").count() == 0

        page.locator("#citations label").first.click()
        mark = page.locator("#passage mark")
        expect(mark).to_contain_text("11,000")
        expect(page.locator("#passage")).to_contain_text("000_5e08608e18cd2d5e.txt")
        page.locator("#whole-source").get_by_text("Whole source").click()
        expect(page.locator("#full-source mark")).to_contain_text("11,000")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        # Copy gives the verbatim quote and its citation as plain text, not Markdown.
        page.locator("#chat").get_by_role("button", name="Copy answer").click()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert "11,000 North Korean troops" in copied and "characters" in copied
        assert "\\" not in copied and "<div" not in copied and copied.startswith("“")

        page.locator("#upload input[type=file]").set_input_files(str(upload))
        # while it rebuilds, the upload's report stays readable: the progress is on the status
        expect(page.locator("#rebuild-report")).to_contain_text("Saved Port Ellery.txt")
        expect(page.locator("#rebuild-report")).to_contain_text("Generation 2", timeout=120_000)
        expect(page.locator("#rebuild-report")).to_contain_text("1 added")

        ask(page, UPLOAD_QUESTION)
        expect(chat.locator(".message").last).to_contain_text("**Mira Quist** <img src=x")
        page.locator("#citations label").first.click()
        passage = page.locator("#passage")
        expect(passage).to_contain_text("Port Ellery.txt")  # the upload keeps its own name
        expect(passage.locator("mark")).to_contain_text("<img src=x onerror=alert(1)>")
        expect(passage).to_contain_text("Mooring costs {{7*7}} or ${7*7} crowns.")
        assert page.locator("#chat img, #passage img, #full-source img").count() == 0

        # The [1] after an earlier answer's quote opens that answer's citation in the panel.
        chat.locator(".message", has_text="11,000").first.locator(".rag-cite").first.click()
        expect(page.locator("#citations")).to_contain_text("North Korea")
        expect(page.locator("#passage mark")).to_contain_text("11,000")

        # A refused upload stays reported; nothing was saved, so no rebuild replaces it.
        broken = tmp_path / "broken.pdf"
        broken.write_bytes(b"%PDF-1.4 not really a PDF")
        page.locator("#upload input[type=file]").set_input_files(str(broken))
        expect(page.locator("#rebuild-report")).to_contain_text("Refused broken.pdf")
        page.wait_for_timeout(2500)
        expect(page.locator("#rebuild-report")).to_contain_text("Refused broken.pdf")

        # "Whole source" opens at the highlight, even at the end of a long text.
        long = tmp_path / "Tide Log.txt"
        filler = "".join(f"Reading {n}: the tide was ordinary that day.\n" for n in range(400))
        long.write_text(filler + "The record tide of the log reached nine metres at Marlow.\n")
        page.locator("#upload input[type=file]").set_input_files(str(long))
        expect(page.locator("#rebuild-report")).to_contain_text("Generation 3", timeout=120_000)
        ask(page, "How high did the record tide of the log reach at Marlow?")
        expect(chat.locator(".message").last).to_contain_text("nine metres")
        page.locator("#citations label").first.click()
        box = page.locator("#full-source .rag-fulltext")
        expect(box.locator("mark")).to_contain_text("nine metres")
        page.wait_for_function(
            "() => { const b = document.querySelector('#full-source .rag-fulltext');"
            " const m = b && b.querySelector('mark'); if (!m) return false;"
            " const top = m.getBoundingClientRect().top - b.getBoundingClientRect().top;"
            " return b.scrollTop > 0 && top >= 0 && top < b.clientHeight; }"
        )

        # The Sources tab lists every source, with a refused file's problem; one can be deleted.
        page.get_by_role("tab", name="Sources").click()
        table = page.locator("#sources-table")
        expect(table).to_contain_text("Tide Log.txt")
        expect(table).to_contain_text("Port Ellery Harbour")
        page.locator("#source-pick input").fill("Tide Log.txt")
        page.get_by_role("option", name="Tide Log.txt").click()
        page.locator("#delete-source").click()
        expect(page.locator("#sources-note")).to_contain_text("Deleted Tide Log.txt")
        expect(table).not_to_contain_text("Tide Log.txt")
        page.get_by_role("tab", name="Chat").click()

        # The conversation survives a reload, its citations included; New chat starts over.
        page.reload()
        expect(chat).to_contain_text("nine metres")
        chat.locator(".message", has_text="11,000").first.click()
        expect(page.locator("#passage mark")).to_contain_text("11,000")
        page.locator("#new-chat").click()
        expect(chat.locator(".message")).to_have_count(0)
        page.reload()
        expect(chat).to_contain_text("Kursk region")  # the empty chat's examples, nothing kept
        expect(chat.locator(".message")).to_have_count(0)
        ask(page, SEED_QUESTION)
        expect(chat.locator(".message").last).to_contain_text("11,000")

        # Clear forgets the whole conversation: the next answer's citation is its own.
        page.locator("#chat button[aria-label='Clear']").first.click()
        expect(chat.locator(".message")).to_have_count(0)
        expect(page.locator("#passage mark")).to_have_count(0)
        ask(page, UPLOAD_QUESTION)
        chat.locator(".message", has_text="Mira Quist").last.click()
        expect(page.locator("#passage mark")).to_contain_text("Mira Quist")
        assert [r for r in requests if not r.startswith((server_url, "data:", "blob:"))] == []

        # The highlight stays readable in the dark theme: dark text on yellow; the chat reads
        # at a phone's width and a desktop's, in either theme.
        update = request.config.getoption("--update-screenshot")
        for theme, width, height, published in (
            ("dark", 390, 844, SCREENSHOT_DARK_PHONE),
            ("light", 390, 844, SCREENSHOT_LIGHT_PHONE),
            ("dark", 1440, 1000, SCREENSHOT_DARK_DESKTOP),
        ):
            other = browser.new_page(
                color_scheme=theme, viewport={"width": width, "height": height}
            )
            other.set_default_timeout(TIMEOUT_MS)
            other.goto(f"{server_url}/?__theme={theme}")
            ask(other, SEED_QUESTION)
            other.locator("#chat .rag-cite").first.click()
            mark = other.locator("#passage mark").first
            expect(mark).to_contain_text("11,000")
            assert mark.evaluate("m => getComputedStyle(m).color") == "rgb(31, 41, 55)"
            other_shot = published if update else tmp_path / f"{theme}-{width}.png"
            other.screenshot(path=str(other_shot), full_page=True)
            assert other_shot.stat().st_size > 10_000
            other.close()
        browser.close()


def ask(page: Page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
