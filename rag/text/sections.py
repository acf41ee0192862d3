"""Text -> its section headings: what a citation names as the section a quote sits under.

A heading is a Markdown heading ("## Usage", or a line underlined with === or ---), or a
short line standing alone between blank lines that reads as a title rather than a sentence:
"* Noteworthy changes in release 1.6 (2013-06-09) [stable]", "5.1 Math Library Functions",
"HINTS FOR DJPEG". It is never a table row, a labelled value ("Returns: <string>") or a line
that ends like a sentence or a lead-in.
"""

from __future__ import annotations

import bisect
import functools
import re

from rag.text.blocks import BREAKS, UNIT_CHARS, is_table_row, line_breaks
from rag.text.lexicon import STOPWORDS
from rag.text.units import units, units_after

MAX_HEADING_CHARS = 100
MAX_HEADING_WORDS = 10
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
_ATX = re.compile(r"#{1,6}\s+\S")
_UNDERLINE = re.compile(r"(?:=+|-+)\s*$")
_TITLE_END = re.compile(r"[^.,;:!?]$")
_LABEL = re.compile(r"\w[\w ]{0,20}:\s")  # "Returns: <string>", "Added in: v18.9.0"
# A dateline or byline is no heading: "Published November 20, 2024 - 00:11am".
_DATELINE = re.compile(r"\b\d{1,2}:\d{2}\b|^(?:published|posted|updated|last updated|by)\b", re.I)
_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+)+[a-z]?(?![\w.])|\b(?:19|20)\d\d\b")


def headings(text: str) -> list[tuple[int, int]]:
    """Return the spans of the section headings of `text`, in order."""
    return _headings(text)[1]


@functools.lru_cache(maxsize=4096)
def _headings(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    found: list[tuple[int, int]] = []
    fenced = _fenced(text)
    spans = units(text)
    for i, unit in enumerate(spans):
        if bisect.bisect_right(fenced, unit.start) % 2:
            continue  # inside a fenced code block: "# comment"
        line = text[unit.start : unit.end]
        if BREAKS.search(line):
            underlined = line.splitlines()
            if len(underlined) == 2 and _UNDERLINE.match(underlined[1].strip()):
                found.append((unit.start, unit.start + len(underlined[0].rstrip())))
            continue
        following = spans[i + 1].start if i + 1 < len(spans) else len(text)
        # a line that the next one carries on (a wrapped PDF line) is no title
        carried = (
            line_breaks(text[unit.end : following]) <= 1
            and text[following : following + 1].islower()
        )
        if _ATX.match(line) or (_is_title(line) and not carried):
            found.append((unit.start, unit.end))
    return [start for start, _ in found], found


def _fenced(text: str) -> list[int]:
    """Return the offsets where Markdown code fences open and close, in order."""
    return [m.start() for m in _FENCE.finditer(text)]


def _is_title(line: str) -> bool:
    """Tell whether a line standing alone reads as a title rather than as (part of) a sentence."""
    if len(line) > MAX_HEADING_CHARS or is_table_row(line) or _UNDERLINE.match(line):
        return False
    title = line.strip("*#+-•=_` ")
    words = title.split()
    return bool(
        words
        and len(words) <= MAX_HEADING_WORDS
        and (title[0].isupper() or title[0].isdigit())
        and _TITLE_END.search(title)
        and words[-1].lower() not in STOPWORDS
        and not _LABEL.match(title)
        and not _DATELINE.search(title)
        and any(ch.isalpha() for ch in title)
    )


def section_at(text: str, offset: int) -> tuple[int, int] | None:
    """Return the span of the nearest heading above `offset` (the heading itself if it is one)."""
    starts, found = _headings(text)
    i = bisect.bisect_right(starts, offset) - 1
    return found[i] if i >= 0 else None


def opening(text: str, start: int, end: int) -> int:
    """Return where a quote of `text[start:end]` ends: past the first units of its section
    when it is a heading alone ("5.1 Math Library Functions" says nothing by itself)."""
    starts, found = _headings(text)
    i = bisect.bisect_left(starts, start)
    if i == len(found) or found[i] != (start, end):
        return end
    following = starts[i + 1] if i + 1 < len(starts) else len(text)
    heading_end = end
    for unit in units_after(text, end):
        first = end == heading_end  # the first unit comes whole if it fits by itself
        if unit.start >= following or unit.end - (unit.start if first else start) > UNIT_CHARS:
            break
        end = unit.end
    return end


def section_of(text: str, offset: int) -> str | None:
    """Return the text of the heading a quote starting at `offset` sits under, if any."""
    found = section_at(text, offset)
    if found is None or found[0] == offset:
        return None
    plain = " ".join(text[found[0] : found[1]].strip("*#=_` ").split())
    return plain or None


def versioned_section_at(text: str, offset: int) -> tuple[int, int] | None:
    """Return the nearest heading above `offset` that names a version or a year."""
    starts, found = _headings(text)
    for i in range(bisect.bisect_right(starts, offset) - 1, -1, -1):
        start, end = found[i]
        if _VERSION.search(text[start:end]):
            return found[i]
    return None


def names_version(text: str) -> bool:
    """Tell whether `text` names a version number or a year."""
    return bool(_VERSION.search(text))
