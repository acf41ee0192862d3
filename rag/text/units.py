"""Text -> quotable units: what a quote of a sentence shows, and what it is read with.

A picked sentence is quoted with the rest of its unit when the unit is short: its paragraph,
list item or table row, a lead-in with its list, a question with its answer. A table row is
read and quoted with its table's header row (and the lead-in above the table).
"""

from __future__ import annotations

import bisect
import functools
from typing import NamedTuple

from rag.text.blocks import (
    BREAKS,
    DEEPER,
    UNIT_CHARS,
    is_item,
    is_table_row,
    lead_ins,
    line_breaks,
    runs,
    strip_span,
)

MAX_TERM_CHARS = 100  # a defined term ("--log-socket=<ip-address:port-number>") is no longer


class Unit(NamedTuple):
    """A stretch of a text that is quoted whole, with what belongs to it from above."""

    start: int
    end: int
    quote_start: int  # where a quote of it starts: its own start, or its table's lead-in/header
    header: tuple[int, int] | None  # a table row's header row (and lead-in), read with the row


def units(text: str) -> list[Unit]:
    """Return the units of `text`, in order, stripped of surrounding whitespace, never overlapping.

    A quote of a table row starts at its table's lead-in, or else at its header row, when
    they fit within UNIT_CHARS together; anything else is quoted from its own start.
    """
    found: list[Unit] = []
    header: tuple[int, int] | None = None  # the header row of the table being read
    lead = -1  # where the lead-in of that table starts ("The timetable is:"), -1 if none
    for run in lead_ins(text, list(runs(text))):
        stripped = strip_span(text, *run)
        if stripped is None:
            continue
        start, end = stripped
        previous = found[-1] if found else None
        answers = previous and text[previous.end - 1] == "?" and text[end - 1] != "?"
        if previous and answers and end - previous.start <= UNIT_CHARS:
            found[-1] = Unit(previous.start, end, previous.start, None)  # a question, answered
            continue
        if (
            previous
            and previous.header is None
            and (_shows(text, previous, start, end) or _defines(text, previous, start, end))
        ):
            found[-1] = Unit(previous.start, end, previous.quote_start, None)
            continue
        row = is_table_row(text[start:end]) and not BREAKS.search(text[start:end])
        if not row:
            header, lead = None, -1
        elif header is None or previous is None or line_breaks(text[previous.end : start]) > 1:
            header = (start, end)  # a table's first row is its header
            lead = previous.start if previous and text[previous.end - 1] == ":" else -1
            fits = lead >= 0 and end - lead <= UNIT_CHARS
            found.append(Unit(start, end, lead if fits else start, None))
            continue
        if not row or header is None:
            found.append(Unit(start, end, start, None))
            continue
        first = lead if lead >= 0 else header[0]
        fitting = [s for s in (first, header[0]) if end - s <= UNIT_CHARS]
        found.append(Unit(start, end, fitting[0] if fitting else start, (first, header[1])))
    return found


def _shows(text: str, previous: Unit, start: int, end: int) -> bool:
    """Tell whether the run `text[start:end]` is an example of what the unit above it says:
    code indented deeper than the paragraph right above it ("    $ ln -sf ..."), that fits."""
    if end - previous.start > UNIT_CHARS or line_breaks(text[previous.end : start]) > 2:
        return False
    line_start = text.rfind("\n", 0, start) + 1
    above_start = text.rfind("\n", 0, previous.start) + 1
    depth = start - line_start
    above = previous.start - above_start
    run = text[start:end]
    return depth - above >= DEEPER and not is_item(run) and not is_table_row(run.split("\n")[0])


def _defines(text: str, previous: Unit, start: int, end: int) -> bool:
    """Tell whether the run `text[start:end]` describes the term right above it, on the
    line after it: "-h, --help" over "Print the usage and exit.", "s (x)" over "The sine"."""
    term = text[previous.start : previous.end]
    return (
        end - previous.start <= UNIT_CHARS
        and line_breaks(text[previous.end : start]) == 1
        and len(term) <= MAX_TERM_CHARS
        and not BREAKS.search(term)
        and term[-1] not in ".,;:!?"
        and not is_table_row(term)
        and not is_table_row(text[start:end].split("\n")[0])
    )


@functools.lru_cache(maxsize=4096)
def _indexed(text: str) -> tuple[list[int], list[Unit]]:
    """A text's units and their starts, for bisecting (computed once per text)."""
    found = units(text)
    return [u.start for u in found], found


def unit_at(text: str, start: int, end: int) -> Unit | None:
    """Return the unit that holds `text[start:end]`, or None when no single unit does."""
    starts, found = _indexed(text)
    i = bisect.bisect_right(starts, start) - 1
    if i >= 0 and found[i].start <= start and end <= found[i].end:
        return found[i]
    return None


def read_with(text: str, start: int, end: int) -> str:
    """Return what `text[start:end]` is read (and embedded) as: a table row after its header."""
    unit = unit_at(text, start, end)
    if unit is None or unit.header is None:
        return text[start:end]
    return f"{text[unit.header[0] : unit.header[1]]}\n{text[start:end]}"


def units_after(text: str, offset: int) -> list[Unit]:
    """Return the units that start at or after `offset`, in order."""
    starts, found = _indexed(text)
    return found[bisect.bisect_left(starts, offset) :]
