"""Error -> ASGI messages: a JSON `{"detail": ...}` answered straight from a middleware."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Send


async def send_detail(
    send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answer `status` with `{"detail": detail}` as JSON."""
    body = json.dumps({"detail": detail}).encode()
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})
