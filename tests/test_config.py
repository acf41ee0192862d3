from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.config import Settings
from tests.conftest import REPO


def test_defaults_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_PORT", "9999")
    assert Settings().port == 8000


def test_from_env_reads_prefixed_variables() -> None:
    settings = Settings.from_env(
        {"RAG_PORT": "9001", "RAG_SOURCE_DIRS": "a:b/c", "RAG_WATCH": "true", "HOME": "/x"}
    )
    assert settings.port == 9001
    assert settings.source_dirs == (Path("a"), Path("b/c"))
    assert settings.watch is True


def test_bad_values_are_rejected_with_the_field_name() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings.from_env({"RAG_PORT": "not-a-port"})


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`RAG_{n.upper()}`" not in readme]
    assert missing == []
