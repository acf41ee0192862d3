"""Command line: `rag index | ask | serve | eval | train`, thin wiring over the library.

Exit status: 0 done (for `ask`: answered), 1 `ask` refused (the sources do not hold an
answer), 2 an error (bad flag or setting, no index, unreadable sources), as usual for argparse.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from rag import Settings, configure_runtime
from ui.render import count

if TYPE_CHECKING:
    from rag import Answer, BuildReport, Indexer, MilvusIndexer

EXIT_REFUSED = 1
EXIT_ERROR = 2


LOG_EVERY_S = 5.0  # seconds between progress lines when stderr is not a terminal


class BarProgress:
    """A tqdm progress bar per stage, fed by (stage, done, total) callbacks."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._stage = ""
        self._bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            # a terminal redraws ten times a second; a log gets a line every few seconds
            every = 0.1 if sys.stderr.isatty() else LOG_EVERY_S
            self._bar = tqdm(
                total=total, desc=stage, unit="item", file=sys.stderr, mininterval=every
            )
        self._bar.total = total
        self._bar.update(done - self._bar.n)  # drawn at most once per mininterval

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


INDEX_DIR = "index folder (default: RAG_INDEX_DIR, else ./index)"
SOURCES = "folders of sources (default: RAG_SOURCE_DIRS, else ./seeds)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    index = sub.add_parser("index", help="build or update the index from source folders")
    index.add_argument("source_dirs", nargs="*", type=Path, help=SOURCES)
    index.add_argument("--index-dir", type=Path, help=INDEX_DIR)
    index.add_argument("--watch", action="store_true", help="then rebuild whenever sources change")
    ask = sub.add_parser("ask", help="answer a question with cited quotes (exit 1: refused)")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--index-dir", type=Path, help=INDEX_DIR)
    ask.add_argument("--top-k", type=int, help="passages to read, 1-100 (default: 8)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    serve = sub.add_parser("serve", help="run the HTTP API and the chat UI")
    serve.add_argument("source_dirs", nargs="*", type=Path, help=SOURCES)
    serve.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: 8000)")
    serve.add_argument("--index-dir", type=Path, help=INDEX_DIR)
    serve.add_argument(
        "--watch", action="store_true", default=None, help="rebuild whenever sources change"
    )
    evaluate = sub.add_parser(
        "eval",
        help="score answers on an evaluation set",
        description="DATASET_DIR holds corpus/ (the documents) and questions.jsonl, in the "
        "format of ../shared/eval/README.md (squad2, multihop, realdocs).",
    )
    evaluate.add_argument("dataset_dir", type=Path, help="folder with corpus/ and questions.jsonl")
    evaluate.add_argument("--index-dir", type=Path, help="default: .cache/eval/<set name>")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--corpus",
        type=Path,
        help="ask the set's answerable questions of this other set's corpus (off-topic: "
        "each must be refused)",
    )
    train = sub.add_parser(
        "train",
        help="fit a reader model on SQuAD-style paragraphs",
        description="The linear reader: TRAIN_DIR holds squad11/ and, optionally, "
        "multihop-train/ and squad11-train/ (for the quote ratio) (../shared/train), or is a "
        "folder of paragraphs.jsonl (e.g. "
        "../shared/train/squad11). The neural reader (--neural): TRAIN_DIR holds squad11-train/, "
        "squad2-train/, squad11/ and multihop-train/ (../shared/train); it trains in two "
        "phases and resumes from their checkpoints in WORK_DIR/span and WORK_DIR/span-2.",
    )
    train.add_argument("train_dir", type=Path, help="the training data folder")
    train.add_argument("--neural", action="store_true", help="train the neural span reader")
    train.add_argument(
        "--steps",
        type=int,
        help="train the neural reader for this many steps, one phase (a short trial run)",
    )
    train.add_argument("--work-dir", type=Path, default=Path(".cache/train"))
    train.add_argument("--out", type=Path, help="default: the packaged model")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    base = Settings.from_env(os.environ).model_dump()
    names = ("source_dirs", "index_dir", "top_k", "host", "port", "watch")
    overrides = {n: getattr(args, n) for n in names if getattr(args, n, None) not in (None, [])}
    if "source_dirs" in overrides:
        overrides["source_dirs"] = tuple(overrides["source_dirs"])
    return Settings.model_validate({**base, **overrides})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    configure_runtime()
    args = _parser().parse_args(argv)
    from rag import RagError

    try:
        settings = _settings(args)
        command = {"index": _index, "ask": _ask, "serve": _serve, "eval": _eval, "train": _train}
        return command[args.command](args, settings)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"rag: {_flag(error['loc'])}: {error['msg']}", file=sys.stderr)
        return EXIT_ERROR
    except RagError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _flag(location: tuple[object, ...]) -> str:
    """Name a setting the way the user gave it: `--top-k` for a flag, RAG_TOP_K otherwise."""
    name = str(location[0]) if location else "setting"
    return f"--{name.replace('_', '-')} (or RAG_{name.upper()})"


