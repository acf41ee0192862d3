"""Load shedding: past the limit of answers in flight, a fast 503 with Retry-After."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ui.shedding import LoadShedder


def slow_app(release: asyncio.Event, started: list[int]) -> Starlette:
    async def answer(_request: Request) -> JSONResponse:
        started.append(1)
        await release.wait()
        return JSONResponse({"ok": True})

    routes = [Route("/ask", answer, methods=["POST"]), Route("/health", answer)]
    app = Starlette(routes=routes)
    app.add_middleware(LoadShedder, paths=("/ask",), limit=2)
    return app


async def crowd() -> tuple[list[int], httpx.Response, int]:
    release, started = asyncio.Event(), []
    transport = httpx.ASGITransport(app=slow_app(release, started))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        held = [asyncio.create_task(client.post("/ask")) for _ in range(2)]
        while len(started) < 2:
            await asyncio.sleep(0.01)
        refused = await asyncio.wait_for(client.post("/ask"), timeout=5)  # answered at once
        other = asyncio.create_task(client.get("/health"))  # not a shed route: admitted
        while len(started) < 3:
            await asyncio.sleep(0.01)
        release.set()
        codes = [r.status_code for r in await asyncio.gather(*held, other)]
        after = (await client.post("/ask")).status_code  # slots are given back
    return codes, refused, after


def test_requests_past_the_limit_get_503_with_retry_after() -> None:
    codes, refused, after = asyncio.run(crowd())
    assert codes == [200, 200, 200]
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "busy" in refused.json()["detail"]
    assert after == 200
