"""SourceFile -> Source: extract a file's text and title (txt, md, html, pdf), or say why not."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

from pypdf import PasswordType, PdfReader
from selectolax.lexbor import LexborHTMLParser, LexborNode

from rag.errors import SourceError
from rag.sources.scan import scan_sources
from rag.types import Skipped, Source, SourceFile

MAX_TITLE_CHARS = 200
# Elements whose text a reader never sees.
_HIDDEN_TAGS = frozenset(
    {"head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object"}
)
# Elements that start a new block, so a sentence never runs from one into the next.
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog"}
    | {"div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "html", "legend", "li", "main", "nav", "ol", "option"}
    | {"p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
)
_MD_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")


def load_sources(dirs: Sequence[Path], max_bytes: int) -> tuple[list[Source], list[Skipped]]:
    """Scan `dirs` and load every file; a file that fails is skipped, never fatal."""
    files, skipped = scan_sources(dirs, max_bytes)
    sources: list[Source] = []
    for file in files:
        try:
            sources.append(load_source(file))
        except SourceError as err:
            skipped.append(Skipped(Path(file.path), str(err)))
    return sources, skipped


def load_source(file: SourceFile) -> Source:
    """Extract a file's text and title, or raise SourceError saying why it can't be used.

    .txt/.md text is the file strictly decoded as UTF-8 and left unchanged (a BOM stays).
    """
    data = _read(file)
    suffix = os.path.splitext(file.path)[1].lower()
    if suffix == ".pdf":
        text, title = _extract_pdf(file.id, data)
    elif suffix in (".html", ".htm"):
        text, title = _extract_html(file.id, data)
    else:
        text = _decode(file.id, data)
        title = _md_title(text) if suffix in (".md", ".markdown") else _first_line(text)
    if not text.strip():
        raise SourceError(f"{file.id}: no text found")
    return Source(
        id=file.id,
        path=Path(file.path),
        title=(title or Path(file.path).stem)[:MAX_TITLE_CHARS],
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        file_sha256=file.file_sha256,
    )


def _read(file: SourceFile) -> bytes:
    """Read the file's bytes, checking they are still the ones that were scanned."""
    try:
        with open(file.path, "rb") as handle:
            data = handle.read(file.size + 1)
    except OSError as err:
        raise SourceError(f"{file.id}: unreadable ({err.strerror or err})") from err
    if len(data) != file.size or hashlib.sha256(data).hexdigest() != file.file_sha256:
        raise SourceError(f"{file.id}: changed since it was scanned")
    return data


def _decode(file_id: str, data: bytes) -> str:
    """Decode strict UTF-8, rejecting binary data."""
    if b"\x00" in data:
        raise SourceError(f"{file_id}: looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(f"{file_id}: is not UTF-8 (bad byte at offset {err.start})") from err


def _first_line(text: str) -> str:
    """Return the first line that holds a letter or digit, stripped."""
    for line in text.splitlines():
        line = line.lstrip("\ufeff").strip()
        if any(ch.isalnum() for ch in line):
            return line
    return ""


def _md_title(text: str) -> str:
    """Return the first `#` heading's text, else the first line."""
    for line in text.splitlines():
        heading = _MD_HEADING.match(line.lstrip("\ufeff"))
        if heading and heading.group(1):
            return heading.group(1)
    return _first_line(text)


def _extract_html(file_id: str, data: bytes) -> tuple[str, str]:
    if b"\x00" in data:
        raise SourceError(f"{file_id}: looks binary (contains NUL bytes)")
    try:
        tree = LexborHTMLParser(data, encoding=True)
        titles = [tree.css_first(selector) for selector in ("title", "h1")]
        title = next((t for t in (" ".join(n.text().split()) for n in titles if n) if t), "")
        text = _html_text(tree.root) if tree.root is not None else ""
    except Exception as err:  # the parser's errors are not part of its typed API
        raise SourceError(f"{file_id}: unreadable HTML ({err})"[:300]) from err
    return text, title


def _html_text(root: LexborNode) -> str:
    """Return the visible text, a blank line between blocks and spaces collapsed in lines."""
    parts: list[str] = []
    stack: list[tuple[LexborNode, bool] | str] = [(root, False)]
    while stack:  # an explicit stack: deeply nested pages must not hit the recursion limit
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        node, in_pre = item
        if node.is_text_node:
            raw = node.text_content or ""
            parts.append(raw if in_pre else re.sub(r"\s+", " ", raw))
        elif node.is_element_node and node.tag not in _HIDDEN_TAGS:
            tag = node.tag or ""
            brk = "\n" if tag == "br" else "\n\n" if tag in _BLOCK_TAGS else ""
            stack.append("" if tag == "br" else brk)
            stack.extend((c, in_pre or tag == "pre") for c in reversed(list(node.iter(True))))
            stack.append(brk)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _extract_pdf(file_id: str, data: bytes) -> tuple[str, str]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise SourceError(f"{file_id}: PDF is encrypted")
        pages = [_reflow(page.extract_text() or "") for page in reader.pages]
        meta = reader.metadata
        title = (meta.title or "").strip() if meta is not None else ""
    except SourceError:
        raise
    except Exception as err:  # pypdf raises many types on damaged files, not only PdfReadError
        raise SourceError(f"{file_id}: unreadable PDF ({err or 'damaged file'})"[:300]) from err
    # pypdf can return lone surrogates, which cannot be stored as UTF-8.
    text = "\n\n".join(p for p in pages if p).encode("utf-8", "replace").decode("utf-8")
    return text, " ".join(title.split()) or _first_line(text)


def _reflow(page: str) -> str:
    """Join the lines a PDF wrapped mid-sentence, so a sentence is not cut at each line end."""
    out: list[str] = []
    for line in page.replace("\x00", "").splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if out and out[-1][-1] not in ".!?:" and (line[0].islower() or out[-1][-1] in ",;-"):
            out[-1] += line if out[-1].endswith("-") else " " + line
        else:
            out.append(line)
    return "\n".join(out)
