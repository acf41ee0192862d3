"""Tests for rag.text.chunking: sentence spans and chunk windows over real text."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pysbd
import pytest

from rag.text.chunking import chunk, index_text, split_sentences
from rag.text.sections import headings, opening, section_of
from rag.text.units import read_with, unit_at, units
from rag.types import Chunk, Source

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def make_source(text: str, source_id: str = "doc.txt") -> Source:
    return Source(
        id=source_id, path=Path(source_id), title="T", text=text, sha256="", file_sha256=""
    )


def assert_valid_spans(text: str, spans: list[tuple[int, int]]) -> None:
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        assert "\n\n" not in piece.replace("\r\n", "\n")  # never across a blank line
        previous_end = end


def assert_valid_chunks(source: Source, chunks: list[Chunk], max_chars: int) -> None:
    for ordinal, piece in enumerate(chunks):
        assert piece.id == f"{source.id}#{ordinal}"
        assert piece.source_id == source.id
        assert source.text[piece.start : piece.end] == piece.text
        assert len(piece.text) <= max_chars
        assert piece.sentences[0].start == piece.start
        assert piece.sentences[-1].end == piece.end
        spans = [(s.start, s.end) for s in piece.sentences]
        assert_valid_spans(source.text, spans)
        assert all(s.source_id == source.id for s in piece.sentences)


def sentence_texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Dr. Smith went to Washington D.C. on Monday. He left."
    assert sentence_texts(text) == ["Dr. Smith went to Washington D.C. on Monday.", "He left."]


def test_spans_are_stripped_and_join_only_wrapped_lines() -> None:
    text = (
        "  A Title Without A Full Stop\r\n"
        "Published November 20, 2024 - 00:11am\n\n"
        "\tFirst sentence here.   Second one?  Third!\n"
        "a line that continues\nthe sentence on the next line.\n   \n"
    )
    spans = split_sentences(text)
    assert_valid_spans(text, spans)
    assert [text[s:e] for s, e in spans] == [
        "A Title Without A Full Stop",
        "Published November 20, 2024 - 00:11am",
        "First sentence here.",
        "Second one?",
        "Third!\na line that continues\nthe sentence on the next line.",  # a wrapped line
    ]


def test_empty_and_blank_text_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n ") == []
    assert chunk(make_source("   \n ")) == []


def test_windows_overlap_and_cover_the_last_sentence() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(7))
    source = make_source(text)
    chunks = chunk(source, sentences_per_chunk=3, overlap=1, max_chars=1000)
    assert_valid_chunks(source, chunks, 1000)
    numbers = [[text[s.start : s.end].split()[2] for s in c.sentences] for c in chunks]
    assert numbers == [["0", "1", "2"], ["2", "3", "4"], ["4", "5", "6"]]


def test_last_window_is_not_inside_the_previous_one() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(4))
    chunks = chunk(make_source(text), sentences_per_chunk=3, overlap=1)
    assert [len(c.sentences) for c in chunks] == [3, 2]
    assert chunks[-1].end == len(text)
    no_overlap = chunk(make_source(text), sentences_per_chunk=2, overlap=0)
    assert [len(c.sentences) for c in no_overlap] == [2, 2]
    assert no_overlap[0].end < no_overlap[1].start


def test_overlap_larger_than_window_still_advances() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(5))
    chunks = chunk(make_source(text), sentences_per_chunk=2, overlap=5)
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
    assert chunks[-1].end == len(text)


def test_max_chars_closes_windows_early_without_losing_sentences() -> None:
    sentences = [f"{'word ' * 30}number {i}." for i in range(6)]  # ~160 chars each
    text = " ".join(sentences)
    source = make_source(text)
    chunks = chunk(source, sentences_per_chunk=3, overlap=1, max_chars=400)
    assert_valid_chunks(source, chunks, 400)
    covered = {(s.start, s.end) for c in chunks for s in c.sentences}
    assert len(covered) == 6
    assert chunks[-1].end == len(text)
    for previous, current in itertools.pairwise(chunks):
        assert previous.start < current.start and previous.end < current.end


def test_long_text_without_punctuation_is_cut_at_whitespace() -> None:
    text = " ".join(f"word{i}" for i in range(3000))
    source = make_source(text)
    chunks = chunk(source, max_chars=500)
    assert_valid_chunks(source, chunks, 500)
    assert len(chunks) > 20
    covered = [(s.start, s.end) for c in chunks for s in c.sentences]
    pieces = [text[s:e] for s, e in dict.fromkeys(covered)]
    assert " ".join(pieces) == text  # cut only at spaces, nothing lost


def test_a_word_longer_than_max_chars_is_hard_cut() -> None:
    text = "x" * 250
    chunks = chunk(make_source(text), sentences_per_chunk=1, overlap=0, max_chars=100)
    assert [c.text for c in chunks] == ["x" * 100, "x" * 100, "x" * 50]


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        chunk(make_source("A."), sentences_per_chunk=0)


def test_long_line_finishes_quickly_with_the_same_sentences() -> None:
    sentence = "Mr. Brown met Dr. Lee at 3 p.m. on the 4th of July in the U.S. capital. "
    text = sentence * 4000  # ~290 KB on one line
    started = time.monotonic()
    spans = split_sentences(text)
    assert time.monotonic() - started < 10
    assert_valid_spans(text, spans)
    assert {text[s:e] for s, e in spans} == {sentence.strip()}
    assert len(spans) == 4000


def test_seed_quote_lies_inside_one_sentence() -> None:
    paths = sorted(SEEDS.glob("*.txt"))
    assert paths
    for path in paths:
        text = path.read_bytes().decode("utf-8")
        source = make_source(text, path.name)
        spans = split_sentences(text)
        assert_valid_spans(text, spans)
        assert_valid_chunks(source, chunk(source), 1000)
        if "approximately 11,000 North Korean troops" in text:
            quote = text.index("approximately 11,000 North Korean troops")
            (inside,) = [(s, e) for s, e in spans if s <= quote < e]
            assert text[inside[0] : inside[1]].startswith("Recent developments have seen")
            assert inside[1] >= quote + len("approximately 11,000 North Korean troops")


def test_index_text_prefixes_the_title_once() -> None:
    source = make_source("Kim Jong Un spoke. Troops moved.")
    (first,) = chunk(source)
    assert index_text("North Korea", first) == "North Korea\nKim Jong Un spoke. Troops moved."
    assert index_text("Kim Jong Un", first) == first.text
    assert index_text("", first) == first.text


def test_windows_over_a_long_line_match_pysbd_on_the_whole_line() -> None:
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    text = " ".join(text.split())  # one long line, longer than one pysbd window
    whole = pysbd.Segmenter(language="en", clean=False).segment(text)
    assert sentence_texts(text) == [s.strip() for s in whole if s.strip()]


WRAPPED = """\
The base-passwd package provides the master copy of the user database. If it is not
correct you can use the update-passwd utility to check it and optionally update it.
Details are in the manual page.

