"""A conversation <-> what the browser keeps of it, so that it survives a page reload."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rag import Answer, Quote, Turn

STORAGE_KEY = "rag-conversation"
EMPTY: dict[str, list[Any]] = {"messages": [], "turns": [], "answers": []}


def stored(
    messages: list[dict[str, str]], turns: list[Turn], answers: list[Answer | None]
) -> dict[str, list[Any]]:
    """Return the conversation as JSON-ready lists."""
    return {
        "messages": messages,
        "turns": [asdict(turn) for turn in turns],
        "answers": [asdict(answer) if answer else None for answer in answers],
    }


def restored(saved: Any) -> tuple[list[dict[str, str]], list[Turn], list[Answer | None]]:
    """Rebuild a stored conversation; anything that does not fit starts a new one."""
    try:
        messages = [{"role": m["role"], "content": m["content"]} for m in saved["messages"]]
        turns = [Turn(t["role"], t["content"]) for t in saved["turns"]]
        answers = [_answer(a) if a else None for a in saved["answers"]]
    except (KeyError, TypeError, ValueError):
        return [], [], []
    return messages, turns, answers


def _answer(data: dict[str, Any]) -> Answer:
    quotes = tuple(Quote(**quote) for quote in data["quotes"])
    return Answer(**{**data, "quotes": quotes})
