"""Tests for rag.sources.extract: real files under tmp_path, real parsers."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from rag.errors import SourceError
from rag.sources.extract import load_source, load_sources
from rag.sources.scan import scan_sources
from rag.text.units import units
from rag.types import Source

MAX = 1_000_000


def minimal_pdf(*lines: str) -> bytes:
    """Return a valid one-page PDF 1.4 that shows `lines` in Helvetica, one under another."""
    shown = " T* ".join(f"({line}) Tj" for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def load_one(path: Path) -> Source:
    files, skipped = scan_sources([path.parent], MAX)
    assert skipped == []
    (file,) = [f for f in files if f.path == str(path.resolve())]
    return load_source(file)


def test_txt_text_is_the_file_unchanged(tmp_path: Path) -> None:
    content = "\ufeffFirst line title\r\n\nCafé costs 3 €.  Second sentence.\n"
    path = write(tmp_path / "notes" / "a.txt", content.encode("utf-8"))
    files, skipped = scan_sources([tmp_path], MAX)
    assert skipped == []
    (file,) = files
    assert file.id == "notes/a.txt"
    assert file.path == str(path.resolve())
    assert file.size == path.stat().st_size
    assert file.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    source = load_source(file)
    assert source.text == path.read_bytes().decode("utf-8")
    start = source.text.index("Café")
    end = start + len("Café costs 3 €.")
    with path.open(encoding="utf-8", newline="") as handle:  # CRLF kept, as in source.text
        assert handle.read()[start:end] == "Café costs 3 €." == source.text[start:end]
    assert source.title == "First line title"
    assert source.sha256 == hashlib.sha256(source.text.encode("utf-8")).hexdigest()
    assert source.file_sha256 == file.file_sha256


def test_markdown_title_is_the_first_heading(tmp_path: Path) -> None:
    text = "---\nintro line\n\n## The Real Title ##\n\nBody text.\n"
    path = write(tmp_path / "doc.md", text)
    source = load_one(path)
    assert source.title == "The Real Title"
    start = source.text.index("Body")
    assert path.read_text(encoding="utf-8")[start : start + 10] == "Body text."
    assert source.text[start : start + 10] == "Body text."


def test_title_falls_back_to_first_line_then_stem(tmp_path: Path) -> None:
    long_line = "x" * 500
    assert load_one(write(tmp_path / "a" / "m.markdown", f"\n{long_line}\n")).title == ("x" * 200)
    assert load_one(write(tmp_path / "b" / "stem.txt", "...\n")).title == "stem"


def test_titles_are_the_documents_own_not_its_first_line(tmp_path: Path) -> None:
    news = "GNU tide NEWS                -*- outline -*-\n\n* Noteworthy changes in release 1.2\n"
    assert load_one(write(tmp_path / "a" / "NEWS.txt", news)).title == "GNU tide NEWS"
    readme = "   -*- text -*-\nGNU Tide\n========\n   Home: https://example.org/\n\nText.\n"
    assert load_one(write(tmp_path / "b" / "README.txt", readme)).title == "GNU Tide"
    badge = "# tide [![test](https://ci.example/badge.svg)](https://ci.example/runs)\n\nText.\n"
    assert load_one(write(tmp_path / "c" / "README.md", badge)).title == "tide"


def test_html_navigation_and_tables_of_contents_are_left_out(tmp_path: Path) -> None:
    html = """<html><body><nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
    <div role="navigation"><p>Sidebar text</p></div>
    <div class="toc"><p>1 Install</p></div>
    <ul><li><a href="#install">1 Install</a></li><li><a href="#use">2 Use</a></li>
    <li><a href="#faq">3 FAQ</a></li></ul>
    <table class="menu"><tr><td><a href="#install">Install</a></td></tr></table>
    <h2 id="install">1 Install</h2><p>Run make.</p>
    <ul><li>See <a href="#use">Use</a> after installing, then read the FAQ.</li></ul>
    </body></html>"""
    text = load_one(write(tmp_path / "page.html", html)).text
    assert text == "1 Install\n\nRun make.\n\nSee Use after installing, then read the FAQ."


def test_an_html_definition_is_its_term_over_its_description(tmp_path: Path) -> None:
    html = """<p>bc takes these options:</p>
    <dl><dt><code>-h, --help</code></dt>
    <dd><p>Print the usage and exit.</p>
    <p>Nothing else is done.</p></dd>
    <dt><code>-q</code></dt> <dd>Quiet.</dd></dl>"""
    text = load_one(write(tmp_path / "defs.html", html)).text
    assert text == (
        "bc takes these options:\n\n-h, --help\nPrint the usage and exit.\n"
        "Nothing else is done.\n\n-q\nQuiet."
    )
    found = [text[u.start : u.end] for u in units(text)]
    assert found == [text]  # a lead-in with its definitions, each a term with its description


def test_html_text_without_markup_or_scripts(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>  Page   Title </title>
    <style>p { color: red }</style><script>var secret = "Do not show.";</script></head>
    <body><h1>Heading</h1><p>First paragraph
    wraps here. It has <b>bold</b>&nbsp;text &amp; more.</p>
    <noscript>Enable JS.</noscript><div>Block two<br>after break</div>
    <ul><li>Item one</li><li>Item two</li></ul></body></html>"""
    source = load_one(write(tmp_path / "page.html", html))
    text = source.text
    assert source.title == "Page Title"
    assert "secret" not in text and "color" not in text and "Enable JS" not in text
    assert "<" not in text and "&amp;" not in text
    assert "First paragraph wraps here. It has bold text & more." in text
    assert "Heading\n\nFirst paragraph" in text
    assert "Block two\nafter break" in text
    assert "Item one\n\nItem two" in text
    assert "  " not in text


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    source = load_one(write(tmp_path / "p.htm", "<body><h1> Main  Heading </h1><p>Hi.</p></body>"))
    assert source.title == "Main Heading"


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    source = load_one(write(tmp_path / "doc.pdf", minimal_pdf("Hello world")))
    assert "Hello world" in source.text
    assert source.title == "Hello world"


