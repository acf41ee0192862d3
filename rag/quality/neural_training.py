"""`rag train --neural`: train (or resume) the span reader, export it, calibrate it, record it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from rag.build.assemble import Progress
from rag.embedding.base import Embedder
from rag.embedding.onnx import model_path
from rag.errors import SourceError
from rag.quality.span_calibration import calibrate
from rag.quality.span_export import export_span_reader
from rag.quality.span_training import SpanRun, train_span_reader
from rag.reading.neural import DEFAULT_WEIGHTS, NeuralReader, SpanModel, SpanRecord

QUOTE_RATIO = 0.5  # until calibrated
PASSAGES = 12  # the retrieved passages and a second hop's
# The second phase goes on from the first's weights with multi-hop questions in the mix.
MULTIHOP_PHASE = SpanRun(
    steps=1000, learning_rate=5e-5, warmup=50, seed=20261201, eval_every=250, multihop_share=0.2
)
PHASES = (SpanRun(), MULTIHOP_PHASE)


def train_neural_reader(
    shared_train: Path,
    work_dir: Path,
    embedder: Embedder,
    out: Path = DEFAULT_WEIGHTS,
    phases: Sequence[SpanRun] = PHASES,
    log: Callable[[str], None] = print,
    progress: Progress | None = None,
) -> SpanRecord:
    """Train from `shared_train` phase by phase (resuming from work_dir's checkpoints), then
    write the last phase's int8 weights to `out` and their calibrated record beside them."""
    needed = [shared_train / d / "paragraphs.jsonl"
              for d in ("squad11-train", "squad2-train", "squad11")]  # fmt: skip
    needed += [shared_train / "multihop-train" / "questions.jsonl"] * any(
        run.multihop_share for run in phases
    )
    missing = [str(path.relative_to(shared_train)) for path in needed if not path.is_file()]
    if missing:
        raise SourceError(f"{shared_train} lacks {', '.join(missing)} (as in ../shared/train)")
    weights: Path | None = None
    figures: dict[str, float] = {}
    for number, run in enumerate(phases, 1):
        phase_dir = work_dir / ("span" if number == 1 else f"span-{number}")
        log(f"phase {number} of {len(phases)}: {json.dumps(asdict(run))}")
        figures = train_span_reader(shared_train, phase_dir, model_path(), run, log, init=weights)
        weights = phase_dir / "span_reader.pt"
    assert weights is not None, "at least one phase"
    out.parent.mkdir(parents=True, exist_ok=True)
    export_span_reader(weights, model_path(), out)
    sha256 = hashlib.sha256(out.read_bytes()).hexdigest()
    provenance = f"rag train --neural: {json.dumps([asdict(run) for run in phases])}"
    draft = SpanRecord(sha256=sha256, threshold=0.5, quote_ratio=QUOTE_RATIO, passages=PASSAGES,
                       provenance=provenance, figures=figures)  # fmt: skip
    _write(out, draft)
    reader = NeuralReader(SpanModel(out))
    threshold, ratio, short, calibration = calibrate(
        reader, shared_train / "squad11", work_dir / "calibration", embedder, progress=progress
    )
    record = draft.model_copy(
        update={
            "threshold": threshold,
            "quote_ratio": ratio,
            "short_threshold": short,
            "figures": figures | calibration,
        }
    )
    _write(out, record)
    return record


def _write(weights: Path, record: SpanRecord) -> None:
    weights.with_suffix(".json").write_text(record.model_dump_json(indent=1) + "\n")
