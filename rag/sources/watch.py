"""Source folders -> rebuild triggers: watchdog events, debounced, never overlapping."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from rag.config import Settings
from rag.errors import SourceError
from rag.sources.scan import supported

log = logging.getLogger(__name__)

_FILE_EVENTS = frozenset({"created", "modified", "deleted", "moved", "closed"})
_DIR_EVENTS = frozenset({"created", "deleted", "moved"})  # a folder's "modified" is noise


def _text(path: str | bytes) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path


def _relevant(path: str, is_directory: bool) -> bool:
    """True for a folder or file the source scan would look at (not hidden; a supported type)."""
    name = Path(path).name
    if name.startswith("."):
        return False
    return is_directory or supported(name)


class SourceWatcher:
    """Calls `trigger` once the source folders have been quiet for `debounce_s` seconds.

    Calls never overlap: changes made while `trigger` runs lead to one more call after it.
    """

    def __init__(
        self,
        dirs: tuple[Path, ...],
        debounce_s: float,
        trigger: Callable[[], None],
        ignore: Path | None = None,
    ) -> None:
        self.debounce_s = debounce_s
        self.trigger = trigger
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._running = False
        self._pending = False
        self._stopped = False
        self._observer = Observer()
        handler = _Handler(self.changed, ignore.resolve() if ignore else None)
        for folder in dirs:
            self._observer.schedule(handler, str(folder), recursive=True)
        self._observer.daemon = True

    def start(self) -> None:
        """Start watching; raise SourceError if a source folder cannot be watched."""
        try:
            self._observer.start()
        except OSError as exc:
            raise SourceError(f"cannot watch the source folders: {exc}") from exc

    def changed(self) -> None:
        """Note a change: (re)start the quiet-time countdown."""
        with self._lock:
            if self._stopped:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_s, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._running:
                self._pending = True
                return
            self._running = True
        try:
            self.trigger()
        except Exception:  # the trigger's failure must not stop the watching
            log.exception("rebuild trigger failed")
        finally:
            with self._lock:
                self._running, again = False, self._pending
                self._pending = False
        if again:
            self.changed()

    def stop(self) -> None:
        """Stop watching; a running trigger call finishes on its own."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)


class _Handler(FileSystemEventHandler):
    """Forwards the watchdog events that can change what gets indexed."""

    def __init__(self, changed: Callable[[], None], ignore: Path | None) -> None:
        self._changed = changed
        self._ignore = ignore  # the index folder, should it lie inside a source folder

    def dispatch(self, event: FileSystemEvent) -> None:
        """Handle one watchdog event."""
        kinds = _DIR_EVENTS if event.is_directory else _FILE_EVENTS
        if event.event_type not in kinds:
            return
        paths = [_text(p) for p in (event.src_path, event.dest_path) if p]
        if any(self._counts(p, event.is_directory) for p in paths):
            self._changed()

    def _counts(self, path: str, is_directory: bool) -> bool:
        if self._ignore is not None and Path(path).resolve().is_relative_to(self._ignore):
            return False
        return _relevant(path, is_directory)


def watch_sources(settings: Settings, trigger: Callable[[], None]) -> SourceWatcher:
    """Start watching the source folders; call `trigger` after each debounced burst of changes."""
    watcher = SourceWatcher(
        settings.source_dirs, settings.watch_debounce_s, trigger, ignore=settings.index_dir
    )
    watcher.start()
    return watcher
