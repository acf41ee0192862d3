"""Gradio route -> 401 without a login when the server has a key; its upload folder, private.

Gradio checks its login only on some of its routes (`/gradio_api/heartbeat` and
`/gradio_api/startup-events` answer anyone), and it serves and accepts files from a temp
folder shared by every Gradio process on the machine unless told otherwise.
"""

from __future__ import annotations

import os
import tempfile
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from gradio.routes import App
from starlette.datastructures import Headers
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.asgi import send_detail

GRADIO_API = "/gradio_api/"
OPEN_ROUTES = ("/gradio_api/login_check",)  # it answers 401 itself until one logs in
FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/", "/gradio_api/proxy=")


def private_upload_folder() -> Path:
    """Create a folder only this process uses and make it Gradio's upload folder.

    Gradio reads GRADIO_TEMP_DIR when a Blocks is built and on every upload check, so it
    must be set before `build_ui`; the folder is 0700, inside the system's temp folder.
    """
    folder = Path(tempfile.mkdtemp(prefix="rag-uploads-"))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


def gradio_app_of(app: ASGIApp) -> App:
    """Return the Gradio app that `gr.mount_gradio_app` mounted on `app`."""
    routes = getattr(app, "routes", [])
    return next(r.app for r in routes if isinstance(r, Mount) and isinstance(r.app, App))


class GradioLogin:
    """ASGI middleware: every `/gradio_api/` route needs Gradio's login cookie.

    The chat logs in with the API key as its password; Gradio then checks its cookie only
    on some routes, this middleware on all of them.
    """

    def __init__(self, app: ASGIApp, gradio: App) -> None:
        self.app = app
        self.gradio = gradio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        guarded = scope["type"] in ("http", "websocket") and path.startswith(GRADIO_API)
        if not guarded or path.startswith(OPEN_ROUTES) or self.logged_in(Headers(scope=scope)):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await send_detail(send, 401, "log in to the chat first")

    def logged_in(self, headers: Headers) -> bool:
        """Tell whether the request carries a live Gradio login."""
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except CookieError:
            return False
        cookie_id = self.gradio.cookie_id
        names = (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}")
        return any(n in cookies and cookies[n].value in self.gradio.tokens for n in names)


class FileErrorScrub:
    """ASGI middleware: Gradio's file routes refuse without echoing the path asked for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(FILE_ROUTES):
            await self.app(scope, receive, send)
            return
        refused: list[int] = []

        async def scrubbing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                refused.append(message["status"])
                return
            if refused and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send_detail(send, refused[0], "file not available")
                return
            await send(message)

        await self.app(scope, receive, scrubbing_send)
