"""Load check: `POST /ask` latency over HTTP with concurrent clients against `rag serve`.

    .venv/bin/python bench/bench_http.py                 # squad2 corpus, 4 clients, 30 s
    .venv/bin/python bench/bench_http.py --clients 1,4,16,64 --seconds 20 --compare-unshed
    .venv/bin/python bench/bench_http.py --url http://127.0.0.1:8000 --clients 8

Without --url it starts `rag serve` on a free port over the dataset's corpus (read in place
from ../shared, never copied), waits for the index (cached under .cache/bench/), then
measures each number of clients in turn. A client told 503 waits the Retry-After it is given,
as a well-behaved client does. `--compare-unshed` then repeats the run against a server whose
load shedding is off (a limit of 10,000 answers in flight): the baseline of the same run.
Prints one JSON object per line: requests, 503s, throughput and latency percentiles, then
the server's peak RSS. The server reads RAG_* variables (RAG_READER=linear: the fast reader).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "eval" / "squad2"
UNSHED = 10_000  # answers in flight: no shedding in practice
SERVE = "import sys; from ui.cli import main; sys.exit(main(sys.argv[1:]))"


def load_questions(dataset: Path) -> list[str]:
    """Return the dataset's questions in a fixed shuffled order."""
    lines = (dataset / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    random.Random(0).shuffle(questions)
    return questions


@contextmanager
def served(
    dataset: Path, index_dir: Path, ready_timeout: float, in_flight: int | None = None
) -> Iterator[tuple[str, int | None]]:
    """Run `rag serve` over the dataset's corpus on a free port; yield its URL and pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", SERVE, "serve", str(dataset / "corpus")]
    command += ["--index-dir", str(index_dir), "--port", str(port)]
    env = dict(os.environ)
    if in_flight is not None:
        env["RAG_MAX_ANSWERS_IN_FLIGHT"] = str(in_flight)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not become ready")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/health", timeout=2).json()["ready"])
    except (httpx.HTTPError, ValueError, KeyError):
        return False


def hammer(url: str, questions: Sequence[str], clients: int, seconds: float) -> dict[str, object]:
    """Ask from `clients` threads for `seconds`; return the latency figures."""
    latencies: list[float] = []
    shed: list[float] = []  # how long a 503 took to come back
    errors: list[int] = []
    refused = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            i = offset
            while time.monotonic() < stop:
                question = questions[i % len(questions)]
                i += clients
                started = time.perf_counter()
                response = http.post("/ask", json={"question": question})
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                        refused[0] += bool(response.json()["refused"])
                    elif response.status_code == 503:
                        shed.append(elapsed)
                    else:
                        errors.append(response.status_code)
                if response.status_code == 503:
                    time.sleep(float(response.headers.get("retry-after", "1")))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(latencies),
        "shed_503": len(shed),
        "shed_share": round(len(shed) / max(1, len(shed) + len(latencies)), 3),
        "shed_p50_ms": round(statistics.median(shed) * 1000, 1) if shed else None,
        "errors": len(errors),
        "refused": refused[0],
        "throughput_rps": round(len(latencies) / wall, 2),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "cpus": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="measure a running server instead of starting one")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--index-dir", type=Path, default=REPO / ".cache" / "bench" / "squad2")
    parser.add_argument("--clients", default="4", help="comma-separated, e.g. 1,4,16,64")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=int, default=8, help="questions asked before timing")
    parser.add_argument(
        "--compare-unshed", action="store_true", help="repeat with load shedding off"
    )
    args = parser.parse_args(argv)
    questions = load_questions(args.dataset)
    levels = [int(n) for n in args.clients.split(",")]
    runs = [("default", None), *([("unshed", UNSHED)] if args.compare_unshed else [])]
    for name, in_flight in runs:
        server = served(args.dataset, args.index_dir, 900, in_flight)
        with server if args.url is None else _given(args.url) as (url, pid):
            for question in questions[: args.warmup]:
                httpx.post(f"{url}/ask", json={"question": question}, timeout=60)
            for clients in levels:
                figures = hammer(url, questions, clients, args.seconds)
                print(json.dumps({"server": name, **figures}), flush=True)
            if pid is not None:
                print(json.dumps({"server": name, "peak_rss_mb": _peak_rss_mb(pid)}), flush=True)
    return 0


@contextmanager
def _given(url: str) -> Iterator[tuple[str, int | None]]:
    yield url.rstrip("/"), None


def _peak_rss_mb(pid: int) -> int:
    """A running process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
