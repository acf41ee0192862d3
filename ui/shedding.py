"""Request -> fast 503 when too many answers are already in flight: load shed before it queues.

An answer is CPU work (encoding, search, reading). Past a few per core, more at once only
makes every one of them slower, so the requests beyond the limit are refused at once with
`Retry-After` rather than left to wait in the thread pool's queue.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from ui.asgi import send_detail

RETRY_AFTER_S = 1


class LoadShedder:
    """ASGI middleware: at most `limit` requests to `paths` at once; the rest get 503."""

    def __init__(self, app: ASGIApp, paths: Collection[str], limit: int) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()  # test clients may run apps on several event loops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        with self._lock:
            admitted = self.in_flight < self.limit
            self.in_flight += admitted
        if not admitted:
            retry = [(b"retry-after", str(RETRY_AFTER_S).encode())]
            await send_detail(send, 503, "the server is busy: retry in a moment", retry)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.in_flight -= 1
