"""The OpenAPI document matches the API: schemathesis sends generated requests to every route."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from rag.assistant import Assistant
from rag.build.indexer import build_index
from rag.build.rebuild import Rebuilder
from rag.config import Settings
from tests.conftest import SEEDS
from tests.fakes import FakeEmbedder
from ui.api import create_app

EXAMPLES = 100  # per route, as schemathesis defaults: both runs take seconds
KEY = "s3cret-key"
CONTENT = {"POST /sources"}


@pytest.fixture(scope="module", params=[KEY, None], ids=["with-key", "without-key"])
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> OpenApiSchema:
    root = tmp_path_factory.mktemp("openapi")
    shutil.copytree(SEEDS, root / "sources")
    config = Settings(
        source_dirs=(root / "sources",),
        index_dir=root / "index",
        allowed_hosts=("testserver",),  # the name schemathesis's ASGI client sends
        api_key=request.param,
    )
    embedder = FakeEmbedder()
    build_index(config, embedder)
    assistant = Assistant(config, embedder)
    rebuilder = Rebuilder(config, embedder, on_success=lambda _report: assistant.reload())
    app = create_app(assistant, rebuilder)
    key = {"X-API-Key": KEY} if request.param else {}
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers=key)


def test_every_route_answers_as_documented(api_schema: OpenApiSchema) -> None:
    """Generated requests, valid and not, to every operation: no 5xx, nothing undocumented."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    calls: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            calls.append(case.operation.label)
            # An upload's bytes can be refused for what they hold (empty, not a known type,
            # an unreadable PDF): a 422 that no schema for a file can foretell.
            excluded = [positive_data_acceptance] if case.operation.label in CONTENT else []
            case.call_and_validate(
                headers=dict(api_schema.config.headers or {}), excluded_checks=excluded
            )

        check()
    print(f"schemathesis: {len(calls)} cases over {len(operations)} operations, 0 failures")


def test_the_document_declares_every_error_answer(api_schema: OpenApiSchema) -> None:
    document = api_schema.raw_schema
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"403"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"413", "422"} <= codes, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    ask = document["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert ask["minLength"] == 1 and ask["maxLength"] == Settings().max_question_chars
