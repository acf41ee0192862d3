"""Settings: every tunable of the product, read from the environment in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENV_PREFIX = "RAG_"


class Settings(BaseModel):
    """Every setting with its default. `Settings()` never reads the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_dirs: tuple[Path, ...] = Field(
        default=(Path("seeds"),), description="Folders of sources; uploads go to the first."
    )
    index_dir: Path = Field(default=Path("index"), description="Where index generations live.")
    model_cache_dir: Path = Field(
        default=Path(".cache/models"), description="Where the ONNX export of the model is kept."
    )
    max_file_bytes: int = Field(default=50_000_000, gt=0, description="Larger files are skipped.")
    chunk_sentences: int = Field(default=3, ge=1, description="Sentences per chunk.")
    chunk_overlap: int = Field(default=1, ge=0, description="Sentences shared by neighbours.")
    chunk_max_chars: int = Field(default=1000, ge=100, description="Longest chunk (characters).")
    embed_batch_size: int = Field(default=64, ge=1, description="Texts per embedding batch.")
    top_k: int = Field(default=8, ge=1, le=100, description="Passages retrieved per question.")
    max_quotes: int = Field(default=3, ge=1, le=10, description="Most quotes in one answer.")
    reader: Literal["both", "neural", "linear"] = Field(
        default="both",
        description="Who reads the passages: both (the feature model picks the quotes and "
        "refuses, the span model cuts the short answer), neural (the span model alone) or linear "
        "(the feature model alone).",
    )
    refusal_threshold: float | None = Field(
        default=None, description="Override the trained reader's calibrated refusal threshold."
    )
    store: Literal["local", "milvus"] = Field(
        default="local",
        description="Where the index lives: FAISS + bm25s folders under index_dir, or Milvus.",
    )
    milvus_uri: str = Field(
        default="",
        description="A Milvus server (http://host:19530) or a milvus-lite file (.db); "
        "default: index_dir/milvus.db.",
    )
    milvus_token: str | None = Field(default=None, description="The Milvus server's token.")
    milvus_collection: str = Field(
        default="rag",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Prefix of the Milvus collections (chunks, sentences, sources, state).",
    )
    dense_index: Literal["flat", "hnsw", "ivf"] = Field(
        default="flat",
        description="The dense index: exact (flat) or approximate (hnsw, ivf) for large corpora.",
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the server binds.")
    api_key: str | None = Field(default=None, description="When set, required by every route.")
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Host names the server answers to besides loopback and `host`, "
        "comma-separated (a reverse proxy's public name).",
    )
    max_answers_in_flight: int = Field(
        default_factory=lambda: 2 * (os.cpu_count() or 1),
        ge=1,
        description="Questions answered at once; more get 503 with Retry-After.",
    )
    max_question_chars: int = Field(default=2000, ge=1, description="Longest accepted question.")
    upload_max_bytes: int = Field(default=20_000_000, gt=0, description="Largest upload.")
    keep_generations: int = Field(default=2, ge=1, description="Index generations kept on disk.")
    watch: bool = Field(default=False, description="Rebuild when the source folders change.")
    watch_debounce_s: float = Field(default=2.0, ge=0, description="Quiet time before a rebuild.")

    @field_validator("source_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p)
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from `RAG_*` variables (RAG_INDEX_DIR, RAG_SOURCE_DIRS, ...)."""
        values = {
            name: environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in environ
        }
        return cls.model_validate(values)
