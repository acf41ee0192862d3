"""Background rebuilds and folder watching: the live generation serves until the new one lands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from rag.build.indexer import build_index
from rag.build.rebuild import Rebuilder
from rag.build.report import BuildReport
from rag.config import Settings
from rag.errors import IndexMissing
from rag.index.generations import load_current
from rag.sources.watch import watch_sources
from tests.fakes import FakeEmbedder


class GatedEmbedder(FakeEmbedder):
    """A FakeEmbedder whose first batch waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return super().embed(texts)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "a.txt").write_text("Alpha\n\nThe alpha document talks about owls. Owls hoot.")
    (sources / "b.txt").write_text("Beta\n\nThe beta document talks about boats. Boats float.")
    return Settings(source_dirs=(sources,), index_dir=tmp_path / "index", watch_debounce_s=0.3)


def test_a_rebuild_runs_in_the_background(settings: Settings) -> None:
    reports: list[BuildReport] = []
    rebuilder = Rebuilder(settings, FakeEmbedder(), reports.append)
    assert rebuilder.status().state == "idle"
    assert rebuilder.start()
    status = rebuilder.wait(30)
    assert status.state == "succeeded" and status.error is None
    assert status.report is not None and status.report.generation == 1
    assert reports == [status.report]  # the switch to the new generation happens exactly once
    assert (status.stage, status.done, status.total) == ("writing", 1, 1)
    assert status.started_at is not None and status.finished_at is not None
    assert status.started_at <= status.finished_at


def test_the_old_generation_serves_during_a_rebuild(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    (settings.source_dirs[0] / "c.txt").write_text("Gamma\n\nA third document about trains.")
    embedder = GatedEmbedder()
    rebuilder = Rebuilder(settings, embedder, lambda report: None)
    assert rebuilder.start()
    assert embedder.entered.wait(30)
    assert not rebuilder.start()  # one rebuild at a time
    running = rebuilder.status()
    assert (running.state, running.stage) == ("running", "embedding")
    during = load_current(settings.index_dir, embedder)
    assert during.generation == 1 and "c.txt" not in during.sources
    embedder.gate.set()
    assert rebuilder.wait(30).state == "succeeded"
    assert "c.txt" in load_current(settings.index_dir, embedder).sources


def test_a_failed_rebuild_leaves_the_live_generation(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    for path in settings.source_dirs[0].iterdir():
        path.unlink()
    rebuilder = Rebuilder(settings, FakeEmbedder(), lambda report: None)
    assert rebuilder.start()
    status = rebuilder.wait(30)
    assert status.state == "failed" and status.report is None
    assert status.error is not None and "no readable sources" in status.error
    assert load_current(settings.index_dir, FakeEmbedder()).generation == 1
    assert rebuilder.start()  # a failed rebuild can be retried


def test_a_failing_switch_is_reported(settings: Settings) -> None:
    def refuse(report: BuildReport) -> None:
        raise IndexMissing("cannot load")

    status = Rebuilder(settings, FakeEmbedder(), refuse)
    assert status.start()
    result = status.wait(30)
    assert result.state == "failed" and result.report is not None
    assert result.error == "built generation 1 but could not switch to it: cannot load"
    assert status.indexer.last is None  # the next build reads the index back and verifies it


def test_a_request_during_a_rebuild_runs_one_more(settings: Settings) -> None:
    embedder = GatedEmbedder()
    reports: list[BuildReport] = []
    rebuilder = Rebuilder(settings, embedder, reports.append)
    rebuilder.request()
    assert embedder.entered.wait(30)
    (settings.source_dirs[0] / "c.txt").write_text("Gamma\n\nA late document about trains.")
    rebuilder.request()
    rebuilder.request()
    embedder.gate.set()
    assert rebuilder.wait(30).state == "succeeded"  # waits for the follow-up as well
    assert [r.generation for r in reports] == [1, 2]
    assert reports[1].added == 1


def test_waiting_never_meets_a_thread_not_yet_started(settings: Settings) -> None:
    """A waiter racing the follow-up's start once got "cannot join thread before it is started"."""
    rebuilder = Rebuilder(settings, FakeEmbedder(), lambda report: None)
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_waiting() -> None:
        while not stop.is_set():
            try:
                rebuilder.wait(0.01)
            except RuntimeError as exc:
                errors.append(exc)

    waiter = threading.Thread(target=keep_waiting)
    waiter.start()
    for _ in range(20):
        rebuilder.request()
        rebuilder.request()
        rebuilder.wait(30)
    stop.set()
    waiter.join(30)
    assert errors == []


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_watching_triggers_once_per_burst(settings: Settings) -> None:
    calls: list[float] = []
    watcher = watch_sources(settings, lambda: calls.append(time.monotonic()))
    try:
        folder = settings.source_dirs[0]
        time.sleep(0.2)
        (folder / "ignored.jpg").write_bytes(b"not a source")
        (folder / ".hidden.txt").write_text("hidden")
        time.sleep(1.0)
        assert calls == []
        started = time.monotonic()
        for i in range(5):
            (folder / "c.txt").write_text(f"Gamma\n\nVersion {i}.")
            time.sleep(0.05)
        assert wait_for(lambda: len(calls) == 1)
        assert calls[0] - started >= settings.watch_debounce_s
        time.sleep(1.0)
        assert len(calls) == 1
        (folder / "a.txt").unlink()
        assert wait_for(lambda: len(calls) == 2)
        (folder / "b.txt").rename(folder / "renamed.md")
        assert wait_for(lambda: len(calls) == 3)
    finally:
        watcher.stop()
    (settings.source_dirs[0] / "d.txt").write_text("after stop")
    time.sleep(1.0)
    assert len(calls) == 3


def test_watching_never_overlaps_triggers(settings: Settings) -> None:
    active, overlaps, calls = [0], [0], [0]
    release = threading.Event()

    def slow_trigger() -> None:
        active[0] += 1
        overlaps[0] = max(overlaps[0], active[0])
        calls[0] += 1
        if calls[0] == 1:
            release.wait(10)
        active[0] -= 1

    watcher = watch_sources(settings, slow_trigger)
    try:
        folder = settings.source_dirs[0]
        (folder / "c.txt").write_text("Gamma\n\nFirst.")
        assert wait_for(lambda: calls[0] == 1)
        (folder / "c.txt").write_text("Gamma\n\nSecond, while the first rebuild runs.")
        time.sleep(1.0)
        assert calls[0] == 1
        release.set()
        assert wait_for(lambda: calls[0] == 2)
    finally:
        watcher.stop()
    assert overlaps[0] == 1


def test_watching_then_rebuilding_indexes_the_change(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    reports: list[BuildReport] = []
    rebuilder = Rebuilder(settings, FakeEmbedder(), reports.append)
    watcher = watch_sources(settings, rebuilder.request)
    try:
        (settings.source_dirs[0] / "c.txt").write_text("Gamma\n\nTrains run on rails.")
        assert wait_for(lambda: bool(reports))
    finally:
        watcher.stop()
    assert reports[0].added == 1
    assert "c.txt" in load_current(settings.index_dir, FakeEmbedder()).sources
