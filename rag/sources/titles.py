"""Text -> a title: the document's own heading or first meaningful line."""

from __future__ import annotations

import re

_MD_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")


def first_line(text: str) -> str:
    """Return the first line that holds a letter or digit, stripped."""
    for line in text.splitlines():
        line = line.lstrip("\ufeff").strip()
        if any(ch.isalnum() for ch in line):
            return line
    return ""


def md_title(text: str) -> str:
    """Return the first `#` heading's text, else the first line."""
    for line in text.splitlines():
        heading = _MD_HEADING.match(line.lstrip("\ufeff"))
        if heading and heading.group(1):
            return heading.group(1)
    return first_line(text)
