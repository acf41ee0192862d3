"""Builds killed at many points (kill -9 in a child process): the live index survives."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from rag.build.indexer import build_index
from tests.conftest import REPO
from tests.fakes import FakeEmbedder
from tests.fault_build import DIM, settings_for
from tests.faults.world import AFTER, SHORT, assert_serves, child, fresh_index

MIN_KILL_POINTS = 20


def kill_points(steps: list[str]) -> list[int]:
    """Pick 1-based step numbers to kill at.

    Every kind of disk call (each file's first write, fsync, rename, replace, SQLite write,
    unlink...) at its first call; the FAISS file mid-write and the last fsync; and a few of
    the storage functions between them.
    """
    seen: dict[str, list[int]] = {}
    for number, label in enumerate(steps, start=1):
        seen.setdefault(label, []).append(number)
    disk = {label: numbers for label, numbers in seen.items() if "." not in label.split(":")[0]
            or label.startswith(("os.", "sqlite."))}  # fmt: skip
    points = {numbers[0] for numbers in disk.values()}
    points.update((seen["write:chunks.faiss"][1], seen["os.fsync"][-1]))
    functions = sorted(numbers[0] for label, numbers in seen.items() if label not in disk)
    points.update(functions[:: max(1, len(functions) // 4)])
    return sorted(points)


def kill_all(world: Path, points: list[int]) -> list[tuple[int, Path, Path]]:
    """Run one build per point in a child process killed there; return statuses and folders."""
    command = [sys.executable, "-m", "tests.fault_build", "serve"]
    with subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        runs = []
        for point in points:
            sources, index = fresh_index(world, f"kill-{point}")
            server.stdin.write(f"{sources} {index} kill {point}\n")
            server.stdin.flush()
            runs.append((int(server.stdout.readline()), sources, index))
        server.stdin.close()
    return runs


def test_a_killed_build_never_hurts_the_live_index(world: Path) -> None:
    sources, index = fresh_index(world, "trace")
    traced = child(sources, index, "trace", str(world / "steps.json"))
    assert traced.returncode == 0, traced.stderr
    steps = json.loads((world / "steps.json").read_text())
    kinds = Counter(steps)
    assert kinds["write:chunks.faiss"] >= 3  # so kills land mid-write of the FAISS file
    assert kinds["os.rename"] == 1 and kinds["os.fsync"] >= 10
    assert kinds["os.replace"] in (1, 2)  # CURRENT, and the scan's file digests if they changed
    assert kinds["os.link"] >= 4  # the parts the edit left alone are linked, not written
    points = kill_points(steps)
    assert len(points) >= MIN_KILL_POINTS, points
    half = len(points) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:  # two forking servers: two cores
        runs = [run for batch in pool.map(partial(kill_all, world), (points[:half], points[half:]))
                for run in batch]  # fmt: skip
    embedder = FakeEmbedder(dim=DIM)
    outcomes: Counter[int] = Counter()
    for point, (code, sources, index) in zip(points, runs, strict=True):
        assert code == -signal.SIGKILL, (point, steps[point - 1])
        outcomes[assert_serves(index, embedder).generation] += 1
        report = build_index(settings_for(sources, index), embedder)  # the lock died with it
        assert report.sources == len(AFTER)
        store = assert_serves(index, embedder)
        assert store.generation == report.generation > 1
        assert "zanzibarian" in store.sources[SHORT[1].name].text
        assert not [p for p in index.iterdir() if p.name.startswith(".tmp")]
        shutil.rmtree(index.parent)
    assert outcomes[1] >= MIN_KILL_POINTS // 2  # most kills land before the switch
    assert outcomes[2] >= 1  # some after it: the new generation is then complete and live
