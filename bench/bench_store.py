"""Dense search at scale: FAISS flat (exact), FAISS IVF and HNSW (approximate), and milvus-lite.

    .venv/bin/python bench/bench_store.py                            # 100k and 1M vectors
    .venv/bin/python bench/bench_store.py --sizes 100000 --backends flat,ivf,milvus

Each (size, backend) runs in its own child process, so its peak RSS is its own.

The vectors are perturbed real embeddings, not uniform noise: the chunk and sentence vectors
of the evaluation indexes (.cache/eval/<set>, built by `rag eval`; ~30k real MiniLM vectors),
each synthetic vector one of them plus half of another plus noise, normalised. The queries
are real questions of ../shared/eval embedded by the product's model. Without those caches
it falls back to low-rank vectors (2,048 topics in a 48-dimensional subspace plus noise) and
says so ("data"). Recall@10 is against the exact top 10 of the same vectors. Prints one JSON
object per line: build seconds (index construction, after the vectors exist), query p50/p95
ms (one query at a time, as the product asks), recall@10 and the child's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DIM = 384
TOPICS = 2_048
RANK = 48
BLOCK = 100_000
K = 10
SEED = 20261130


EVAL_SETS = ("squad2", "multihop", "realdocs")
MIX, NOISE = 0.5, 0.02  # a synthetic vector: real[i] + MIX * real[j] + NOISE * N(0, 1)


def real_vectors() -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
    """The evaluation indexes' vectors and real questions' vectors, or None if not built."""
    from rag.embedding.onnx import OnnxEmbedder
    from rag.errors import RagError
    from rag.index.generations import load_current

    embedder = OnnxEmbedder(REPO / ".cache" / "models")
    found, questions = [], []
    for name in EVAL_SETS:
        try:
            store = load_current(REPO / ".cache" / "eval" / name, embedder)
        except RagError:
            return None
        found += [np.array(store.chunk_matrix), np.array(store.sentence_matrix)]  # own copies
        path = REPO.parent / "shared" / "eval" / name / "questions.jsonl"
        questions += [json.loads(line)["question"] for line in path.read_text().splitlines()]
    return np.concatenate(found), embedder.embed(questions)


def mixed(base: NDArray[np.float32], rows: int) -> NDArray[np.float32]:
    """Perturbed real embeddings: base[i] + MIX * base[j] + noise, normalised."""
    rng = np.random.default_rng(SEED)
    out = np.empty((rows, base.shape[1]), dtype=np.float32)
    for first in range(0, rows, BLOCK):
        n = min(BLOCK, rows - first)
        block = base[rng.integers(0, len(base), n)] + MIX * base[rng.integers(0, len(base), n)]
        block += NOISE * rng.normal(size=block.shape).astype(np.float32)
        out[first : first + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def vectors(rows: int, seed: int = SEED) -> NDArray[np.float32]:
    """Structured unit vectors: topic + in-topic variation in a low-rank space, plus noise."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(DIM, RANK)))[0].T.astype(np.float32)  # RANK x DIM
    topics = rng.normal(size=(TOPICS, RANK)).astype(np.float32)
    out = np.empty((rows, DIM), dtype=np.float32)
    for first in range(0, rows, BLOCK):
        n = min(BLOCK, rows - first)
        low = topics[rng.integers(0, TOPICS, n)] + 0.7 * rng.normal(size=(n, RANK)).astype(
            np.float32
        )
        block = low @ basis + 0.06 * rng.normal(size=(n, DIM)).astype(np.float32)
        out[first : first + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def queries(data: NDArray[np.float32], count: int) -> NDArray[np.float32]:
    """Stored vectors perturbed about as far as a question is from its passage."""
    rng = np.random.default_rng(SEED + 1)
    picked = data[rng.choice(len(data), count, replace=False)]
    noisy = picked + 0.05 * rng.normal(size=picked.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def exact(data: NDArray[np.float32], asked: NDArray[np.float32]) -> NDArray[np.int64]:
    """The exact top K of each query, by blocks."""
    best_scores = np.full((len(asked), K), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(asked), K), dtype=np.int64)
    for first in range(0, len(data), BLOCK):
        scores = asked @ data[first : first + BLOCK].T
        rows = np.argpartition(-scores, K, axis=1)[:, :K]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, rows, 1)], 1)
        merged_rows = np.concatenate([best_rows, rows + first], 1)
        top = np.argsort(-merged_scores, axis=1)[:, :K]
        best_scores = np.take_along_axis(merged_scores, top, 1)
        best_rows = np.take_along_axis(merged_rows, top, 1)
    return best_rows


def _faiss(kind: str, data: NDArray[np.float32]):  # type: ignore[no-untyped-def]
    import faiss

    from rag.index.approximate import approximate_index

    if kind == "flat":
        index = faiss.IndexFlatIP(DIM)
        index.add(data)
    else:
        index = approximate_index(data, kind)
    return lambda q: index.search(q[None, :], K)[1][0]


def _milvus(data: NDArray[np.float32], folder: Path):  # type: ignore[no-untyped-def]
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(folder / "bench.db"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    client.create_collection("bench", schema=schema, index_params=index)
    for first in range(0, len(data), 2_000):
        block = data[first : first + 2_000]
        client.insert(
            "bench", [{"pk": first + i, "dense": v.tolist()} for i, v in enumerate(block)]
        )
    client.flush("bench")
    client.load_collection("bench")

    def search(q: NDArray[np.float32]) -> list[int]:
        found = client.search("bench", data=[q.tolist()], anns_field="dense", limit=K,
                              search_params={"metric_type": "IP"})  # fmt: skip
        return [int(hit["pk"]) for hit in found[0]]

    return search


def measure(backend: str, rows: int, count: int) -> dict[str, object]:
    """Build one backend over `rows` vectors and time `count` queries (in this process)."""
    real = real_vectors()
    if real is None:
        kind, data = "low-rank", vectors(rows)
        asked = queries(data, count)
    else:
        kind, data = "perturbed-real", mixed(real[0], rows)
        asked = real[1][np.random.default_rng(SEED).choice(len(real[1]), count, replace=False)]
    truth = exact(data, asked)
    with tempfile.TemporaryDirectory() as scratch:
        before = _rss_mb()
        started = time.perf_counter()
        search = _milvus(data, Path(scratch)) if backend == "milvus" else _faiss(backend, data)
        build = time.perf_counter() - started
        added = _rss_mb() - before
        search(asked[0])  # warm
        times, recalls = [], []
        for q, expected in zip(asked, truth, strict=True):
            t = time.perf_counter()
            got = search(q)
            times.append((time.perf_counter() - t) * 1000)
            recalls.append(len(set(map(int, got)) & set(expected.tolist())) / K)
    cuts = statistics.quantiles(times, n=20)
    return {
        "backend": backend, "rows": rows, "data": kind, "queries": count,
        "build_s": round(build, 1),
        "p50_ms": round(statistics.median(times), 2), "p95_ms": round(cuts[18], 2),
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "index_rss_mb": round(added),  # resident memory the built index added
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "vectors_mb": round(data.nbytes / 2**20),
    }  # fmt: skip


def _rss_mb() -> float:
    """This process's resident memory now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="flat,ivf,hnsw,milvus")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.queries)), flush=True)
        return
    for rows in (int(s) for s in args.sizes.split(",")):
        for backend in args.backends.split(","):
            subprocess.run([sys.executable, __file__, "--child", backend, str(rows),
                            "--queries", str(args.queries)], check=True)  # fmt: skip


if __name__ == "__main__":
    main()
