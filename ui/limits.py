"""Request body -> 413 when too large: a byte limit checked before any handler reads it."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.asgi import send_detail

# A JSON body holds a question and at most a few dozen turns: 2 MiB is generous.
MAX_JSON_BYTES = 2 * 1024 * 1024
# Room for the multipart boundaries and part headers around an upload's bytes.
MULTIPART_OVERHEAD = 64 * 1024
TOO_LARGE = "the request body is too large"
CLOSE = ((b"connection", b"close"),)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


class BodyLimit:
    """ASGI middleware: multipart bodies may hold one upload, any other body 2 MiB."""

    def __init__(self, app: ASGIApp, upload_max_bytes: int) -> None:
        self.app = app
        self.upload_limit = upload_max_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.upload_limit if multipart else MAX_JSON_BYTES
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await send_detail(send, 413, TOO_LARGE, CLOSE)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await send_detail(send, 413, TOO_LARGE, CLOSE)
