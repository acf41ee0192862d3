"""Text -> a title: the document's own heading or first meaningful line."""

from __future__ import annotations

import itertools
import re

_MD_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_UNDERLINE = re.compile(r"(?:={3,}|-{3,})")
_MODE_LINE = re.compile(r"-\*-.*?-\*-")  # Emacs' "-*- outline -*-": not part of any title
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")  # badges
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TITLE_LINES = 40  # an underlined title is looked for this far down


def first_line(text: str) -> str:
    """Return the first line that holds a letter or digit, stripped (mode lines left out)."""
    for line in text.splitlines():
        line = " ".join(_MODE_LINE.sub(" ", line.lstrip("\ufeff")).split())
        if any(ch.isalnum() for ch in line):
            return line
    return ""


def text_title(text: str) -> str:
    """Return a plain text's underlined title ("GNU Wget\\n========"), else its first line."""
    lines = text.splitlines()[:_TITLE_LINES]
    for line, below in itertools.pairwise(lines):
        if line.strip() and _UNDERLINE.fullmatch(below.strip()):
            return first_line(line)
    return first_line(text)


def md_title(text: str) -> str:
    """Return the first `#` heading's text without its badges and link targets, else as text."""
    for line in text.splitlines():
        heading = _MD_HEADING.match(line.lstrip("\ufeff"))
        if heading and heading.group(1):
            plain = " ".join(_MD_LINK.sub(r"\1", _MD_IMAGE.sub("", heading.group(1))).split())
            return plain or heading.group(1)
    return text_title(text)
