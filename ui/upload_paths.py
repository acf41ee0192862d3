"""Gradio upload paths <-> names relative to the upload folder: no absolute path leaves.

Gradio answers an upload with the absolute paths it saved the files at, and the page sends
those paths back in the events that use the files. This middleware shows the page
`uploads/<hash>/<name>` instead, and turns such names back into paths inside the upload
folder on the way in (the event queue's JSON and the file route). A name that would leave the
folder is left as it is, and Gradio's own check refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC = "uploads/"
UPLOAD_ROUTE = "/gradio_api/upload"
JOIN_ROUTE = "/gradio_api/queue/join"
FILE_ROUTE = "/gradio_api/file="


class UploadPaths:
    """ASGI middleware: Gradio's upload paths travel relative to the upload folder."""

    def __init__(self, app: ASGIApp, folder: Path) -> None:
        self.app = app
        self.folder = str(folder.resolve())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif path == UPLOAD_ROUTE:
            await self.app(scope, receive, self._hiding(send))
        elif path == JOIN_ROUTE:
            body = self._expand(await _read_body(receive))
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self.app({**scope, "headers": headers}, _replay(body), send)
        elif path.startswith(FILE_ROUTE + PUBLIC):
            inner = self.local(path[len(FILE_ROUTE) :])
            await self.app({**scope, "path": FILE_ROUTE + inner, "raw_path": None}, receive, send)
        else:
            await self.app(scope, receive, send)

    def public(self, path: str) -> str:
        """Return an upload's path as the page sees it."""
        prefix = self.folder + "/"
        return PUBLIC + path[len(prefix) :] if path.startswith(prefix) else path

    def local(self, name: str) -> str:
        """Return the path a public name stands for, or the name if it is not one."""
        if not name.startswith(PUBLIC) or ".." in Path(name).parts:
            return name
        return f"{self.folder}/{name[len(PUBLIC) :]}"

    def _expand(self, body: bytes) -> bytes:
        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                expanded = {k: walk(v) for k, v in value.items()}
                if isinstance(expanded.get("path"), str):
                    expanded["path"] = self.local(expanded["path"])
                return expanded
            if isinstance(value, list):
                return [walk(v) for v in value]
            return value

        try:
            return json.dumps(walk(json.loads(body))).encode()
        except ValueError:  # not JSON: Gradio answers it with its own 4xx
            return body

    def _hiding(self, send: Send) -> Send:
        start: list[Message] = []
        chunks: list[bytes] = []

        async def hiding_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if start[0]["status"] == 200:
                paths = json.loads(body)
                body = json.dumps([self.public(p) if isinstance(p, str) else p for p in paths])
                body = body.encode()
            headers = [(k, v) for k, v in start[0]["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start[0], "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return hiding_send


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