def _report(report: BuildReport) -> str:
    if not report.published:
        return (
            f"nothing changed: generation {report.generation} still serves "
            f"({count(report.sources, 'source')}, {count(report.chunks, 'chunk')}; "
            f"checked in {report.seconds:.1f} s)"
        )
    return (
        f"generation {report.generation}: {count(report.sources, 'source')}, "
        f"{count(report.chunks, 'chunk')} "
        f"({report.added} added, {report.changed} changed, {report.removed} removed, "
        f"{report.unchanged} unchanged; {report.embedded} texts embedded) "
        f"in {report.seconds:.1f} s"
    )


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from rag import load_embedder, make_indexer

    indexer = make_indexer(settings, load_embedder(settings))
    bar = BarProgress()
    report = indexer.build(bar)
    bar.close()
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    print(_report(report), flush=True)
    return _watch(settings, indexer) if args.watch else 0


def _watch(settings: Settings, indexer: Indexer | MilvusIndexer) -> int:
    import time

    from rag import RagError, watch_sources

    def rebuild() -> None:
        try:
            print(_report(indexer.build()), flush=True)  # the held generation saves a reload
        except RagError as exc:
            print(f"rag: rebuild failed: {exc}", file=sys.stderr, flush=True)

    watcher = watch_sources(settings, rebuild)
    print("watching for changes; Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        watcher.stop()
    return 0


def _answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "short_answer": answer.short_answer,
        "short_answer_confidence": answer.short_confidence,
        "short_answer_sure": answer.short_answer_sure,
        "quotes": [asdict(q) for q in answer.quotes],
        "generation": answer.generation,
        "query": answer.query,
    }


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag import Assistant, load_embedder

    assistant = Assistant(settings, load_embedder(settings))
    answer = assistant.ask(args.question, top_k=settings.top_k)
    if args.json:
        print(json.dumps(_answer_json(answer), ensure_ascii=False))
    else:
        print(answer.text)
        for i, q in enumerate(answer.quotes, start=1):
            page = f", p. {q.page}" if q.page is not None else ""
            section = f", § {q.section}" if q.section else ""
            print(f"[{i}] {q.title} — {q.source}{page}{section} [{q.start}:{q.end}]")
    return EXIT_REFUSED if answer.refused else 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ui.server import serve  # late: gradio and uvicorn load only to serve

    serve(settings)
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from rag import Assistant, build_index, evaluate, load_embedder

    dataset = args.dataset_dir
    corpus = args.corpus or dataset  # --corpus: another set's documents
    index_dir = args.index_dir or Path(".cache/eval") / corpus.resolve().name
    settings = settings.model_copy(
        update={"source_dirs": (corpus / "corpus",), "index_dir": index_dir}
    )
    embedder = load_embedder(settings)
    bar = BarProgress(enabled=not args.json or sys.stderr.isatty())
    build_index(settings, embedder, bar)
    assistant = Assistant(settings, embedder)
    metrics = evaluate(dataset, assistant, bar, other_corpus=args.corpus is not None)
    bar.close()
    if args.json:
        print(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            print(f"{name:24} {value}")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from rag import DEFAULT_MODEL, load_embedder, train_reader

    if args.neural:
        return _train_neural(args, settings)
    bar = BarProgress()
    model, report = train_reader(args.train_dir, args.work_dir, load_embedder(settings), bar)
    bar.close()
    out = args.out or DEFAULT_MODEL
    model.save(out)
    print(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


def _train_neural(args: argparse.Namespace, settings: Settings) -> int:
    from rag import DEFAULT_WEIGHTS, PHASES, SpanRun, load_embedder, train_neural_reader

    phases = PHASES if args.steps is None else (SpanRun(steps=args.steps),)
    out = args.out or DEFAULT_WEIGHTS
    bar = BarProgress()
    record = train_neural_reader(
        args.train_dir, args.work_dir, load_embedder(settings), out, phases, progress=bar
    )
    bar.close()
    print(json.dumps(record.figures, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
