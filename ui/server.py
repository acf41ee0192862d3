"""Settings -> one running process: the API, with the chat UI mounted at "/"."""

from __future__ import annotations

import hmac
import logging
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from starlette.middleware import Middleware

from rag import Assistant, BuildReport, Embedder, RagError, Rebuilder, Settings, configure_runtime
from ui.api import Lifespan, create_app
from ui.chat import CSS, SEED_EXAMPLES
from ui.chat_layout import CITATION_MARKERS, build_ui
from ui.gradio_guard import (
    FileErrorScrub,
    GradioLogin,
    gradio_app_of,
    private_upload_folder,
)
from ui.limits import BodyLimit
from ui.upload_paths import UploadPaths
from ui.uploads import remove_leftovers

log = logging.getLogger(__name__)
SHUTDOWN_WAIT_S = 5.0


def create_server(
    settings: Settings, embedder: Embedder, examples: Sequence[str] = SEED_EXAMPLES
) -> FastAPI:
    """Wire the Assistant, the Rebuilder, the API and the chat into one app.

    The lifespan starts a first build when there is no index (the app answers 503 and
    shows the build's progress meanwhile) and the source watcher when `settings.watch`.
    """
    assistant = Assistant(settings, embedder)

    def switch(report: BuildReport) -> None:
        swapped = assistant.reload()
        if assistant.generation < report.generation:  # the build must not report success
            problems = "; ".join(assistant.problems)
            raise RagError(problems or f"generation {report.generation} could not be loaded")
        if swapped:
            log.info("index generation %d ready: ask at %s", report.generation, _url(settings))

    rebuilder = Rebuilder(settings, embedder, on_success=switch)
    upload_folder = private_upload_folder()
    app = create_app(assistant, rebuilder, _lifespan(assistant, rebuilder, upload_folder))
    _mount_chat(app, build_ui(assistant, rebuilder, upload_folder, examples), settings)
    chat_guards = [Middleware(UploadPaths, folder=upload_folder), Middleware(FileErrorScrub)]
    if settings.api_key:
        chat_guards.insert(0, Middleware(GradioLogin, gradio=gradio_app_of(app)))
    _inside_api_guards(app, chat_guards)
    return app


def _lifespan(assistant: Assistant, rebuilder: Rebuilder, upload_folder: Path) -> Lifespan:
    settings = assistant.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for name in remove_leftovers(settings.source_dirs[0]):
            log.info("removed %s, left by an upload that did not finish", name)
        if not assistant.ready:
            folders = ", ".join(str(folder) for folder in settings.source_dirs)
            log.info("no index yet: building one from %s", folders)
            rebuilder.start()
        watcher = None
        if settings.watch:
            from rag import watch_sources

            try:
                watcher = watch_sources(settings, rebuilder.request)
            except RagError as exc:  # serve without watching rather than not at all
                log.error("%s", exc)
        try:
            yield
        finally:
            if watcher is not None:
                watcher.stop()
            rebuilder.wait(SHUTDOWN_WAIT_S)
            shutil.rmtree(upload_folder, ignore_errors=True)  # only this process's uploads

    return lifespan


def _mount_chat(app: FastAPI, blocks: gr.Blocks, settings: Settings) -> None:
    blocked = [str(p.resolve()) for p in (settings.index_dir, *settings.source_dirs)]
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=_key_check(settings.api_key) if settings.api_key else None,
        auth_message="Enter any user name and the API key as the password.",
        max_file_size=settings.upload_max_bytes,
        allowed_paths=[],
        blocked_paths=blocked,
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        pwa=False,
        show_error=False,
        css=CSS,
        js=CITATION_MARKERS,
    )
    # Mounting never marks the Blocks launched, and until it is, Gradio skips its check that
    # an event's files were uploaded (any server path would pass as an upload).
    blocks.has_launched = True


def _inside_api_guards(app: FastAPI, middleware: list[Middleware]) -> None:
    """Run `middleware` (outer first) after the Host, Origin and size checks, not before.

    `add_middleware` would put them outside: a body would then be read before its size is.
    """
    at = next(i for i, m in enumerate(app.user_middleware) if m.cls is BodyLimit) + 1
    app.user_middleware[at:at] = middleware


def _key_check(key: str) -> Callable[[str, str], bool]:
    def check(_user: str, password: str) -> bool:
        return hmac.compare_digest(password.encode(), key.encode())

    return check


def _url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}/"


def serve(settings: Settings) -> None:
    """Load the model and serve the API and the chat on settings.host:settings.port."""
    configure_runtime()
    import uvicorn

    from rag import load_embedder

    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("rag: %(message)s"))
    for name in ("rag", "ui"):  # our own lines only: not every library's start-up chatter
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).addHandler(console)
    app = create_server(settings, load_embedder(settings))
    log.info(
        "the chat is at %s and the API's documentation at %sdocs", _url(settings), _url(settings)
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
