"""Settings -> a connected MilvusClient and the index's four collections, created on first use.

<prefix>_chunks     one row per chunk: offsets, keyword text (BM25 function), dense vector
<prefix>_sentences  one row per distinct sentence of the chunks: offsets, dense vector
<prefix>_sources    each source's record and text, in pieces (a VARCHAR holds 65,535 bytes)
<prefix>_state      each generation's catalog, in pieces, and the published pointer (pk 0)

Every row carries `gen`, the generation that wrote it; queries filter on the published one.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import RagError

log = logging.getLogger(__name__)

MIN_SERVER = (2, 5)  # BM25 full-text search and hybrid search arrived in Milvus 2.5
MAX_VARCHAR = 65_535  # bytes, on a server
PIECE_CHARS = 16_000  # at most 4 UTF-8 bytes a character: a piece always fits a VARCHAR
KINDS = ("chunks", "sentences", "sources", "state")
PAD_DIM = 2  # every collection needs a vector field; the record collections carry a dummy
PAD = [0.0] * PAD_DIM  # that dummy vector
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # as the local keyword index (bm25s "lucene")
ANALYZER = {"tokenizer": "standard", "filter": ["lowercase"]}  # splits the terms apart again

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_loaded: set[tuple[int, str]] = set()  # (client id, collection) loaded for search


class MilvusUnavailable(RagError):
    """The Milvus store cannot be used: the extra is not installed, or the server is too old."""

    public = "the Milvus index cannot be used"


def milvus_uri(settings: Settings) -> str:
    """The server address or milvus-lite file the settings name."""
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def connect(settings: Settings) -> Any:
    """Return this process's client for the settings' Milvus (one per address: milvus-lite
    allows one process per file, and threads share it)."""
    uri = milvus_uri(settings)
    key = (uri, settings.milvus_token or "")
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _open(uri, settings.milvus_token)
        return _clients[key]


def _open(uri: str, token: str | None) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise MilvusUnavailable(
            'RAG_STORE=milvus needs the milvus extra: pip install -e ".[milvus]"'
        ) from exc
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        # milvus-lite runs in this process and lacks the timestamp call that query
        # iterators make first: each logs an error and a warning, then works without it
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    try:
        client = MilvusClient(uri=uri, token=token or "")
        version = str(client.get_server_version())
    except Exception as exc:  # pymilvus raises its own and grpc's errors alike
        raise MilvusUnavailable(f"cannot connect to Milvus at {uri}: {exc}") from exc
    check_version(version)
    return client


def check_version(version: str) -> None:
    """Refuse a server older than MIN_SERVER (milvus-lite 3 has what the store needs)."""
    if version.startswith("milvus_lite"):
        return
    found = re.search(r"(\d+)\.(\d+)", version)
    if found is None or (int(found.group(1)), int(found.group(2))) < MIN_SERVER:
        need = ".".join(map(str, MIN_SERVER))
        raise MilvusUnavailable(
            f"Milvus {version} is older than {need}: it has no BM25 full-text or hybrid "
            f"search; upgrade the server to {need} or later"
        )


def name(settings: Settings, kind: str) -> str:
    """The collection that holds one kind of row."""
    return f"{settings.milvus_collection}_{kind}"


def ensure_collections(client: Any, settings: Settings, dim: int) -> None:
    """Create the four collections with their indexes if they are missing (Milvus cannot
    index a filled collection)."""
    from pymilvus import DataType, Function, FunctionType

    for kind in KINDS:
        collection = name(settings, kind)
        if client.has_collection(collection):
            continue
        schema = client.create_schema(auto_id=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("gen", DataType.INT64)
        index = client.prepare_index_params()
        if kind in ("chunks", "sentences", "sources"):
            schema.add_field("source", DataType.VARCHAR, max_length=MAX_VARCHAR)
        if kind == "chunks":
            schema.add_field("ordinal", DataType.INT64)
            schema.add_field("start", DataType.INT64)
            schema.add_field("end", DataType.INT64)
            schema.add_field("sentences", DataType.VARCHAR, max_length=MAX_VARCHAR)
            # `text` holds the chunk's keyword terms as the local index makes them (stemmed,
            # no stopwords, rag.index.keyword.Tokenizer): both backends weigh the same terms
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR,
                             enable_analyzer=True, analyzer_params=ANALYZER)  # fmt: skip
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["text"],
                                         output_field_names=["sparse"]))  # fmt: skip
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params=BM25_PARAMS)  # fmt: skip
        if kind == "sentences":
            schema.add_field("start", DataType.INT64)
            schema.add_field("end", DataType.INT64)
        if kind in ("sources", "state"):
            schema.add_field("piece", DataType.INT64)
            schema.add_field("body", DataType.VARCHAR, max_length=MAX_VARCHAR)
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=PAD_DIM)
            index.add_index("dense", index_type="FLAT", metric_type="IP")
        else:
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
            index.add_index("dense", **_dense_index(settings if kind == "chunks" else None))
        client.create_collection(collection, schema=schema, index_params=index)
    collections_ready(client, settings)


def collections_ready(client: Any, settings: Settings) -> bool:
    """Load the four collections for search (once per process); False if any is missing."""
    for kind in KINDS:
        collection = name(settings, kind)
        if (id(client), collection) in _loaded:
            continue
        if not client.has_collection(collection):
            return False
        _load(client, collection, milvus_uri(settings))
        _loaded.add((id(client), collection))
    return True


def _load(client: Any, collection: str, uri: str) -> None:
    """Load a collection; in a milvus-lite file, rebuild index files a crash cut short.

    milvus-lite writes each segment's index file in a background thread, in place: a process
    killed meanwhile (a build, kill -9) leaves a truncated file that fails every later load.
    The files are derived from the segments, so removing them makes the load rebuild them.
    """
    try:
        client.load_collection(collection)
    except Exception:
        files = list((Path(uri) / "collections" / collection).rglob("*.idx"))
        if "://" in uri or not files:
            raise
        log.warning("rebuilding the milvus-lite index files of %s after a failed load", collection)
        for path in files:
            path.unlink()
        client.load_collection(collection)


def _dense_index(settings: Settings | None) -> dict[str, Any]:
    """The chunk vectors' index: exact (FLAT) by default, else HNSW or IVF_FLAT."""
    kind = settings.dense_index if settings is not None else "flat"
    if kind == "hnsw":
        return {"index_type": "HNSW", "metric_type": "IP",
                "params": {"M": 32, "efConstruction": 200}}  # fmt: skip
    if kind == "ivf":
        return {"index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": 1024}}
    return {"index_type": "FLAT", "metric_type": "IP"}


def search_params(settings: Settings) -> dict[str, Any]:
    """Search parameters for the chunk vectors' index."""
    if settings.dense_index == "hnsw":
        return {"metric_type": "IP", "params": {"ef": 128}}
    if settings.dense_index == "ivf":
        return {"metric_type": "IP", "params": {"nprobe": 32}}
    return {"metric_type": "IP"}


def keyword_text(text: str) -> str:
    """The text as a VARCHAR can hold it: cut to MAX_VARCHAR bytes of UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= MAX_VARCHAR:
        return text
    return data[:MAX_VARCHAR].decode("utf-8", errors="ignore")