def test_pdf_lines_wrapped_mid_sentence_are_joined(tmp_path: Path) -> None:
    pdf = minimal_pdf("Report Title", "A sentence that wraps", "onto the next line.", "Next one.")
    source = load_one(write(tmp_path / "wrapped.pdf", pdf))
    assert source.text == "Report Title\nA sentence that wraps onto the next line.\nNext one."


def encrypted_pdf(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf("Locked text"))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_encrypted_pdf_is_skipped_unless_it_opens_without_password(tmp_path: Path) -> None:
    write(tmp_path / "locked.pdf", encrypted_pdf("secret"))
    write(tmp_path / "open.pdf", encrypted_pdf(""))
    sources, skipped = load_sources([tmp_path], MAX)
    assert [(s.id, s.text) for s in sources] == [("open.pdf", "Locked text")]
    assert [s.reason for s in skipped] == ["locked.pdf: PDF is encrypted"]


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        scan_sources([tmp_path / "nope"], MAX)


def test_scan_skips_hidden_and_unsupported_silently(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "b")
    write(tmp_path / "a.md", "a")
    write(tmp_path / "sub" / "c.HTML", "<p>c</p>")
    write(tmp_path / "image.png", b"\x89PNG")
    write(tmp_path / ".hidden.txt", "h")
    write(tmp_path / ".git" / "d.txt", "d")
    files, skipped = scan_sources([tmp_path], MAX)
    assert [f.id for f in files] == ["a.md", "b.txt", "sub/c.HTML"]
    assert skipped == []


def test_size_limits_skip_before_reading(tmp_path: Path) -> None:
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "big.txt", "y" * 101)
    write(tmp_path / "ok.txt", "z" * 100)
    files, skipped = scan_sources([tmp_path], 100)
    assert [f.id for f in files] == ["ok.txt"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert "empty" in reasons["empty.txt"]
    assert "too large" in reasons["big.txt"]


def test_duplicate_ids_across_folders_first_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "one" / "same.txt", "first")
    second = write(tmp_path / "two" / "same.txt", "second")
    write(tmp_path / "two" / "other.txt", "other")
    files, skipped = scan_sources([tmp_path / "one", tmp_path / "two"], MAX)
    assert [(f.id, f.path) for f in files] == [
        ("same.txt", str(first.resolve())),
        ("other.txt", str((tmp_path / "two" / "other.txt").resolve())),
    ]
    assert [s.path for s in skipped] == [second.resolve()]
    assert "duplicate" in skipped[0].reason and "same.txt" in skipped[0].reason


def test_bad_files_are_skipped_and_the_rest_load(tmp_path: Path) -> None:
    write(tmp_path / "binary.txt", b"\x7fELF\x00\x01\x02")
    write(tmp_path / "latin1.txt", "caf\xe9 au lait".encode("latin-1"))
    write(tmp_path / "blank.md", "  \n\t\n")
    write(tmp_path / "corrupt.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    write(tmp_path / "empty.html", "<html><script>only()</script></html>")
    write(tmp_path / "good.txt", "A good file.")
    sources, skipped = load_sources([tmp_path], MAX)
    assert [s.id for s in sources] == ["good.txt"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert set(reasons) == {"binary.txt", "latin1.txt", "blank.md", "corrupt.pdf", "empty.html"}
    assert reasons["binary.txt"].startswith("binary.txt: ") and "binary" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "no text" in reasons["blank.md"]
    assert reasons["corrupt.pdf"].startswith("corrupt.pdf: ")
    assert "no text" in reasons["empty.html"]


def test_file_changed_after_scan_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "before")
    (file,) = scan_sources([tmp_path], MAX)[0]
    path.write_text("after!", encoding="utf-8")
    with pytest.raises(SourceError, match="changed"):
        load_source(file)


def test_links_to_files_outside_the_source_folder_are_skipped(tmp_path: Path) -> None:
    folder, outside = tmp_path / "sources", tmp_path / "private"
    folder.mkdir()
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (folder / "notes.txt").write_text("The lighthouse keeper is Ada Vell.\n")
    (folder / "passwd.txt").symlink_to(outside / "passwd.txt")
    (folder / "etc.txt").symlink_to("/etc/hostname")
    (folder / "alias.txt").symlink_to(folder / "notes.txt")  # stays inside: kept
    files, skipped = scan_sources([folder], 10_000)
    assert sorted(f.id for f in files) == ["alias.txt", "notes.txt"]
    assert sorted(s.path.name for s in skipped) == ["etc.txt", "passwd.txt"]
    assert all("outside the source folder" in s.reason for s in skipped)
    sources, _ = load_sources([folder], 10_000)
    assert all("root:" not in s.text for s in sources)


def test_readme_and_news_without_extension_are_read_but_other_extensionless_files_are_not(
    tmp_path: Path,
) -> None:
    for name in ("README", "NEWS", "ChangeLog", "Makefile", "data", "notes.txt"):
        (tmp_path / name).write_text(f"The {name} file.\n")
    files, skipped = scan_sources([tmp_path], 10_000)
    assert sorted(f.id for f in files) == ["ChangeLog", "NEWS", "README", "notes.txt"]
    assert not skipped
