"""The command line, run in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SEEDS
from ui.cli import BarProgress, main

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
        main(["ask", "What is the boiling point of mercury?", "--index-dir", index, "--json"]) == 1
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


def test_bad_flags_get_a_plain_message_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "x", "--top-k", "0", "--index-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rag: --top-k (or RAG_TOP_K): ") and "greater than or equal to 1" in err
    assert "http" not in err and "pydantic" not in err.lower()


def test_help_describes_the_flags_and_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "1 `ask` refused" in top and "2 an error" in top
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "questions.jsonl" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    assert "passages to read, 1-100" in capsys.readouterr().out


def test_progress_in_a_log_is_a_few_lines_not_one_per_item(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Piped to a file, 5,000 quick steps once drew 5,000 bars; the end is still shown."""
    bar = BarProgress()
    for done in range(1, 5001):
        bar("embedding", done, 5000)
    bar.close()
    drawn = capsys.readouterr().err
    assert drawn.count("embedding") <= 3
    assert "5000/5000" in drawn


@pytest.mark.parametrize("flags", [[], ["--neural"]])
def test_training_from_a_folder_without_training_data_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    code = main(["train", str(tmp_path / "nowhere"), "--work-dir", str(tmp_path / "w"), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("rag: ") and "paragraphs.jsonl" in err and "Traceback" not in err
