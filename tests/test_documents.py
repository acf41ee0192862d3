"""Real documents read as a person reads them: wrapped lines, lists, hidden HTML, PDF furniture."""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import SourceError
from rag.sources.extract import load_source
from rag.sources.pdf import extract_pdf
from rag.text.chunking import chunk, split_sentences
from rag.types import Source, SourceFile
from tests.conftest import SHARED

REALDOCS = SHARED / "eval" / "realdocs" / "corpus"

README = """\
Tidewater README
================

Tidewater keeps a log of every tide reading. If the gauge is not
calibrated you can use the tide-check utility to compare it with the
harbour table and optionally correct it.

Readings from the old float gauge should not be used for the harbour
table. Use the radar gauge for this purpose.

The package installs three programs:

  - tide-check, which compares a gauge with the harbour table
  - tide-log, which appends a reading to the log
  - tide-plot, which draws a week of readings
"""

NEWS = """\
GNU tide NEWS                                    -*- outline -*-

* Noteworthy changes in release 2.4 (2024-03-02) [stable]

** Bug fixes

  tide-plot no longer crashes on an empty week.

* Noteworthy changes in release 2.3 (2023-11-20) [stable]

** New features

  tide-log now accepts the --harbour option, which names the harbour a
  reading was taken at.

** Bug fixes

  tide-check no longer rounds readings to whole metres.
"""

HIDDEN = """<html><head><title>Harbour notes</title></head><body>
<h1>Harbour notes</h1>
<p>The harbour opens at six in the morning.</p>
<p style="display: none">The secret mooring code is 4711.</p>
<div hidden>The night gate code is 8080.</div>
<p>The ferry timetable for the harbour is:</p>
<table><thead><tr><th>Season</th><th>First ferry</th><th>Last ferry</th></tr></thead>
<tbody><tr><td>Summer</td><td>05:00</td><td>23:00</td></tr>
<tr><td>Winter</td><td><p>07:30</p></td><td>17:15</td></tr></tbody></table>
</body></html>
"""


def source_file(path: Path) -> SourceFile:
    data = path.read_bytes()
    return SourceFile(path.name, str(path), hashlib.sha256(data).hexdigest(), len(data))


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Assistant:
    root = tmp_path_factory.mktemp("documents")
    folder = root / "sources"
    folder.mkdir()
    (folder / "tidewater.txt").write_text(README)
    (folder / "harbour.html").write_text(HIDDEN)
    (folder / "NEWS").write_text(NEWS)
    settings = Settings(source_dirs=(folder,), index_dir=root / "index")
    build_index(settings, real_embedder)
    return Assistant(settings, real_embedder)


def test_a_hard_wrapped_sentence_is_quoted_whole(documents: Assistant) -> None:
    answer = documents.ask("What can I use when the gauge is not calibrated?")
    texts = [q.text for q in answer.quotes]
    whole = (
        "If the gauge is not\ncalibrated you can use the tide-check utility to compare it with the"
        "\nharbour table and optionally correct it."
    )
    assert any(whole in t for t in texts)


def test_a_short_paragraph_is_quoted_whole(documents: Assistant) -> None:
    answer = documents.ask("Can I use readings from the old float gauge for the harbour table?")
    assert any("Use the radar gauge for this purpose." in q.text for q in answer.quotes)


def test_a_list_question_quotes_the_items_with_their_lead_in(documents: Assistant) -> None:
    answer = documents.ask("Which programs does the package install?")
    quoted = " ".join(q.text for q in answer.quotes)
    assert "three programs:" in quoted
    assert all(name in quoted for name in ("tide-check", "tide-log", "tide-plot"))


def test_an_html_table_row_is_one_line_quoted_with_its_header(documents: Assistant) -> None:
    rows = "Season\tFirst ferry\tLast ferry\nSummer\t05:00\t23:00\nWinter\t07:30\t17:15"
    assert rows in documents.store.sources["harbour.html"].text
    answer = documents.ask("When does the last ferry leave in winter?")
    quoted = " ".join(q.text for q in answer.quotes)
    assert "Winter\t07:30\t17:15" in quoted  # the row, read with its header...
    assert (
        "The ferry timetable for the harbour is:\n\nSeason\tFirst ferry" in quoted
    )  # ...shown too


def test_a_news_item_is_quoted_with_its_release_and_cites_its_section(
    documents: Assistant,
) -> None:
    answer = documents.ask("In which release did tide-log get the --harbour option?")
    first, item = answer.quotes[:2]
    assert first.text == "* Noteworthy changes in release 2.3 (2023-11-20) [stable]"
    assert "tide-log now accepts the --harbour option" in item.text
    assert item.section == "New features"  # the heading right above the item
    assert documents.store.sources["NEWS"].title == "GNU tide NEWS"


def test_hidden_html_is_never_indexed_or_quoted(documents: Assistant) -> None:
    text = documents.store.sources["harbour.html"].text
    assert "4711" not in text and "8080" not in text
    for question in ("What is the secret mooring code?", "What is the night gate code?"):
        answer = documents.ask(question)
        assert all("4711" not in q.text and "8080" not in q.text for q in answer.quotes)


def test_every_quote_is_cut_from_the_served_text(documents: Assistant) -> None:
    for question in ("Which programs does the package install?", "When does the harbour open?"):
        for quote in documents.ask(question).quotes:
            text = documents.store.sources[quote.source].text
            assert text[quote.start : quote.end] == quote.text


