"""Fine-tune the packaged MiniLM into a span reader: start/end over the passage, first token = none.

Seeded and resumable: the checkpoint holds the weights, the optimiser, the schedule and the step,
and the example stream is replayed from its seed up to that step. A later phase starts from an
earlier phase's weights with its own run (schedule, seed, mix).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from rag.quality.span_data import SpanExample, SpanStream, held_out
from rag.quality.squad import f1_score, normalize
from rag.reading.neural import best_span

MAX_TOKENS = 192
CHECKPOINT_EVERY = 25  # steps


@dataclass(frozen=True, slots=True)
class SpanRun:
    """What a training run does; recorded beside its checkpoint."""

    steps: int = 3000
    batch: int = 16
    learning_rate: float = 1e-4
    warmup: int = 100
    frozen_layers: int = 2  # the embeddings and this many lower layers stay as packaged
    seed: int = 20261130
    threads: int = 2
    eval_every: int = 500
    multihop_share: float = 0.0  # of the examples drawn from multihop-train/


def _torch() -> Any:
    import torch

    return torch


def build_model(model_path: Path, frozen_layers: int) -> Any:
    """The packaged encoder with a start/end head; the embeddings and lower layers frozen."""
    torch = _torch()
    from transformers import AutoModel

    class SpanReader(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_path), local_files_only=True)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 2)

        def forward(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any]:
            hidden = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
            logits = self.head(hidden.last_hidden_state)
            # Only the first token (no answer) and passage tokens may be picked.
            allowed = (types > 0) & (mask > 0)
            allowed[:, 0] = True
            logits = logits.masked_fill(~allowed[..., None], -1e4)
            return logits[..., 0], logits[..., 1]

    torch.manual_seed(0)
    model = SpanReader()
    model.bert.embeddings.requires_grad_(False)
    for layer in model.bert.encoder.layer[:frozen_layers]:
        layer.requires_grad_(False)
    return model


def encode(tokenizer: Any, batch: Sequence[SpanExample]) -> dict[str, Any]:
    """Tokenise (question, passage) pairs; map each answer's characters to token positions."""
    torch = _torch()
    enc = tokenizer(
        [e.question for e in batch],
        [e.passage for e in batch],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    starts, ends = [], []
    for row, example in enumerate(batch):
        start = end = 0
        if example.answer is not None:
            first, last = example.answer
            sequence = enc.sequence_ids(row)
            tokens = [
                (i, a, b)
                for i, (a, b) in enumerate(enc["offset_mapping"][row].tolist())
                if sequence[i] == 1
            ]
            start = next((i for i, _, b in tokens if b > first), 0)
            end = max((i for i, a, _ in tokens if a < last), default=0)
            if tokens and tokens[-1][2] < last:
                start = 0  # the answer was cut off: the window does not hold it
            if not start or end < start:
                start = end = 0  # the answer was cut off: the window does not hold it
        starts.append(start)
        ends.append(end)
    return {
        "ids": enc["input_ids"],
        "mask": enc["attention_mask"],
        "types": enc["token_type_ids"],
        "offsets": enc["offset_mapping"],
        "start": torch.tensor(starts),
        "end": torch.tensor(ends),
    }


def best_spans(
    start: np.ndarray, end: np.ndarray, types: np.ndarray
) -> list[tuple[int, int, float, float]]:
    """Per row: the best (start, end) token span, its score, and the no-answer score."""
    found = []
    for s, e, t in zip(start, end, types, strict=True):
        passage = np.flatnonzero(t > 0)
        null = float(s[0] + e[0])
        if len(passage) == 0:
            found.append((0, 0, -math.inf, null))
            continue
        score, first, last = best_span(s, e, passage)
        found.append((first, last, score, null))
    return found


def _auc(positive: list[float], negative: list[float]) -> float:
    if not positive or not negative:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def evaluate(model: Any, tokenizer: Any, examples: Sequence[SpanExample]) -> dict[str, float]:
    """Span EM/F1 on the answerable examples (SQuAD's, and multihop-train's as multihop_em/f1),
    and the AUC of (span - none) against each kind of unanswerable one, taking the positives
    of its own set."""
    torch = _torch()
    model.eval()
    scores: dict[str, list[tuple[float, float]]] = {}
    margins: dict[str, list[float]] = {}
    with torch.no_grad():
        for first in range(0, len(examples), 32):
            batch = examples[first : first + 32]
            enc = encode(tokenizer, batch)
            start, end = model(enc["ids"], enc["mask"], enc["types"])
            spans = best_spans(start.numpy(), end.numpy(), enc["types"].numpy())
            for row, (example, (i, j, score, null)) in enumerate(zip(batch, spans, strict=True)):
                margins.setdefault(example.kind, []).append(score - null)
                if example.answer is None:
                    continue
                offsets = enc["offsets"][row].tolist()
                predicted = example.passage[offsets[i][0] : offsets[j][1]]
                gold = example.passage[example.answer[0] : example.answer[1]]
                found = (normalize(predicted) == normalize(gold), f1_score(predicted, gold))
                scores.setdefault(example.kind, []).append(found)
    model.train()
    figures: dict[str, float] = {}
    for kind, prefix in (("positive", "span"), ("multihop", "multihop")):
        if kind in scores or kind == "positive":
            em, f1 = np.mean(scores.get(kind, [(0.0, 0.0)]), axis=0)
            figures |= {f"{prefix}_em": 100 * float(em), f"{prefix}_f1": 100 * float(f1)}
    for kind, values in margins.items():
        if kind not in ("positive", "multihop"):
            positives = "multihop" if kind.startswith("multihop") else "positive"
            figures[f"auc_{kind}"] = _auc(margins.get(positives, []), values)
    return figures


def _dev_near_topic(examples: Sequence[SpanExample]) -> list[SpanExample]:
    """Each SQuAD dev question asked of the next question's passage (another paragraph)."""
    positives = [e for e in examples if e.kind == "positive"]
    return [
        SpanExample(a.question, b.passage, None, "near-topic")
        for a, b in zip(positives, positives[1:] + positives[:1], strict=True)
        if normalize(a.passage[a.answer[0] : a.answer[1]]) not in normalize(b.passage)  # type: ignore[index]
    ]


def _batches(stream: SpanStream, size: int, skip: int) -> Iterator[list[SpanExample]]:
    examples = iter(stream)
    for _ in islice(examples, skip * size):
        pass
    while True:
        yield list(islice(examples, size))


def train_span_reader(
    shared_train: Path,
    work_dir: Path,
    model_path: Path,
    run: SpanRun,
    log: Callable[[str], None] = print,
    until: int | None = None,
    init: Path | None = None,
) -> dict[str, float]:
    """Train (or resume) and return the held-out figures; the weights land in work_dir.

    Args:
        until: stop after this step, checkpointed, to resume later (a budgeted session).
        init: start from these weights (an earlier phase's) instead of the packaged encoder's.
    """
    torch = _torch()
    from transformers import AutoTokenizer

    torch.set_num_threads(run.threads)
    work_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    model = build_model(model_path, run.frozen_layers)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=run.learning_rate, weight_decay=0.01)

    def rate(step: int) -> float:
        if step < run.warmup:
            return (step + 1) / run.warmup
        return max(0.0, (run.steps - step) / max(1, run.steps - run.warmup))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    checkpoint = work_dir / "checkpoint.pt"
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if asdict(SpanRun()) | state["run"] != asdict(run):  # later fields at their defaults
            raise ValueError(f"{checkpoint} was written by another run: {state['run']}")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        step = state["step"]
        if "rng" in state:  # dropout continues as if never stopped
            torch.set_rng_state(state["rng"])
        log(f"resumed at step {step}")
    else:
        if init is not None:
            model.load_state_dict(torch.load(init))
            log(f"starting from {init.name}")
        torch.manual_seed(run.seed)
    multihop = shared_train / "multihop-train" if run.multihop_share else None
    stream = SpanStream(
        shared_train / "squad11-train" / "paragraphs.jsonl",
        shared_train / "squad2-train" / "paragraphs.jsonl",
        run.seed,
        multihop,
        run.multihop_share,
    )
    dev = held_out(
        shared_train / "squad11" / "paragraphs.jsonl",
        shared_train / "squad2-train" / "paragraphs.jsonl",
        multihop,
    )
    dev = dev + _dev_near_topic(dev)
    model.train()
    began, losses = time.monotonic(), []
    last = run.steps if until is None else min(until, run.steps)
    for batch in _batches(stream, run.batch, step):
        if step >= last:
            break
        enc = encode(tokenizer, batch)
        start, end = model(enc["ids"], enc["mask"], enc["types"])
        loss = (
            torch.nn.functional.cross_entropy(start, enc["start"])
            + torch.nn.functional.cross_entropy(end, enc["end"])
        ) / 2
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimiser.step()
        schedule.step()
        step += 1
        losses.append(float(loss.detach()))
        if step % 10 == 0:
            seconds = time.monotonic() - began
            log(f"step {step}/{run.steps} loss {np.mean(losses[-10:]):.3f} {seconds:.0f} s")
        if step % CHECKPOINT_EVERY == 0 or step == last:
            _save(checkpoint, model, optimiser, schedule, step, run)
        if step % run.eval_every == 0:
            log(f"held out at step {step}: {json.dumps(evaluate(model, tokenizer, dev))}")
    if step < run.steps:
        log(f"stopped at step {step} of {run.steps}: run again to resume")
        return {"examples_seen": float(step * run.batch)}
    figures = evaluate(model, tokenizer, dev)
    figures["examples_seen"] = step * run.batch
    log(f"held out at the end: {json.dumps(figures)}")
    torch.save(model.state_dict(), work_dir / "span_reader.pt")
    return figures


def _save(path: Path, model: Any, optimiser: Any, schedule: Any, step: int, run: SpanRun) -> None:
    torch = _torch()
    state = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
        "rng": torch.get_rng_state(),
        "run": asdict(run),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
