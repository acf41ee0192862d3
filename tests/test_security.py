"""Attacks on `rag serve`, each reproduced and shown refused (issue: security and robustness)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.build.indexer import build_index
from rag.config import Settings
from tests.conftest import LOCAL
from tests.fakes import FakeEmbedder
from ui.server import create_server

SECRET = "The vault code is 4711."
KEY = "k3y"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A readable file outside every source folder, as /etc/passwd would be."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


def serve(tmp_path: Path, seed_dir: Path, **extra: object) -> TestClient:
    settings = Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index", **extra)  # type: ignore[arg-type]
    build_index(settings, FakeEmbedder())
    return TestClient(create_server(settings, FakeEmbedder()), base_url=LOCAL)


@pytest.fixture
def client(tmp_path: Path, seed_dir: Path) -> Iterator[TestClient]:
    with serve(tmp_path, seed_dir) as client:
        yield client


def event_index(client: TestClient, elem_id: str, trigger: str) -> int:
    """Return the fn_index of the chat event that `trigger` on component `elem_id` fires."""
    config = client.get("/config").json()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for index, dependency in enumerate(config["dependencies"]):
        if any(ids.get(t[0]) == elem_id and t[1] == trigger for t in dependency["targets"]):
            return index
    raise AssertionError(f"no {trigger} event on #{elem_id}")


def run_event(client: TestClient, fn_index: int, data: list[object]) -> list[dict[str, object]]:
    """Send one event through the chat's queue, as the browser does; return its messages."""
    session = "attacker-session"
    body = {"fn_index": fn_index, "data": data, "session_hash": session, "event_data": None}
    joined = client.post("/gradio_api/queue/join", json=body)
    assert joined.status_code == 200, joined.text
    messages = []
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") == "process_completed":
                    break
    return messages


