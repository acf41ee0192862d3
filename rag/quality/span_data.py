"""Training questions -> span-reader examples: (question, passage window, answer span or none).

Positives are SQuAD 1.1 questions with a window of their own paragraph that holds the answer.
Negatives teach the refusal: SQuAD 2.0's real adversarial questions, the question asked of
another paragraph of its article (near-topic), and the question with one of its names swapped
for another name of the article (name-swapped). A later phase adds multi-hop questions
(`multihop-train/`): a window of the supporting document that holds the answer, and the question
asked of one of its distractor documents (no answer). Everything is drawn from one seeded
generator, so a run and its resumption see the same stream.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
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
    kind: str  # positive | adversarial | near-topic | name-swapped | multihop | multihop-distractor


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


@dataclass(frozen=True, slots=True)
class _Hops:
    """A multi-hop question: where its answer stands in its supporting documents, and the
    documents given with it that lack the answer."""

    question: str
    holding: tuple[tuple[str, int, int], ...]  # (document text, answer start, end)
    distractors: tuple[str, ...]


def _locate(text: str, answer: str, near: int) -> int:
    """The answer's occurrence in text (whole words, any case) nearest to `near`, or -1."""
    pattern = re.compile(rf"(?<!\w){re.escape(answer)}(?!\w)", re.IGNORECASE)
    starts = [m.start() for m in pattern.finditer(text)]
    return min(starts, key=lambda at: abs(at - near), default=-1)


def _multihop(train_dir: Path) -> list[_Hops]:
    """multihop-train's questions whose answer is written in a supporting document (a yes/no
    answer is not), in file order."""
    corpus = train_dir / "corpus"
    found = []
    for line in (train_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts = {d: (corpus / f"{d}.txt").read_text(encoding="utf-8") for d in row["context_docs"]}
        holding, supporting = [], set()
        for evidence in row["evidence"]:
            supporting.add(evidence["doc"])
            text = texts.get(evidence["doc"], "")
            near = max(0, text.find(evidence["text"]))
            for answer in row["answers"]:
                at = _locate(text, answer, near)
                if at >= 0 and answer.lower() not in ("yes", "no"):
                    holding.append((text, at, at + len(answer)))
                    break
        answers = [a.lower() for a in row["answers"]]
        distractors = tuple(
            text
            for doc, text in texts.items()
            if doc not in supporting and not any(a in text.lower() for a in answers)
        )
        if holding:
            found.append(_Hops(row["question"].strip(), tuple(dict.fromkeys(holding)), distractors))
    return found


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
        multihop: Path | None = None,
        multihop_share: float = 0.0,
    ) -> None:
        """
        Args:
            multihop: multihop-train/; four questions in five are drawn from (the fifth is
                held out), `multihop_share` of the examples.
        """
        self.seed = seed
        self.multihop_share = multihop_share if multihop is not None else 0.0
        self.hops = [h for i, h in enumerate(_multihop(multihop)) if i % 5] if multihop else []
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

    def _hop(self, rng: random.Random) -> SpanExample:
        hops = rng.choice(self.hops)
        return _hop_window(hops, rng.choice(hops.holding), rng)

    def _distractor(self, rng: random.Random) -> SpanExample | None:
        hops = rng.choice(self.hops)
        if not hops.distractors:
            return None
        text = rng.choice(hops.distractors)
        return SpanExample(hops.question, _crop(text, rng), None, "multihop-distractor")

    def __iter__(self) -> Iterator[SpanExample]:
        rng = random.Random(self.seed)
        makers: list[tuple[float, Callable[[random.Random], SpanExample | None]]] = [
            (0.64, self._positive),
            (0.14, self._near_topic),
            (0.10, self._name_swapped),
            (0.12, self._adversarial),
        ]
        mixed = self.multihop_share
        if mixed and self.hops:
            makers = [(s * (1 - mixed), make) for s, make in makers]
            makers += [(mixed * 2 / 3, self._hop), (mixed / 3, self._distractor)]
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


def _hop_window(hops: _Hops, holding: tuple[str, int, int], rng: random.Random) -> SpanExample:
    text, start, end = holding
    left, right = _window(text, start, end, rng)
    return SpanExample(hops.question, text[left:right], (start - left, end - left), "multihop")


def held_out(squad11_dev: Path, squad2: Path, multihop: Path | None = None) -> list[SpanExample]:
    """Unseen examples for the figures a run prints: SQuAD 1.1 dev questions on a window of
    their paragraph, the held-out paragraphs' adversarial questions, and (given multihop-train/)
    its held-out questions on their answer's document and on a distractor."""
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
    for hops in _multihop(multihop)[::5] if multihop else []:
        found.append(_hop_window(hops, hops.holding[0], rng))
        if hops.distractors:
            passage = _crop(hops.distractors[0], rng)
            found.append(SpanExample(hops.question, passage, None, "multihop-distractor"))
    return found
