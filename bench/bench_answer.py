"""Time each step of answering, per question, on an evaluation set's cached index.

    .venv/bin/python bench/bench_answer.py [../shared/eval/squad2] [--embedder onnx|torch]

Run `rag eval DATASET` once first: it builds the index this reads (.cache/eval/<set>).
Prints the median and p95 of each step in milliseconds, and the whole `Assistant.ask`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.runtime import configure_runtime

configure_runtime()

from rag.answering.grounding import answer  # noqa: E402
from rag.assistant import BRIDGE_HITS, Assistant  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding.base import SentenceTransformerEmbedder  # noqa: E402
from rag.embedding.onnx import load_embedder  # noqa: E402
from rag.quality.evaluation import load_questions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, nargs="?", default=Path("../shared/eval/squad2"))
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--embedder", choices=("onnx", "torch"), default="onnx")
    args = parser.parse_args()
    index_dir = args.index_dir or Path(".cache/eval") / args.dataset.resolve().name
    settings = Settings(source_dirs=(args.dataset / "corpus",), index_dir=index_dir)
    embedder = load_embedder(settings) if args.embedder == "onnx" else SentenceTransformerEmbedder()
    assistant = Assistant(settings, embedder)
    store = assistant.store
    loaded = assistant._current()
    steps: dict[str, list[float]] = {}

    def timed(name: str, started: float) -> float:
        now = time.perf_counter()
        steps.setdefault(name, []).append((now - started) * 1000)
        return now

    for q in load_questions(args.dataset / "questions.jsonl"):
        t = time.perf_counter()
        vector = assistant.embedder.embed([q.question])[0]
        t = timed("embed query", t)
        hits = loaded.retriever.retrieve_embedded(q.question, vector, settings.top_k)
        t = timed("dense + BM25 + fusion", t)
        reading = assistant.reader.read(q.question, vector, hits, store, loaded.lexicon)
        t = timed("read (features + 2 models)", t)
        bridge = assistant._bridge(q.question, reading)
        if bridge:
            hits = loaded.retriever.widen(hits, f"{q.question} {bridge}", BRIDGE_HITS)
            reading = assistant.reader.read(q.question, vector, hits, store, loaded.lexicon)
        t = timed("second hop + re-read", t)
        result = answer(q.question, reading, store, assistant.policy, q.question, 1, loaded.lexicon)
        if result.quotes:
            assistant.reader.short_answer(q.question, result.quotes[0].text, loaded.lexicon)
        t = timed("quotes + short answer", t)
        assistant.ask(q.question)
        timed("Assistant.ask (all)", t)
    report = {
        name: {
            "p50_ms": round(statistics.median(v), 2),
            "p95_ms": round(sorted(v)[int(0.95 * (len(v) - 1))], 2),
        }
        for name, v in steps.items()
    }
    head = {"dataset": args.dataset.name, "embedder": args.embedder, "chunks": len(store.chunks)}
    print(json.dumps({**head, **report}))


if __name__ == "__main__":
    main()
