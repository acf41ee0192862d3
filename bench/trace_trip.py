"""A question's trip through the library: which `rag` modules `Assistant.ask` moves through.

    .venv/bin/python bench/trace_trip.py            # the seed question over seeds/

Builds (or reuses) an index of seeds/ under .cache/bench/trip with the packaged model, asks
one question once to warm up, then asks it again under a profiler hook that notes the `rag`
module of every call made from `Assistant.ask` and from the functions it calls directly (two
levels: the pipeline's steps, not their helpers), and the module control returns to. Kernel
modules (types, config, errors) are plumbing and not counted. Consecutive notes in one module
are one stay. Prints the stays in order and three counts: stays, modules entered, and returns
(a stay in a module the trip had already left).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import FrameType

from rag.runtime import configure_runtime

REPO = Path(__file__).resolve().parents[1]
QUESTION = "How many North Korean troops were moved into Russia's Kursk region?"


KERNEL = {"rag.types", "rag.config", "rag.errors"}
LEVELS = 2


def module_of(frame: FrameType | None) -> str | None:
    """Return the frame's module if it is a counted `rag` module, else None."""
    name = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
    counted = name.startswith("rag.") and name not in KERNEL
    return name if counted else None


def depth_below_ask(frame: FrameType | None) -> int | None:
    """Return how many calls below `Assistant.ask` the frame runs, or None if not under it."""
    depth = 0
    while frame is not None:
        if frame.f_code.co_name == "ask" and frame.f_globals.get("__name__") == "rag.assistant":
            return depth
        frame, depth = frame.f_back, depth + 1
    return None


def trip(ask: object) -> list[str]:
    """Call `ask()` and return the rag modules it moved through, one entry per stay."""
    stays: list[str] = []

    def note(name: str | None) -> None:
        if name and (not stays or stays[-1] != name):
            stays.append(name)

    def hook(frame: FrameType, event: str, _arg: object) -> None:
        if event not in ("call", "return"):
            return
        depth = depth_below_ask(frame)
        if depth is None or depth > LEVELS:
            return
        note(module_of(frame) if event == "call" else module_of(frame.f_back))

    sys.setprofile(hook)
    try:
        ask()  # type: ignore[operator]
    finally:
        sys.setprofile(None)
    return stays


def main() -> int:
    configure_runtime()
    from rag.assistant import Assistant
    from rag.config import Settings

    try:
        from rag import OnnxEmbedder, build_index  # type: ignore[attr-defined]
    except ImportError:  # the layout before the public surface
        from rag.build.indexer import build_index
        from rag.embedding.onnx import OnnxEmbedder

    embedder = OnnxEmbedder(REPO / ".cache" / "models")
    settings = Settings(source_dirs=(REPO / "seeds",), index_dir=REPO / ".cache/bench/trip")
    build_index(settings, embedder)
    assistant = Assistant(settings, embedder)
    assistant.ask(QUESTION)
    stays = trip(lambda: assistant.ask(QUESTION))
    returns = sum(1 for i, name in enumerate(stays) if name in stays[: max(0, i - 1)])
    print(" -> ".join(s.removeprefix("rag.") for s in stays))
    print(json.dumps({"stays": len(stays), "modules": len(set(stays)), "returns": returns}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