@pytest.mark.parametrize("name", ["libtasn1-manual.pdf", "libidn2-manual.pdf"])
def test_pdf_page_furniture_is_left_out(name: str) -> None:
    text, title, pages = extract_pdf(name, (REALDOCS / name).read_bytes())
    assert list(pages) == sorted(pages) and pages[0] == 0 and pages[-1] < len(text)
    lines = text.splitlines()
    assert not [line for line in lines if re.search(r"(\. ?){4,}\s*\d*$", line)]  # TOC leaders
    assert not [line for line in lines if re.fullmatch(r"\s*\d{1,4}\s*", line)]  # page numbers
    heads = [line for line in lines if re.fullmatch(r"Chapter \d+: .* \d+", line)]
    assert not heads  # running heads with their page numbers
    assert (title and "ASN.1" in text + title) or "IDN" in text + title


def test_a_file_of_800_000_tiny_lines_is_refused_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("a.\n" * 800_000)
    started = time.monotonic()
    with pytest.raises(SourceError, match="800,000 lines"):
        load_source(source_file(path))
    assert time.monotonic() - started < 5


def test_many_short_lines_are_split_without_asking_the_sentence_splitter_each_time() -> None:
    text = "".join(f"option-{n}    value {n}    default {n}\n" for n in range(50_000))
    source = Source("t.txt", Path("t.txt"), "t", text, "", "")
    started = time.monotonic()
    assert len(split_sentences(text)) == 50_000
    assert chunk(source)[0].text.startswith("option-0")
    assert time.monotonic() - started < 5  # ~16 s when each line went through pysbd


def test_a_pathologically_nested_html_file_is_refused_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text(
        "<html><body>" + "<div>" * 200_000 + "x" + "</div>" * 200_000 + "</body></html>"
    )
    started = time.monotonic()
    with pytest.raises(SourceError, match="nested"):
        load_source(source_file(path))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("name", sorted(p.name for p in REALDOCS.glob("*.html")))
def test_real_html_manuals_are_read(name: str) -> None:
    source = load_source(source_file(REALDOCS / name))
    assert source.title and len(source.text) > 1000


def three_page_pdf(path: Path) -> Path:
    """Write a PDF whose three pages each state one fact, as a manual's pages do."""
    from pypdf import PdfReader, PdfWriter

    from tests.test_sources import minimal_pdf

    writer = PdfWriter()
    facts = (
        ("Harbour Manual", "The harbour opens at six in the morning."),
        ("Moorings", "A mooring for one night costs twelve crowns."),
        ("Tides", "The highest tide of the year comes in March."),
    )
    for lines in facts:
        writer.add_page(PdfReader(io.BytesIO(minimal_pdf(*lines))).pages[0])
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def assistant_over(root: Path, embedder: Embedder, write: Callable[[Path], Path]) -> Assistant:
    """Index the one file `write` puts in a new source folder; return an Assistant over it."""
    folder = root / "sources"
    folder.mkdir()
    write(folder)
    settings = Settings(source_dirs=(folder,), index_dir=root / "index")
    build_index(settings, embedder)
    return Assistant(settings, embedder)


def test_a_pdf_quote_cites_its_page(tmp_path: Path, real_embedder: Embedder) -> None:
    assistant = assistant_over(tmp_path, real_embedder, lambda f: three_page_pdf(f / "h.pdf"))
    source = assistant.store.sources["h.pdf"]
    assert len(source.pages) == 3
    answer = assistant.ask("How much does a mooring for one night cost?")
    (quote, *_) = answer.quotes
    assert "twelve crowns" in quote.text and quote.page == 2
    assert source.text[quote.start : quote.end] == quote.text
    assert assistant.ask("When does the highest tide of the year come?").quotes[0].page == 3


def word_file(path: Path) -> Path:
    """Write a real .docx: a title, a paragraph, a list with its lead-in, a table."""
    import docx

    document = docx.Document()
    document.add_heading("Harbour Handbook", level=1)
    document.add_paragraph("The harbour master keeps the keys to every gate of the port.")
    document.add_paragraph("The harbour offers three services:")
    for service in ("fresh water at every pier", "fuel at the north pier", "a crane for masts"):
        document.add_paragraph(service, style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    prices = (("Boat", "Price per night"), ("Dinghy", "4 crowns"), ("Yacht", "20 crowns"))
    for row, (name, price) in zip(table.rows, prices, strict=True):
        row.cells[0].text, row.cells[1].text = name, price
    document.save(str(path))
    return path


def test_a_word_file_is_read_with_its_structure(tmp_path: Path) -> None:
    source = load_source(source_file(word_file(tmp_path / "handbook.docx")))
    assert source.title == "Harbour Handbook"
    assert "• fuel at the north pier" in source.text
    assert "Yacht | 20 crowns" in source.text
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SourceError, match="unreadable Word file"):
        load_source(source_file(broken))


def test_a_word_file_list_is_quoted_with_its_lead_in(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    assistant = assistant_over(tmp_path, real_embedder, lambda f: word_file(f / "h.docx"))
    quoted = " ".join(
        q.text for q in assistant.ask("Which services does the harbour offer?").quotes
    )
    assert "three services:" in quoted and "fuel at the north pier" in quoted


def test_heading_permalinks_are_left_out(tmp_path: Path) -> None:
    """Node's and Sphinx's headings end in a link to themselves: "os.cpus()#", "Install¶"."""
    path = tmp_path / "manual.html"
    path.write_text(
        "<html><body><h2><code>os.cpus()</code><span><a class='mark' href='#oscpus'>#</a></span>"
        "</h2><p>Returns an array of objects. See <a href='#os'>#os</a> too.</p>"
        "<h2>Install<a class='headerlink' href='#install'>¶</a></h2><p>Run make.</p></body></html>"
    )
    text = load_source(source_file(path)).text
    assert "os.cpus()\n" in text and "Install\n" in text
    assert "#\n" not in text and "¶" not in text
    assert "See #os too." in text  # a link that says more than a sign is text
