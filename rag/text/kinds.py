"""Question -> the kind of answer it asks for, and whether a quote holds one.

"How many seconds ...?" is answered only by a quote that holds a number, and "Which option
...?" only by one that names an option: a quote without one is loosely related text, and
the answer is a refusal. Questions that ask for anything else are not checked.
"""

from __future__ import annotations

import re

NUMBER = "number"
OPTION = "option"

_CLAUSE = r"(?:^|[,;:]\s*|\band\s+|\bbut\s+)"  # where a question's own asking starts
_ASKS = (
    (
        NUMBER,  # a count or an amount; "how long" and the like may be answered in words
        re.compile(
            _CLAUSE + r"(?:how (?:many|much)|what (?:numeric|number|percentage|percent))\b",
            re.IGNORECASE,
        ),
    ),
    (
        OPTION,
        re.compile(
            _CLAUSE + r"(?:\w+\s+){0,2}(?:which|what)\s+(?:[\w.'’-]+\s+){0,2}"
            r"(?:option|switch|flag)s?\b",
            re.IGNORECASE,
        ),
    ),
)
_NUMBER = re.compile(
    r"(?<![\w.])\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|twice|once|"
    r"several|few|no|none)\b",
    re.IGNORECASE,
)
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z0-9][\w-]*|(?<![\w/])/[A-Za-z]\b")


def asked_kind(question: str) -> str | None:
    """Return the kind of answer the question asks for (NUMBER, OPTION), or None."""
    return next((kind for kind, pattern in _ASKS if pattern.search(question)), None)


def holds_kind(text: str, kind: str) -> bool:
    """Tell whether `text` holds an answer of this kind."""
    return bool((_NUMBER if kind == NUMBER else _OPTION).search(text))


# "In which release did ...?", "Since which version ...?": in a NEWS file or changelog the
# answer is the heading of the section that holds the item, far above it.
_ASKS_RELEASE = re.compile(
    r"\b(?:which|what)\s+(?:[\w.-]+\s+){0,2}(?:release|version)s?\b|\bsince\s+(?:which|what|when)\b",
    re.IGNORECASE,
)


def asks_release(question: str) -> bool:
    """Tell whether the question asks in which release or version something happened."""
    return bool(_ASKS_RELEASE.search(question))
