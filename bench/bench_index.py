"""Time a full index build and 1-document changes on a ~5,000-document corpus.

The corpus repeats and varies the public eval corpora (../shared/eval/*/corpus, 887 short
Wikipedia-style articles): document i is article i mod 887; copy k >= 1 of an article gets
"(copy k)" after every 12th word of its body and in its title, so copies share no sentence
and every text is embedded for real (the embedding cache cannot dedupe them).

    .venv/bin/python bench/bench_index.py --embedder fake          # minutes: plumbing only
    .venv/bin/python bench/bench_index.py --embedder onnx --documents 500   # the real model

Prints one JSON object; the figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rag.runtime import configure_runtime  # noqa: E402

configure_runtime()

from rag.build.indexer import Indexer  # noqa: E402
from rag.build.report import BuildReport  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding.base import Embedder, SentenceTransformerEmbedder  # noqa: E402
from rag.embedding.onnx import load_embedder  # noqa: E402
from rag.index.generations import generation_dir, load_current  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

EVAL = REPO.parent / "shared" / "eval"
MARK_EVERY = 12  # words between copy markers


def vary(text: str, copy: int) -> str:
    """Return a copy of an eval document whose title and sentences differ from the original."""
    if copy == 0:
        return text
    title, _, body = text.partition("\n")
    lines = []
    for line in body.split("\n"):
        words = line.split(" ")
        for at in range(MARK_EVERY, len(words), MARK_EVERY + 1):
            words.insert(at, f"(copy {copy})")
        lines.append(" ".join(words))
    return f"{title} (copy {copy})\n" + "\n".join(lines)


def make_corpus(target: Path, documents: int) -> int:
    """Write `documents` varied copies of the eval articles; return the bytes written."""
    originals = sorted(EVAL.glob("*/corpus/*.txt"))
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written = 0
    for i in range(documents):
        original = originals[i % len(originals)]
        text = vary(original.read_text(encoding="utf-8"), i // len(originals))
        folder = target / f"{i // 1000:02d}"  # a few folders, like a real collection
        folder.mkdir(exist_ok=True)
        written += (folder / f"{i:05d}-{original.stem}.txt").write_text(text, encoding="utf-8")
    return written


def peak_rss_mib() -> float:
    """Return this process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(indexer: Indexer) -> tuple[float, BuildReport, dict[str, float]]:
    """Build; return the seconds, the report and the seconds spent up to each stage's end.

    Stages, from the progress callback: scanning (hash every file), reading (load the live
    generation unless the indexer holds it, read new files), chunking, embedding (cache
    lookups, embedding, vectors), writing (build the indexes, write, fsync, publish, clean up).
    """
    started = time.perf_counter()
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter() - started

    report = indexer.build(progress)
    seconds = time.perf_counter() - started
    stages, last = {}, 0.0
    for stage, mark in marks.items():  # dicts keep the order stages were first seen
        stages[stage], last = round(mark - last, 3), mark
    return seconds, report, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--embedder", choices=("fake", "onnx", "torch"), default="fake",
        help="fake: hashed bag of words at the model's width; onnx (the default encoder of the "
        "product) or torch: the packaged MiniLM model",
    )  # fmt: skip
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rag-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the 1-document changes")
    args = parser.parse_args()
    sources, index_dir = args.workdir / "sources", args.workdir / f"index-{args.embedder}"
    corpus_bytes = make_corpus(sources, args.documents)
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = Settings(source_dirs=(sources,), index_dir=index_dir)
    # FakeEmbedder at the real model's width: the same bytes to write, hash and load.
    embedder: Embedder = {
        "fake": lambda: FakeEmbedder(dim=384),
        "onnx": lambda: load_embedder(settings),
        "torch": SentenceTransformerEmbedder,
    }[args.embedder]()
    steps: dict[str, dict[str, object]] = {}
    load_before = os.getloadavg()[0]  # other jobs share the machine: say how busy it was
    full, report, stages = timed(Indexer(settings, embedder))
    steps["full build"] = {"seconds": full, "embedded": report.embedded, "stages": stages}
    rss_after_full = peak_rss_mib()
    first = sorted(sources.rglob("*.txt"))[0]
    changes: dict[str, Callable[[int], object]] = {
        "add 1 document": lambda n: (sources / "new-document.txt").write_text(
            f"A new document\n\nThe new document adds fact number {n}. It is for the benchmark.\n"
        ),
        "edit 1 document": lambda n: first.write_text(
            first.read_text() + f"\nEdit number {n} adds a sentence to the article.\n"
        ),
        "delete 1 document": lambda n: (sources / "new-document.txt").unlink(),
        "no change": lambda n: None,
    }
    # "cold": a new Indexer per build reads the live generation back, as `rag index` does;
    # "held": one Indexer builds on the generation it holds, as a watcher or the server does.
    rounds: dict[str, list[float]] = {}
    count = itertools.count()
    for mode in ("cold", "held"):
        held = Indexer(settings, embedder)
        if mode == "held":
            held.build()  # from now on it holds the live generation
        for _ in range(args.repeat):  # the machine is shared: keep the best round, list all
            for name, change in changes.items():
                change(next(count))
                seconds, report, stages = timed(
                    held if mode == "held" else Indexer(settings, embedder)
                )
                key = f"{name} ({mode})"
                rounds.setdefault(key, []).append(round(seconds, 3))
                if round(seconds, 3) <= min(rounds[key]):
                    steps[key] = dict(
                        rounds=rounds[key],
                        seconds=seconds,
                        ratio_to_full=seconds / full,
                        embedded=report.embedded,
                        added_changed_removed=[report.added, report.changed, report.removed],
                        stages=stages,
                    )
    started = time.perf_counter()
    store = load_current(index_dir, embedder)
    load_seconds = time.perf_counter() - started
    live = generation_dir(index_dir, store.generation)
    result = {
        "embedder": embedder.model_id,
        "documents": report.sources,
        "corpus_mib": corpus_bytes / 2**20,
        "chunks": len(store.chunks),
        "sentences": len(store.sentences),
        "cpus": os.cpu_count(),
        "load_1min_before_and_after": [load_before, os.getloadavg()[0]],
        "steps": steps,
        "load_seconds": load_seconds,
        "peak_rss_mib_after_full_build": rss_after_full,
        "peak_rss_mib": peak_rss_mib(),
        "generation_mib": sum(p.stat().st_size for p in live.rglob("*") if p.is_file()) / 2**20,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