def test_the_chat_upload_event_cannot_read_a_server_file(
    client: TestClient, secret: Path, seed_dir: Path
) -> None:
    forged = {"path": str(secret), "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}}
    messages = run_event(client, event_index(client, "upload", "upload"), [[forged]])
    done = messages[-1]
    assert done["msg"] == "process_completed"
    assert str(secret) not in json.dumps(messages)  # no path in what comes back either
    assert not any(SECRET in p.read_text(errors="replace") for p in seed_dir.rglob("*.txt"))
    listed = client.get("/sources").json()
    assert all("secret" not in s["id"] and "x-" not in s["id"] for s in listed)


def test_a_real_chat_upload_still_works(client: TestClient, seed_dir: Path) -> None:
    files = {"files": ("tide.txt", b"High tide at Marlow is at six.\n", "text/plain")}
    uploaded = client.post("/gradio_api/upload", files=files)
    assert uploaded.status_code == 200
    path = uploaded.json()[0]
    data = [[{"path": path, "orig_name": "tide.txt", "meta": {"_type": "gradio.FileData"}}]]
    run_event(client, event_index(client, "upload", "upload"), data)
    assert (seed_dir / "tide.txt").read_text() == "High tide at Marlow is at six.\n"


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:9"])
def test_cross_site_changes_are_refused(client: TestClient, origin: str) -> None:
    headers = {"Origin": origin}
    upload = {"file": ("a.txt", b"Planted text.\n", "text/plain")}
    assert client.post("/sources", files=upload, headers=headers).status_code == 403
    assert client.post("/index", headers=headers).status_code == 403
    assert client.delete("/sources/a.txt", headers=headers).status_code == 403
    assert client.post("/ask", json={"question": "x"}, headers=headers).status_code == 403
    join = client.post("/gradio_api/queue/join", json={}, headers=headers)
    assert join.status_code == 403
    assert client.get("/health", headers=headers).status_code == 200  # reading is harmless


def test_a_page_marked_cross_site_by_the_browser_is_refused(client: TestClient) -> None:
    headers = {"Sec-Fetch-Site": "cross-site"}
    assert client.post("/index", headers=headers).status_code == 403


def test_same_site_pages_and_scripts_without_origin_may_change_things(client: TestClient) -> None:
    upload = {"file": ("a.txt", b"Planted text.\n", "text/plain")}
    same = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
    created = client.post("/sources", files=upload, headers=same)
    assert created.status_code == 201
    assert client.delete(f"/sources/{created.json()['id']}").status_code == 200  # no Origin: curl


@pytest.mark.parametrize("path", ["/sources", "/config", "/health", "/"])
def test_a_foreign_host_header_is_refused(client: TestClient, path: str) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, the browser still says its name."""
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 403 and "Host" in response.json()["detail"]
    join = client.post("/gradio_api/queue/join", json={}, headers={"Host": "evil.example:8000"})
    assert join.status_code == 403


def test_hosts_named_in_settings_are_trusted(tmp_path: Path, seed_dir: Path) -> None:
    with serve(tmp_path, seed_dir, allowed_hosts=("rag.example.com",)) as client:
        assert client.get("/health", headers={"Host": "rag.example.com"}).status_code == 200
        own = {"Host": "rag.example.com", "Origin": "https://rag.example.com"}
        assert client.post("/index", headers=own).status_code in (202, 409)
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 403


def test_with_a_key_every_gradio_route_needs_the_login(tmp_path: Path, seed_dir: Path) -> None:
    with serve(tmp_path, seed_dir, api_key=KEY) as client:
        for path in ("/gradio_api/heartbeat/abc", "/gradio_api/startup-events", "/config"):
            assert client.get(path).status_code == 401, path
        assert client.post("/login", data={"username": "u", "password": KEY}).status_code == 200
        assert client.get("/gradio_api/startup-events").status_code == 200
        assert client.get("/config").status_code == 200
        client.cookies.clear()
        assert (
            client.get("/gradio_api/startup-events", headers={"X-API-Key": KEY}).status_code == 401
        )
        assert client.get("/theme.css").status_code == 200  # static assets stay open


def test_gradio_file_refusals_do_not_echo_paths(client: TestClient, secret: Path) -> None:
    response = client.get(f"/gradio_api/file={secret}")
    assert response.status_code in (403, 404) and str(secret) not in response.text
    assert "tmp" not in response.text


def test_the_chat_uploads_go_to_a_private_folder_and_no_path_leaves(client: TestClient) -> None:
    files = {"files": ("tide.txt", b"High tide.\n", "text/plain")}
    answer = client.post("/gradio_api/upload", files=files)
    name = answer.json()[0]
    assert name.startswith("uploads/") and name.endswith("/tide.txt") and "/tmp" not in answer.text
    folder = Path(os.environ["GRADIO_TEMP_DIR"])  # the server made it its upload folder
    assert folder.name.startswith("rag-uploads-") and oct(folder.stat().st_mode)[-3:] == "700"
    assert (folder / name.removeprefix("uploads/")).read_bytes() == b"High tide.\n"
    assert client.get(f"/gradio_api/file={name}").content == b"High tide.\n"
    escape = client.get("/gradio_api/file=uploads/../../../etc/hostname")
    assert escape.status_code in (403, 404) and "etc" not in escape.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/ask", '{"question": "\\ud800 x"}'),
        ("POST", "/search", '{"query": "\\udfff"}'),
        ("POST", "/ask", '{"question": "ok", "history": [{"role": "user", "content": "\\ud800"}]}'),
        ("DELETE", "/sources/a%00b.txt", None),
        ("DELETE", "/sources/" + "a" * 4000 + ".txt", None),
        ("DELETE", "/sources/" + "/".join(["a" * 255] * 3) + ".txt", None),
        ("GET", "/sources/a%00b.txt", None),
        ("GET", "/sources/" + "a" * 4000 + ".txt", None),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_reason(
    client: TestClient, method: str, path: str, body: str | None
) -> None:
    headers = {"content-type": "application/json"} if body else {}
    response = client.request(method, path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail and "/tmp" not in detail and "Error" not in detail


def test_a_damaged_pdf_is_reported_without_exception_names(tmp_path: Path, seed_dir: Path) -> None:
    (seed_dir / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nstream\x00\x01")
    with serve(tmp_path, seed_dir) as client:
        assert client.post("/index").status_code == 202
        while (state := client.get("/index").json())["state"] == "running":
            pass
        reasons = [s["reason"] for s in state["report"]["skipped_files"]]
        assert reasons and all("Error" not in r and "Exception" not in r for r in reasons)


def test_a_rebuild_that_changes_nothing_publishes_nothing(client: TestClient) -> None:
    before = client.get("/health").json()["generation"]
    assert client.post("/index").status_code == 202
    while (state := client.get("/index").json())["state"] == "running":
        pass
    assert state["report"]["published"] is False
    assert state["generation"] == state["report"]["generation"] == before