Included tools are:
  - update-passwd, which compares the files
  - a helper that lists
    the reserved ids

Option      Meaning          Default
-q N        quality          75
-g          grayscale        off

    $ update-passwd --dry-run
    $ update-passwd
"""


def test_a_hard_wrapped_sentence_is_one_sentence_and_structure_stays_apart() -> None:
    found = sentence_texts(WRAPPED)
    assert (
        "If it is not\ncorrect you can use the update-passwd utility to check it and optionally "
        "update it." in found
    )
    # a lead-in is one unit with its list, an item's wrapped line included
    assert (
        "Included tools are:\n  - update-passwd, which compares the files\n"
        "  - a helper that lists\n    the reserved ids"
    ) in found
    assert "-q N        quality          75" in found  # a table row alone
    assert "$ update-passwd --dry-run" in found  # code lines are not joined
    assert_valid_spans(WRAPPED, split_sentences(WRAPPED))


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("Download the archive.bz2 file and unpack it. Then run it.", "unpack it."),
        ("I have installed xz, but my tar doesn't recognize .tar.xz files. Help!", "files."),
        ("Version v1.2.3 fixed the crash in the parser. It is old.", "parser."),
    ],
)
def test_a_file_name_or_version_never_ends_a_sentence(text: str, whole: str) -> None:
    first = sentence_texts(text)[0]
    assert first.endswith(whole) and first[0].isupper()


FAQ = """\
Q:  I need to use a script that runs "xz -9". On a system with 256 MiB
    of RAM, xz says that it cannot allocate memory. Can I make the
    script work without modifying it?

A:  Set a default memory usage limit. You can do it e.g.
    in a shell initialization script:

        XZ_DEFAULTS=--memlimit-compress=150MiB

    xz will then scale the settings down.


