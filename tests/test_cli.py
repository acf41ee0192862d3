"""The command line, run in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SEEDS
from ui.cli import main

TROOPS = "How many North Korean troops were moved into Russia's Kursk region?"


@pytest.mark.model
def test_index_then_ask_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(SEEDS, sources)
    index = str(tmp_path / "index")
    assert main(["index", str(sources), "--index-dir", index]) == 0
    assert "1 added" in capsys.readouterr().out

    assert main(["ask", TROOPS, "--index-dir", index, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) >= {"question", "answer", "refused", "quotes"}
    assert answer["refused"] is False
    quote = answer["quotes"][0]
    assert set(quote) >= {"text", "source", "title", "start", "end", "score"}
    assert "11,000" in quote["text"]
    assert quote["source"] == "000_5e08608e18cd2d5e.txt"
    text = (sources / quote["source"]).read_text(encoding="utf-8")
    assert text[quote["start"] : quote["end"]] == quote["text"]

    assert (
        main(["ask", "What is the boiling point of mercury?", "--index-dir", index, "--json"]) == 0
    )
    refusal = json.loads(capsys.readouterr().out)
    assert refusal["refused"] is True and refusal["quotes"] == []

    assert main(["index", str(sources), "--index-dir", index]) == 0
    assert "nothing changed: generation 1 still serves" in capsys.readouterr().out


def test_ask_without_an_index_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", TROOPS, "--index-dir", str(tmp_path / "missing")]) == 2
    assert "rag index" in capsys.readouterr().err


def test_index_of_a_missing_folder_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["index", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "index")])
    assert code == 2
    assert "nope" in capsys.readouterr().err
