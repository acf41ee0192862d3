"""Command line: `rag index | ask | serve | eval | train`, thin wiring over the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import Settings, configure_runtime

if TYPE_CHECKING:
    from rag import Answer, BuildReport, Indexer

EXIT_ERROR = 2


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
            self._bar = tqdm(total=total, desc=stage, unit="item", file=sys.stderr)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    index = sub.add_parser("index", help="build or update the index from source folders")
    index.add_argument("source_dirs", nargs="*", type=Path, help="folders of sources")
    index.add_argument("--index-dir", type=Path)
    index.add_argument("--watch", action="store_true", help="rebuild when sources change")
    ask = sub.add_parser("ask", help="answer a question with cited quotes")
    ask.add_argument("question")
    ask.add_argument("--index-dir", type=Path)
    ask.add_argument("--top-k", type=int)
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    serve = sub.add_parser("serve", help="run the HTTP API and the chat UI")
    serve.add_argument("source_dirs", nargs="*", type=Path, help="folders of sources")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--index-dir", type=Path)
    serve.add_argument("--watch", action="store_true", default=None)
    evaluate = sub.add_parser("eval", help="score answers on an evaluation set")
    evaluate.add_argument("dataset_dir", type=Path)
    evaluate.add_argument("--index-dir", type=Path, help="default: .cache/eval/<set name>")
    evaluate.add_argument("--json", action="store_true")
    train = sub.add_parser("train", help="fit the reader model on SQuAD-style paragraphs")
    train.add_argument("train_dir", type=Path)
    train.add_argument("--work-dir", type=Path, default=Path(".cache/train"))
    train.add_argument("--out", type=Path, help="default: the packaged reader model")
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
    except RagError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _report(report: BuildReport) -> str:
    if not report.published:
        return (
            f"nothing changed: generation {report.generation} still serves "
            f"({report.sources} sources, {report.chunks} chunks; checked in {report.seconds:.1f} s)"
        )
    return (
        f"generation {report.generation}: {report.sources} sources, {report.chunks} chunks "
        f"({report.added} added, {report.changed} changed, {report.removed} removed, "
        f"{report.unchanged} unchanged; {report.embedded} texts embedded) "
        f"in {report.seconds:.1f} s"
    )


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from rag import Indexer, load_embedder

    indexer = Indexer(settings, load_embedder(settings))
    bar = BarProgress()
    report = indexer.build(bar)
    bar.close()
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    print(_report(report), flush=True)
    return _watch(settings, indexer) if args.watch else 0


def _watch(settings: Settings, indexer: Indexer) -> int:
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
        "quotes": [asdict(q) for q in answer.quotes],
        "generation": answer.generation,
        "query": answer.query,
    }


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag import Assistant, load_embedder

    assistant = Assistant(settings, load_embedder(settings))
    answer = assistant.ask(args.question, top_k=args.top_k)
    if args.json:
        print(json.dumps(_answer_json(answer), ensure_ascii=False))
        return 0
    print(answer.text)
    for i, q in enumerate(answer.quotes, start=1):
        page = f", p. {q.page}" if q.page is not None else ""
        print(f"[{i}] {q.title} — {q.source}{page} [{q.start}:{q.end}]")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ui.server import serve  # late: gradio and uvicorn load only to serve

    serve(settings)
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from rag import Assistant, build_index, evaluate, load_embedder

    dataset = args.dataset_dir
    index_dir = args.index_dir or Path(".cache/eval") / dataset.resolve().name
    settings = settings.model_copy(
        update={"source_dirs": (dataset / "corpus",), "index_dir": index_dir}
    )
    embedder = load_embedder(settings)
    bar = BarProgress(enabled=not args.json or sys.stderr.isatty())
    build_index(settings, embedder, bar)
    metrics = evaluate(dataset, Assistant(settings, embedder), bar)
    bar.close()
    if args.json:
        print(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            print(f"{name:24} {value}")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from rag import DEFAULT_MODEL, load_embedder, train_reader

    bar = BarProgress()
    model, report = train_reader(args.train_dir, args.work_dir, load_embedder(settings), bar)
    bar.close()
    out = args.out or DEFAULT_MODEL
    model.save(out)
    print(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