Q:  How is multi-threaded compression implemented?

A:  The simplest method is splitting the data into blocks.
"""


def test_a_hanging_indent_continues_its_sentence() -> None:
    found = sentence_texts(FAQ)
    assert "On a system with 256 MiB\n    of RAM, xz says that it cannot allocate memory." in found


def test_a_question_is_one_unit_with_its_answer_and_a_lead_in_stops_at_a_dedent() -> None:
    found = [FAQ[s:e] for s, e, _, _ in units(FAQ)]
    assert found[0].startswith("Q:  I need") and found[0].endswith("scale the settings down.")
    assert "XZ_DEFAULTS" in found[0]  # the answer's lead-in keeps its code
    assert found[1].startswith("Q:  How is") and found[1].endswith("into blocks.")
    assert len(found) == 2


def test_a_table_row_is_read_and_quoted_with_its_header() -> None:
    table = (
        "Speeds measured:\n\n| Name | Ratio | Speed |\n| --- | --- | --- |\n"
        "| zstd | 2.8 | 500 MB/s |\n| gzip | 2.7 | 90 MB/s |\n\nAfter the table."
    )
    row = table.index("| gzip")
    unit = unit_at(table, row, row + len("| gzip | 2.7 | 90 MB/s |"))
    assert unit is not None and unit.quote_start == 0  # from the lead-in, header included
    assert (
        read_with(table, unit.start, unit.end)
        == "Speeds measured:\n\n| Name | Ratio | Speed |\n| gzip | 2.7 | 90 MB/s |"
    )
    after = table.index("After")
    assert read_with(table, after, len(table)) == "After the table."


def test_headings_are_titles_standing_alone_never_code_or_sentences() -> None:
    text = (
        "# tide\n\nPublished November 20, 2024 - 00:11am\n\nTide keeps a log.\n\n"
        "## Usage\n\n```\n# not a heading\n```\n\n"
        "Run it daily. The log grows.\n\nHINTS FOR TIDE\n\nReturns: <string>\n\n"
        "Options\n=======\n\nAll readings are kept."
    )
    found = [text[s:e] for s, e in headings(text)]
    assert found == ["# tide", "## Usage", "HINTS FOR TIDE", "Options"]
    assert section_of(text, text.index("Run it")) == "Usage"
    assert section_of(text, text.index("All readings")) == "Options"
    assert section_of(text, 0) is None  # a heading is not its own section


OPTIONS = """\
jpegtran recognizes these switches for extra markers:
        -copy none      Copy no extra markers.  This setting
                        drops all comments.
        -copy all       Copy all extra markers.  This setting
                        keeps them all.

If you want pkgconf to be used for pkg-config, you should install a
symlink.  We do not do this for you.

    $ ln -sf pkgconf /usr/bin/pkg-config

Math Library Functions

The math library defines the following functions:

s (x)

The sine of x.
"""


def test_option_entries_keep_their_wrapped_descriptions_with_their_lead_in() -> None:
    found = [OPTIONS[s:e] for s, e, _, _ in units(OPTIONS)]
    assert found[0].startswith("jpegtran recognizes") and found[0].endswith("keeps them all.")


def test_an_indented_example_belongs_to_the_paragraph_above_it() -> None:
    found = [OPTIONS[s:e] for s, e, _, _ in units(OPTIONS)]
    assert found[1].startswith("If you want pkgconf")
    assert found[1].endswith("$ ln -sf pkgconf /usr/bin/pkg-config")


def test_a_heading_is_quoted_with_what_opens_its_section() -> None:
    start = OPTIONS.index("Math Library Functions")
    end = opening(OPTIONS, start, start + len("Math Library Functions"))
    assert OPTIONS[start:end] == (
        "Math Library Functions\n\nThe math library defines the following functions:\n\n"
        "s (x)\n\nThe sine of x."
    )


def test_a_list_keeps_what_is_indented_under_its_items() -> None:
    steps = (
        "### Dictionary compression How To:\n\n1. Create the dictionary\n\n"
        "   `zstd --train Samples/* -o dict`\n\n2. Compress with dictionary\n\n"
        "   `zstd -D dict FILE`\n\nAfter the list, a paragraph.\n"
    )
    found = [steps[u.start : u.end] for u in units(steps)]
    assert found[0].startswith("### Dictionary") and found[0].endswith("`zstd -D dict FILE`")
    assert found[1] == "After the list, a paragraph."
