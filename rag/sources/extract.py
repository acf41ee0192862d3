"""SourceFile -> Source: a file's text and title (txt, md, html, pdf, docx), or why not."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rag.errors import SourceError
from rag.sources.pdf import extract_pdf
from rag.sources.scan import scan_sources
from rag.sources.titles import md_title, text_title
from rag.sources.word import extract_docx
from rag.types import Skipped, Source, SourceFile

MAX_TITLE_CHARS = 200
MAX_LINES = 200_000  # ~4,000 pages of a manual
# Browsers stop nesting elements at 512 levels; a page deeper than that is built to hurt.
MAX_HTML_DEPTH = 512
_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
_VOID = frozenset(
    {b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta"}
    | {b"param", b"source", b"track", b"wbr", b"p", b"li", b"td", b"tr", b"th", b"option"}
)
# The extractor's version, recorded in each generation: a build after a change re-reads every
# file. 2: PDF page furniture left out, HTML hidden elements left out; 3: running heads
# that number two pages, and HTML nested deeper than MAX_HTML_DEPTH refused; 4: PDF pages;
# 5: an HTML table row on one line, its cells tab-separated; 6: titles from underlined
# headings, without mode lines or Markdown badges; 7: HTML navigation and contents left out;
# 8: an HTML definition's term on the line above its description; 9: heading permalinks
# ("#", "¶") left out.
EXTRACTOR = 9
# Elements whose text a reader never sees.
_HIDDEN_TAGS = frozenset(
    {"head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object"}
)
# Navigation: menus, sidebars, breadcrumbs, tables of contents (by tag, role, id or class).
_NAV_NAMES = frozenset(
    {"toc", "nav", "navbar", "navigation", "sidebar", "breadcrumb", "breadcrumbs", "menu"}
)
# A heading's permalink: an anchor to the page itself whose text is one sign ("os.cpus()#").
_PERMALINK_SIGNS = frozenset({"#", "¶", "§", "🔗", "⚓"})
_TOC_LINKS = 3  # a list of at least this many links...
_TOC_SLACK = 1.3  # ...whose text is hardly more than theirs (numbers, bullets) is a contents list
# Elements that start a new block, so a sentence never runs from one into the next.
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog"}
    | {"div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "html", "legend", "li", "main", "nav", "ol", "option"}
    | {"p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
)


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
    pages: tuple[int, ...] = ()
    if suffix == ".pdf":
        text, title, pages = extract_pdf(file.id, data)
    elif suffix in (".html", ".htm"):
        text, title = _extract_html(file.id, data)
    elif suffix == ".docx":
        text, title = extract_docx(file.id, data)
    else:
        text = _decode(file.id, data)
        title = md_title(text) if suffix in (".md", ".markdown") else text_title(text)
    if not text.strip():
        raise SourceError(f"{file.id}: no text found")
    lines = text.count("\n")
    if lines > MAX_LINES:  # a data dump, not a document: reading it would take many minutes
        raise SourceError(
            f"{file.id}: {lines:,} lines, more than the {MAX_LINES:,} a document may have"
        )
    return Source(
        id=file.id,
        path=Path(file.path),
        title=(title or Path(file.path).stem)[:MAX_TITLE_CHARS],
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        file_sha256=file.file_sha256,
        pages=pages,
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


def _extract_html(file_id: str, data: bytes) -> tuple[str, str]:
    if b"\x00" in data:
        raise SourceError(f"{file_id}: looks binary (contains NUL bytes)")
    if _nesting(data) > MAX_HTML_DEPTH:  # parsing such a file takes minutes, not seconds
        raise SourceError(f"{file_id}: HTML nested more than {MAX_HTML_DEPTH} elements deep")
    try:
        tree = LexborHTMLParser(data, encoding=True)
        titles = [tree.css_first(selector) for selector in ("title", "h1")]
        title = next((t for t in (" ".join(n.text().split()) for n in titles if n) if t), "")
        text = _html_text(tree.root) if tree.root is not None else ""
    except Exception as err:  # the parser's errors are not part of its typed API
        raise SourceError(f"{file_id}: unreadable HTML ({err})"[:300]) from err
    return text, title


def _nesting(data: bytes) -> int:
    """Return how deep the HTML's elements nest (void elements and self-closing tags aside)."""
    depth = deepest = 0
    for closing, name, self_closing in _TAG.findall(data):
        if name.lower() in _VOID or self_closing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def _hidden(node: LexborNode) -> bool:
    """Tell whether an element is hidden from readers by its attributes or inline style."""
    attributes = node.attributes
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    style = (attributes.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _left_out(node: LexborNode) -> bool:
    """Tell whether an element's text stays out: hidden, navigation (menus, tables of
    contents) that repeats the headings of the page and answers nothing, or a heading's
    permalink sign."""
    if _hidden(node):
        return True
    attributes = node.attributes
    classes = set((attributes.get("class") or "").lower().split())
    if (
        node.tag == "nav"
        or attributes.get("role") == "navigation"
        or (attributes.get("id") or "").lower() in _NAV_NAMES
        or classes & _NAV_NAMES
    ):
        return True
    if node.tag == "a":
        own = (attributes.get("href") or "").startswith("#")
        return own and node.text(deep=True).strip() in _PERMALINK_SIGNS
    return node.tag in ("ul", "ol", "dl", "table") and _links_only(node)


def _links_only(node: LexborNode) -> bool:
    """Tell whether a list or table is a menu or a table of contents: links and nothing else."""
    links = node.css("a[href]")
    if len(links) < _TOC_LINKS:
        return False
    linked = sum(len(a.text(deep=True).strip()) for a in links)
    return len("".join(node.text(deep=True).split())) <= linked * _TOC_SLACK


def _html_text(root: LexborNode) -> str:
    """Return the visible text, a blank line between blocks and spaces collapsed in lines.

    A table row is one line with a tab between its cells, as a browser copies it; a
    table's rows are consecutive lines, its header first. A definition's term (`<dt>`) is
    the line right above its description (`<dd>`), whose paragraphs are lines of one block.
    """
    parts: list[str | int] = []  # text, and line breaks as a count (1: a new line, 2: a gap)

    def add(piece: str | int) -> None:
        if isinstance(piece, int):
            while parts and isinstance(parts[-1], str) and not parts[-1].strip():
                parts.pop()  # spaces at a line's end
            if parts and isinstance(parts[-1], int):
                parts[-1] = max(parts[-1], piece)  # neighbouring breaks: the wider one wins
            elif piece:
                parts.append(piece)
        elif piece and (piece.strip() or not parts or isinstance(parts[-1], str)):
            parts.append(piece)  # (spaces at a line's start are dropped)

    stack: list[tuple[LexborNode, str] | str | int] = [(root, "")]
    while stack:  # an explicit stack: deeply nested pages must not hit the recursion limit
        item = stack.pop()
        if not isinstance(item, tuple):
            add(item)
            continue
        node, inside = item  # inside: "pre", "cell" (a table cell), "dd" (a description) or ""
        if node.is_text_node:
            raw = node.text_content or ""
            add(raw if inside == "pre" else re.sub(r"\s+", " ", raw))
        elif node.is_element_node and node.tag not in _HIDDEN_TAGS and not _left_out(node):
            tag = node.tag or ""
            before, after = _breaks(tag, inside)
            stack.append(after)
            within = _WITHIN.get(tag, inside)
            stack.extend((c, within) for c in reversed(list(node.iter(True))))
            stack.append(before)
    text = "".join(p if isinstance(p, str) else "\n" * p for p in parts)
    lines = ("\t".join(" ".join(c.split()) for c in line.split("\t")) for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip("\t ") for line in lines)).strip()


# What an element's children are inside of, where it changes how they break.
_WITHIN = {"pre": "pre", "td": "cell", "th": "cell", "dd": "dd"}


def _breaks(tag: str, inside: str) -> tuple[str | int, str | int]:
    """Return what comes before and after an element's text (ints: line breaks)."""
    if tag == "br":
        return (" " if inside == "cell" else 1), ""
    if tag in ("td", "th"):
        return "\t", ""
    if tag == "tr":
        return "", 1
    if tag in ("thead", "tbody", "tfoot"):
        return "", ""
    if tag == "dt":
        return 2, 1  # the term, on the line above its description
    if tag == "dd":
        return 1, 2
    if tag in _BLOCK_TAGS:
        brk: str | int = " " if inside == "cell" else 1 if inside == "dd" else 2
        return brk, brk
    return "", ""
