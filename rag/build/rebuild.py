"""Rebuild in the background: build_index in a daemon thread while the live generation serves."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from rag.build.backends import make_indexer
from rag.build.report import BuildReport
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import RagError

log = logging.getLogger(__name__)

State = Literal["idle", "running", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class RebuildStatus:
    """Where the latest background rebuild stands."""

    state: State = "idle"
    stage: str = ""  # the indexer's progress stage: scanning, reading, embedding, writing
    done: int = 0
    total: int = 0
    report: BuildReport | None = None
    error: str | None = None
    started_at: float | None = None  # time.time()
    finished_at: float | None = None


class Rebuilder:
    """Runs one rebuild at a time in this process and reports how it goes.

    `on_success` gets the report in the rebuild's thread once the new generation is
    published: it is how the assistant switches to the new generation.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        on_success: Callable[[BuildReport], None],
    ) -> None:
        self.settings = settings
        self.indexer = make_indexer(settings, embedder)  # keeps the last generation it built
        self.on_success = on_success
        self._lock = threading.Lock()
        self._status = RebuildStatus()
        self._thread: threading.Thread | None = None
        self._again = False

    def start(self) -> bool:
        """Start a rebuild; return False if one is already running in this process."""
        with self._lock:
            if self._status.state == "running":
                return False
            self._launch()
            return True

    def _launch(self) -> None:
        """Mark a rebuild running and start its thread; the caller holds the lock."""
        self._status = RebuildStatus("running", stage="starting", started_at=time.time())
        self._thread = threading.Thread(target=self._run, name="rag-rebuild", daemon=True)
        self._thread.start()  # started before the lock is released: wait() never sees it unstarted

    def request(self) -> None:
        """Start a rebuild now, or right after the running one (changes made during it count)."""
        with self._lock:
            if self._status.state == "running":
                self._again = True
                return
        self.start()

    def status(self) -> RebuildStatus:
        """Return the latest rebuild's status."""
        with self._lock:
            return self._status

    def wait(self, timeout: float | None = None) -> RebuildStatus:
        """Wait up to `timeout` seconds (None: for ever) for the running rebuild to end.

        A rebuild requested during the running one starts as that one ends; it is waited for too.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                break
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            with self._lock:
                if thread.is_alive() or self._thread is thread:
                    break
        return self.status()

    def _progress(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self._status = replace(self._status, stage=stage, done=done, total=total)

    def _run(self) -> None:
        report: BuildReport | None = None
        error: str | None = None
        try:
            report = self.indexer.build(self._progress)
            self.on_success(report)
        except Exception as exc:  # a bug too must end as "failed", never stay "running"
            self.indexer.forget()  # the next build reads the index back, verifying it
            if not isinstance(exc, RagError):
                log.exception("background rebuild crashed")
            # a bug's message is for the log above, not for the clients that read the status
            error = str(exc) if isinstance(exc, RagError) else "the rebuild failed unexpectedly"
            if report is not None:
                error = f"built generation {report.generation} but could not switch to it: {error}"
        if error:
            log.error("rebuild failed: %s", error)
        with self._lock:
            self._status = replace(
                self._status,
                state="failed" if error else "succeeded",
                report=report,
                error=error,
                finished_at=time.time(),
            )
            if self._again:  # the follow-up starts under the same lock: no gap a waiter could see
                self._again = False
                self._launch()
