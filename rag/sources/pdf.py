"""PDF bytes -> text: pages in order, lines rejoined, page furniture left out.

Page furniture is what a reader skips: running heads and feet (a line that starts or ends
many pages, page numbers aside), page numbers, and table-of-contents lines with dot leaders.
None of it is indexed, so none of it can be quoted.
"""

from __future__ import annotations

import io
import re
from collections import Counter

from pypdf import PasswordType, PdfReader

from rag.errors import SourceError
from rag.sources.titles import first_line

_LEADER = re.compile(r"(?:\.\s?){4,}\s*[\divxlc]*\s*$")
_PAGE_NUMBER = re.compile(r"\s*(?:\d{1,4}|[ivxlc]{1,6})\s*", re.IGNORECASE)
_RUNNING_SHARE = 0.2  # a first or last line on this share of the pages (and 3+) is furniture
_RUNNING_MIN = 3
# A page edge line with a page number at its start or end is a running head on two pages too.
_NUMBERED = re.compile(r"^# \S|\S #$")


def without_furniture(pages: list[list[str]]) -> list[list[str]]:
    """Drop running heads and feet, page-number lines and dot-leader lines from each page."""
    edges: Counter[str] = Counter()
    for lines in pages:
        kept = [line for line in lines if line.strip()]
        edges.update({_shape(kept[0]), _shape(kept[-1])} if kept else set())
    least = max(_RUNNING_MIN, _RUNNING_SHARE * len(pages))
    running = {
        shape
        for shape, n in edges.items()
        if shape and (n >= least or (n >= 2 and _NUMBERED.search(shape)))
    }
    cleaned = []
    for lines in pages:
        kept = [line for line in lines if line.strip()]
        if kept and _shape(kept[0]) in running:
            kept = kept[1:]
        if kept and _shape(kept[-1]) in running:
            kept = kept[:-1]
        cleaned.append(
            [line for line in kept if not _PAGE_NUMBER.fullmatch(line) and not _LEADER.search(line)]
        )
    return cleaned


def _shape(line: str) -> str:
    """Return a line with its numbers blanked: "Chapter 2: Usage 17" -> "Chapter #: Usage #"."""
    return re.sub(r"\d+", "#", " ".join(line.split()))


def extract_pdf(file_id: str, data: bytes) -> tuple[str, str, tuple[int, ...]]:
    """Return a PDF's text (pages joined by blank lines, furniture left out), its title and
    where each page starts in the text."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise SourceError(f"{file_id}: PDF is encrypted")
        raw = [
            (page.extract_text() or "").replace("\x00", "").splitlines() for page in reader.pages
        ]
        pages = [_reflow(lines) for lines in without_furniture(raw)]
        meta = reader.metadata
        title = (meta.title or "").strip() if meta is not None else ""
    except SourceError:
        raise
    except Exception as err:  # pypdf raises many types on damaged files, not only PdfReadError
        raise SourceError(f"{file_id}: unreadable PDF ({err or 'damaged file'})"[:300]) from err
    text, starts = _joined(pages)
    return text, " ".join(title.split()) or first_line(text), starts


def _joined(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """Join the pages' texts with blank lines; return the text and where each page starts.

    An empty page starts where the next text does, so an offset is cited on the page that
    holds it.
    """
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        # pypdf can return lone surrogates, which cannot be stored as UTF-8 ("?", same length)
        page = page.encode("utf-8", "replace").decode("utf-8")
        if page and parts:
            offset += 2  # the blank line before it
        starts.append(offset)
        if page:
            parts.append(page)
            offset += len(page)
    return "\n\n".join(parts), tuple(starts)


def _reflow(lines: list[str]) -> str:
    """Join the lines a PDF wrapped mid-sentence, so a sentence is not cut at each line end."""
    out: list[str] = []
    for line in lines:
        line = " ".join(line.split())
        if not line:
            continue
        if out and out[-1][-1] not in ".!?:" and (line[0].islower() or out[-1][-1] in ",;-"):
            out[-1] += line if out[-1].endswith("-") else " " + line
        else:
            out.append(line)
    return "\n".join(out)
