"""Request -> 403 unless it comes from a trusted host and, when it changes state, from this site.

Two browser attacks meet the server through a user's own browser:
- DNS rebinding: a remote page whose name resolves to 127.0.0.1 talks to the server under
  its own name, so every request's Host must be one the server is known by.
- Cross-site requests: any page may POST a form or a fetch to localhost, so a request that
  changes state (any method but GET, HEAD, OPTIONS) must not carry another site's Origin, and
  `Sec-Fetch-Site: cross-site` is refused too. Clients that send no Origin (curl, scripts)
  are not browsers driven by a page, and pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ui.asgi import send_detail

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def trusted_hosts(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    """Return the host names a request may address: loopback, the bound host, and `extra`."""
    names = {*LOOPBACK_HOSTS, *extra}
    if bind_host not in _ANY_ADDRESS:
        names.add(bind_host)
    return frozenset(name.lower().strip("[]") for name in names)


def host_name(netloc: str) -> str:
    """Return the host of a `host[:port]` (IPv6 in brackets), lower-cased."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else ""
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


class SameSiteGuard:
    """ASGI middleware: a trusted Host on every request, no foreign Origin on changes."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await send_detail(send, 403, reason)

    def refusal(self, scope: Scope) -> str | None:
        """Return why a request is refused, or None to let it through."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            return "untrusted Host header: add the name to RAG_ALLOWED_HOSTS"
        if scope["type"] == "http" and scope["method"] in SAFE_METHODS:
            return None
        if headers.get("sec-fetch-site") == "cross-site":
            return "cross-site request refused"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.strip().lower():
            return "cross-site request refused"
        return None
