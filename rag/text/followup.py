"""A question and its conversation -> the standalone query that is searched."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text.lexicon import STOPWORDS
from rag.types import Turn

# Elliptical openings: "What about the drones?", "And the navy?"
_ELLIPTICAL = re.compile(r"^\s*(?:(?:what|how) about|and|also|but)\b", re.IGNORECASE)
# A pronoun that points back to something named earlier, when the question names nothing itself.
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|she|his|her|him)\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def names(text: str) -> list[str]:
    """Return the proper names of a text in order, without question words."""
    found = [m.group(0) for m in _NAME.finditer(text)]
    return list(dict.fromkeys(n for n in found if n.split()[0].lower() not in STOPWORDS))


def _topic(text: str) -> str:
    """Return the proper names of a question, e.g. 'North Korean', 'Kursk'."""
    return " ".join(names(text))


def is_follow_up(question: str) -> bool:
    """Tell whether a question only makes sense after the previous one.

    Elliptical questions ("What about the drones?") are; so are questions whose pronoun
    has nothing to point to in the question itself ("How many did it send?"). A question
    that names its own subject ("Who won the 2022 World Cup and where was it held?") stands
    alone, whatever its pronouns.
    """
    if _ELLIPTICAL.search(question):
        return True
    return bool(_PRONOUN.search(question)) and not names(question)


def standalone_query(question: str, history: Sequence[Turn]) -> str:
    """Return the question, carrying over the last question's names if it is a follow-up."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), "")
    if not previous or not is_follow_up(question):
        return question
    topic = _topic(previous)
    return f"{question} ({topic})" if topic else f"{question} ({previous})"


BRIDGE_NAMES = 3  # names of the best sentence carried into the second hop
_DATE_WORD = re.compile(
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?: \d+)?"
)


def bridge_names(question: str, sentence: str, title: str) -> str:
    """Return the names the best sentence adds to the question: the next hop's subject.

    Dates are not names of things a second document is about: "October" is left out.
    """
    asked = question.lower()
    new = [
        n
        for n in names(sentence)
        if n.lower() not in asked and n != title and not _DATE_WORD.fullmatch(n)
    ]
    return " ".join(new[:BRIDGE_NAMES])
