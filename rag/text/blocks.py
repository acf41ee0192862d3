"""Text -> runs of lines that read as one block: hard-wrapped prose joined, structure kept apart.

A sentence may run over a hard line break ("... you can use the update-passwd utility to
check it and\noptionally ..."), so sentences are found in runs of lines, not in single lines.
A run ends at a blank line, and at any line that starts a structure of its own: a list item,
an option or definition entry, a table row, a heading or rule, a code line, or a line that
is indented much deeper than the one before. A short line followed by a capitalised one (a
title, a date line, the last line of a paragraph) ends its run too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# str.splitlines() boundaries: the line breaks a run may span (and nothing else).
LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
BREAKS = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")

_ITEM = re.compile(r"\s*(?:[-*+•◦▪‣o]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s|-{1,2}\w|\[\d+\]\s)")
_HEADING = re.compile(r"\s*(?:#{1,6}\s|\*\s\*\s\*)|\s*(?:=+|-+|\*+|_+|~+)\s*$")
_FENCE = re.compile(r"\s*(?:```|~~~)")
# A short label and the gap after it ("Q:  ", "A:  ", "1.  "): the lines below a hanging
# indent start where the label's text does.
_LABEL = re.compile(r"\s*\S{0,3}[:.)\]]\s+(?=\S)")
# A column gap: 2+ spaces that do not follow the end of a sentence ("end.  Next" is prose).
_GAP = re.compile(r"[^\s.!?:;] {2,}(?=\S)")
DEEPER = 4  # this much more indentation starts a code block or an example
_FULL = 0.6  # a line this share of its paragraph's widest line is a wrapped one
_MIN_WRAP = 40  # shorter lines are titles, dates, last lines: never wrapped ones
# The longest unit a quote shows whole (rag/answering): a picked sentence is quoted with the
# rest of its paragraph, item, table row or list, since the next sentence often finishes what
# the picked one starts ("... should not be used. Use X for this purpose.").
UNIT_CHARS = 800
_LIST_CHARS = UNIT_CHARS  # a lead-in takes the runs after it up to this length...
_LIST_RUNS = 12  # ...and this many runs
_SHORT_ITEM = 300  # past a blank line, an unmarked run this short is still an item


def runs(text: str) -> Iterator[tuple[int, int]]:
    """Yield the `(start, end)` spans of the runs of `text`, each a stretch of whole lines."""
    lines = [(m.start(), m.end()) for m in LINE.finditer(text) if m.group().strip()]
    width = _widths(text, lines)
    fenced = False
    current: tuple[int, int] | None = None
    previous = ""
    for (start, end), wide in zip(lines, width, strict=True):
        line = text[start:end]
        if _FENCE.match(line):
            fenced = not fenced
        joins = (
            current is not None
            and not fenced
            and not _FENCE.match(line)
            and _continues(previous, line, wide, text[current[1] : start])
        )
        if joins and current is not None:
            current = (current[0], end)
        else:
            if current is not None:
                yield current
            current = (start, end)
        previous = line
    if current is not None:
        yield current


def _continues(previous: str, line: str, wide: int, between: str) -> bool:
    """Tell whether `line` carries on the run that `previous` (the line above) ends."""
    if line_breaks(between) > 1:
        return False  # a blank line between them
    if _starts_structure(line) or _is_structure(previous):
        return False
    depth, above = _indent(line), _indent(previous)
    label = _LABEL.match(previous)
    hanging = label is not None and label.end() == depth
    if depth - above >= DEEPER and not _ITEM.match(previous) and not hanging:
        return False  # an indented example or code
    stripped = previous.strip()
    full = len(stripped) >= max(_FULL * wide, _MIN_WRAP)
    first = line.strip()[0]
    return full or first.islower() or stripped[-1] in ",;(-"


def is_item(line: str) -> bool:
    """Tell whether a line starts a list item or an option entry ("- ...", "2. ...", "-v ...")."""
    return bool(_ITEM.match(line))


def _starts_structure(line: str) -> bool:
    return bool(_ITEM.match(line) or _HEADING.match(line) or is_table_row(line))


def _is_structure(line: str) -> bool:
    return bool(_HEADING.match(line) or is_table_row(line))


def is_table_row(line: str) -> bool:
    stripped = line.strip()
    if stripped.startswith("|") or stripped.count("|") >= 2 or "\t" in stripped:
        return True
    return len(_GAP.findall(stripped)) >= 2


def line_breaks(gap: str) -> int:
    """Count the line breaks in the text between two lines ("\r\n" is one)."""
    return len(BREAKS.findall(gap.replace("\r\n", "\n")))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _widths(text: str, lines: list[tuple[int, int]]) -> list[int]:
    """Return, for each line, the widest line of its paragraph (lines between blank lines)."""
    widths: list[int] = []
    group: list[int] = []
    last_end = -1
    for start, end in lines:
        gap = text[last_end:start] if last_end >= 0 else ""
        if group and line_breaks(gap) > 1:
            widths.extend([max(group)] * len(group))
            group = []
        group.append(len(text[start:end].strip()))
        last_end = end
    widths.extend([max(group)] * len(group) if group else [])
    return widths


def lead_ins(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join each run that ends with a colon to the runs it introduces: one quotable unit.

    "Valgrind reads options from three places:" says nothing without the places. The runs
    after it join until the unit would pass `_LIST_CHARS` or `_LIST_RUNS`, or a heading,
    a table or another lead-in comes; past a blank line, only more of the same kind of
    item, what is indented under an item (its code, its second paragraph), or, where the
    items carry no marker, as in HTML lists, short runs, joins.
    """
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        i += 1
        if text[start:end].rstrip().endswith(":"):
            items = 0
            taken = 0
            margin = _body_indent(text[start:end])
            marker = -1  # how far the last item's marker is indented
            while i < len(spans) and taken < _LIST_RUNS and spans[i][1] - start <= _LIST_CHARS:
                following = text[spans[i][0] : spans[i][1]]
                item = bool(_ITEM.match(following))
                breaks = line_breaks(text[end : spans[i][0]])
                depth = _indent(following)
                within = items > 0 and not item and depth > marker  # an item's own code, text
                if depth < margin or not (within or _joins_list(following, item, items, breaks)):
                    break
                items += item
                marker = depth if item else marker
                end, i, taken = spans[i][1], i + 1, taken + 1
        out.append((start, end))
    return out


def _body_indent(run: str) -> int:
    """Return how far a run's text is indented: its last line's, or past a one-line label."""
    lines = [line for line in BREAKS.split(run) if line.strip()]
    if len(lines) > 1:
        return _indent(lines[-1])
    label = _LABEL.match(run)
    return label.end() if label and not _ITEM.match(run) else _indent(run)


def _joins_list(run: str, item: bool, items: int, breaks: int) -> bool:
    """Tell whether a run belongs to the list a lead-in introduces."""
    if _HEADING.match(run) or is_table_row(run) or run.rstrip().endswith(":"):
        return False
    if breaks <= 1:
        return True
    return item if items else len(run) <= _SHORT_ITEM


def strip_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Shrink `text[start:end]` to exclude surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
