"""An evaluation set (corpus + questions) and an Assistant -> quality and latency metrics."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.assistant import Assistant
from rag.quality.squad import f1_score, normalize
from rag.types import Answer

RETRIEVAL_DEPTH = 40  # chunks searched to rank documents for hit@k / MRR@10
SHOWN_F1 = 0.5  # a shown short answer is right when it shares this F1 with a gold answer


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """One question of an evaluation set."""

    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]  # doc ids
    answerable: bool
    type: str = "single-hop"
    match: str = "any"  # "all": every answer string must be quoted (lists, two-part questions)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read questions.jsonl (format of ../shared/eval/README.md)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            docs = tuple(dict.fromkeys(e["doc"] for e in q.get("evidence", [])))
            kind = q.get("type", "single-hop" if q["answerable"] else "null")
            out.append(
                EvalQuestion(
                    q["id"],
                    q["question"],
                    tuple(q["answers"]),
                    docs,
                    q["answerable"],
                    kind,
                    q.get("match", "any"),
                )
            )
    return out


def _doc_id(source_id: str) -> str:
    """Return the evaluation set's doc id of a source: its file name without the extension."""
    return os.path.splitext(source_id)[0]


@dataclass
class _Tally:
    contained: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    refused_answerable: list[float] = field(default_factory=list)
    refused_unanswerable: list[float] = field(default_factory=list)
    quotes_valid: list[float] = field(default_factory=list)
    em: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    hit5: list[float] = field(default_factory=list)
    rr: list[float] = field(default_factory=list)
    all10: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    quotes: list[float] = field(default_factory=list)
    right: dict[str, list[float]] = field(default_factory=dict)  # by question type
    # per answer: the short answer was sure enough to show
    shown: list[float] = field(default_factory=list)
    # per shown short answer: F1 with a gold answer >= SHOWN_F1
    shown_right: list[float] = field(default_factory=list)


def _score_answer(q: EvalQuestion, a: Answer, texts: Mapping[str, str], tally: _Tally) -> None:
    for quote in a.quotes:  # against the extracted text the quote's offsets point into
        text = texts.get(quote.source, "")
        tally.quotes_valid.append(float(text[quote.start : quote.end] == quote.text))
    if not a.refused:
        tally.quotes.append(float(len(a.quotes)))
    short = "" if a.refused else a.short_answer
    golds = q.answers or ("",)
    if not a.refused:
        tally.shown.append(float(a.short_answer_sure))
        if a.short_answer_sure and q.answerable:
            tally.shown_right.append(float(max(f1_score(short, g) for g in golds) >= SHOWN_F1))
    tally.em.append(max(float(normalize(short) == normalize(g)) for g in golds))
    tally.f1.append(max(f1_score(short, g) for g in golds))
    right = tally.right.setdefault(q.type, [])
    if not q.answerable:
        tally.refused_unanswerable.append(float(a.refused))
        right.append(float(a.refused))
        return
    quoted = normalize(" ".join(quote.text for quote in a.quotes))
    found = [normalize(g) in quoted for g in q.answers if normalize(g)]
    contained = float(all(found) if q.match == "all" else any(found)) if found else 0.0
    tally.contained.append(contained)
    right.append(contained * float(not a.refused))
    cited = {_doc_id(quote.source) for quote in a.quotes}
    tally.recall.append(len(cited & set(q.evidence)) / max(len(q.evidence), 1))
    tally.refused_answerable.append(float(a.refused))


def _score_ranking(q: EvalQuestion, ranked: list[str], tally: _Tally) -> None:
    gold = set(q.evidence)
    tally.hit5.append(float(bool(gold & set(ranked[:5]))))
    first = next((i for i, d in enumerate(ranked[:10]) if d in gold), None)
    tally.rr.append(0.0 if first is None else 1.0 / (first + 1))
    tally.all10.append(float(gold <= set(ranked[:10])))


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def off_topic(questions: list[EvalQuestion]) -> list[EvalQuestion]:
    """The answerable questions, to be asked of another set's corpus: each must be refused."""
    return [
        replace(q, answers=(), evidence=(), answerable=False, type="off-topic")
        for q in questions
        if q.answerable
    ]


def evaluate(
    dataset: Path,
    assistant: Assistant,
    progress: Callable[[str, int, int], None] | None = None,
    other_corpus: bool = False,
) -> dict[str, float | int | str | dict[str, str] | None]:
    """Ask every question of the set and return the metrics of ../shared/eval/README.md.

    Args:
        other_corpus: the assistant's index holds another set's corpus: ask the answerable
            questions, each of which must be refused (`abstention_accuracy`).
    """
    questions = load_questions(dataset / "questions.jsonl")
    if other_corpus:
        questions = off_topic(questions)
    texts = {source_id: source.text for source_id, source in assistant.store.sources.items()}
    tally = _Tally()
    for i, q in enumerate(questions):
        started = time.perf_counter()
        a = assistant.ask(q.question)
        tally.latency_ms.append((time.perf_counter() - started) * 1000)
        _score_answer(q, a, texts, tally)
        if q.answerable:
            hits = assistant.search(q.question, RETRIEVAL_DEPTH)
            ranked = list(dict.fromkeys(_doc_id(h.chunk.source_id) for h in hits))
            _score_ranking(q, ranked, tally)
        if progress:
            progress("asking", i + 1, len(questions))
    return {
        "questions": len(questions),
        "answerable": sum(q.answerable for q in questions),
        "unanswerable": sum(not q.answerable for q in questions),
        "answer_contained": _mean(tally.contained),
        "evidence_recall": _mean(tally.recall),
        "abstention_accuracy": _mean(tally.refused_unanswerable),
        "false_abstention_rate": _mean(tally.refused_answerable),
        "quote_valid": _mean(tally.quotes_valid),
        "em": round(100 * float(np.mean(tally.em)), 2),
        "f1": round(100 * float(np.mean(tally.f1)), 2),
        "hit_at_5": _mean(tally.hit5),
        "mrr_at_10": _mean(tally.rr),
        "all_evidence_at_10": _mean(tally.all10),
        "p50_ms": round(float(np.percentile(tally.latency_ms, 50)), 1),
        "p95_ms": round(float(np.percentile(tally.latency_ms, 95)), 1),
        "quotes_per_answer": _mean(tally.quotes),
        "short_shown": _mean(tally.shown),
        "short_shown_right": _mean(tally.shown_right),
        "right": _mean([r for values in tally.right.values() for r in values]),
        "by_type": {
            kind: f"{int(sum(values))}/{len(values)}"
            for kind, values in sorted(tally.right.items())
        },
    }
