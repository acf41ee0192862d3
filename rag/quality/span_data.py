"""Training questions -> span-reader examples: (question, passage window, answer span or none).

Positives are SQuAD 1.1 questions with a window of their own paragraph that holds the answer.
Negatives teach the refusal: SQuAD 2.0's real adversarial questions, the question asked of
another paragraph of its article (near-topic), and the question with one of its names swapped
for another name of the article (name-swapped). Everything is drawn from one seeded generator,
so a run and its resumption see the same stream.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WINDOW_CHARS = 700  # about a retrieved chunk: the reader sees windows of this size
_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:\s[A-Z][a-z]{2,})*\b")


@dataclass(frozen=True, slots=True)
class SpanExample:
    """A question, a passage, and the answer's character span in it (None: no answer)."""

    question: str
    passage: str
    answer: tuple[int, int] | None
    kind: str  # positive | adversarial | near-topic | name-swapped


@dataclass(frozen=True, slots=True)
class _Question:
    question: str
    answers: tuple[str, ...]
    start: int
    impossible: bool


@dataclass(frozen=True, slots=True)
class _Paragraph:
    article: str
    context: str
    questions: tuple[_Question, ...]


def _paragraphs(path: Path) -> list[_Paragraph]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        questions = tuple(
            _Question(
                question=qa["question"].strip(),
                answers=tuple(qa["answers"]),
                start=int(qa.get("answer_start") or 0) if qa["answers"] else -1,
                impossible=bool(qa.get("is_impossible", False)),
            )
            for qa in row["qas"]
        )
        found.append(_Paragraph(row["article"], row["context"], questions))
    return found


def _window(text: str, start: int, end: int, rng: random.Random) -> tuple[int, int]:
    """A window of about WINDOW_CHARS around [start, end), cut at spaces, shifted at random."""
    if len(text) <= WINDOW_CHARS:
        return 0, len(text)
    slack = max(0, WINDOW_CHARS - (end - start))
    left = max(0, start - rng.randint(0, slack))
    right = min(len(text), left + WINDOW_CHARS)
    left = max(0, right - WINDOW_CHARS)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space >= 0 else left
    if right < len(text):
        space = text.rfind(" ", max(end, left), right)
        right = space if space >= 0 else right
    return left, right


def _crop(text: str, rng: random.Random) -> str:
    start = rng.randint(0, max(0, len(text) - WINDOW_CHARS))
    left, right = _window(text, start, start, rng)
    return text[left:right]


def _swap_name(question: str, names: list[str], rng: random.Random) -> str | None:
    present = [m for m in _NAME.finditer(question) if m.start() > 0]
    others = [n for n in names if n not in question]
    if not present or not others:
        return None
    target = rng.choice(present)
    return question[: target.start()] + rng.choice(others) + question[target.end() :]


class SpanStream:
    """An endless, seeded stream of examples mixed in fixed shares, from the training folders."""

    def __init__(
        self,
        squad11: Path,
        squad2: Path | None,
        seed: int,
    ) -> None:
        self.seed = seed
        kept, held = _split_adversarial(squad2)
        held_contexts = {p.context for p in held}
        paragraphs = [p for p in _paragraphs(squad11) if p.context not in held_contexts]
        self.articles: dict[str, list[_Paragraph]] = {}
        for paragraph in paragraphs:
            self.articles.setdefault(paragraph.article, []).append(paragraph)
        self.names = {
            article: sorted({m.group() for p in group for m in _NAME.finditer(p.context)})
            for article, group in self.articles.items()
        }
        self.positives = [(p, q) for p in paragraphs for q in p.questions if q.start >= 0]
        self.adversarial = [(p, q) for p in kept for q in p.questions if q.impossible]

    def _positive(self, rng: random.Random) -> SpanExample:
        paragraph, question = rng.choice(self.positives)
        start = question.start
        end = start + len(question.answers[0])
        left, right = _window(paragraph.context, start, end, rng)
        passage = paragraph.context[left:right]
        return SpanExample(question.question, passage, (start - left, end - left), "positive")

    def _near_topic(self, rng: random.Random) -> SpanExample | None:
        paragraph, question = rng.choice(self.positives)
        others = [p for p in self.articles[paragraph.article] if p is not paragraph]
        if not others:
            return None
        other = rng.choice(others)
        if any(a.lower() in other.context.lower() for a in question.answers):
            return None
        return SpanExample(question.question, _crop(other.context, rng), None, "near-topic")

    def _name_swapped(self, rng: random.Random) -> SpanExample | None:
        paragraph, question = rng.choice(self.positives)
        swapped = _swap_name(question.question, self.names[paragraph.article], rng)
        if swapped is None:
            return None
        start = question.start
        left, right = _window(paragraph.context, start, start + len(question.answers[0]), rng)
        return SpanExample(swapped, paragraph.context[left:right], None, "name-swapped")

    def _adversarial(self, rng: random.Random) -> SpanExample | None:
        if not self.adversarial:
            return None
        paragraph, question = rng.choice(self.adversarial)
        return SpanExample(question.question, _crop(paragraph.context, rng), None, "adversarial")

    def __iter__(self) -> Iterator[SpanExample]:
        rng = random.Random(self.seed)
        makers = (
            (0.64, self._positive),
            (0.14, self._near_topic),
            (0.10, self._name_swapped),
            (0.12, self._adversarial),
        )
        while True:
            roll = rng.random()
            for share, make in makers:
                if roll < share:
                    example = make(rng)
                    if example is not None:
                        yield example
                    break
                roll -= share


def _split_adversarial(squad2: Path | None) -> tuple[list[_Paragraph], list[_Paragraph]]:
    """The paragraphs with adversarial questions: four in five to train on, one held out."""
    if squad2 is None:
        return [], []
    found = [p for p in _paragraphs(squad2) if any(q.impossible for q in p.questions)]
    return [p for i, p in enumerate(found) if i % 5], found[::5]


def held_out(squad11_dev: Path, squad2: Path) -> list[SpanExample]:
    """Unseen examples for the figures a run prints: SQuAD 1.1 dev questions on a window of
    their paragraph, and the held-out paragraphs' adversarial questions."""
    rng = random.Random(7)
    found = []
    for paragraph in _paragraphs(squad11_dev):
        for question in paragraph.questions[:1]:
            start = question.start
            end = start + len(question.answers[0])
            left, right = _window(paragraph.context, start, end, rng)
            found.append(
                SpanExample(
                    question.question,
                    paragraph.context[left:right],
                    (start - left, end - left),
                    "positive",
                )
            )
    for paragraph in _split_adversarial(squad2)[1]:
        for question in paragraph.questions:
            if question.impossible:
                passage = _crop(paragraph.context, rng)
                found.append(SpanExample(question.question, passage, None, "adversarial"))
    return found
