"""Trained span-reader weights -> the shipped ONNX file (int8) and its record."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from rag.quality.span_training import build_model
from rag.reading.neural import INPUTS, OUTPUTS


def export_span_reader(state_path: Path, model_path: Path, target: Path) -> None:
    """Write the weights at `state_path` as an int8 ONNX model at `target`, atomically."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model: Any = build_model(model_path, frozen_layers=0)
    state = torch.load(state_path, weights_only=False)
    model.load_state_dict(state.get("model", state))
    model.eval()
    example = torch.ones((1, 8), dtype=torch.int64)
    types = torch.zeros_like(example)
    types[:, 4:] = 1
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        plain = Path(scratch) / "plain.onnx"
        torch.onnx.export(
            model,
            (example, example, types),
            str(plain),
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUTS, *OUTPUTS)},
            opset_version=17,
            dynamo=False,
        )
        small = Path(scratch) / "int8.onnx"
        quantize_dynamic(
            str(plain),
            str(small),
            op_types_to_quantize=["MatMul", "Gather"],
            weight_type=QuantType.QInt8,
        )
        os.replace(small, target)
