"""A size-limited or full disk fails the build cleanly and the live index keeps serving."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.build.indexer import build_index
from rag.errors import RagError
from rag.index.generations import current_generation, generation_dir
from tests.fakes import FakeEmbedder
from tests.fault_build import DIM, EXIT_FAILED, settings_for
from tests.faults.world import BEFORE, CORPUS, assert_serves, child


def with_copies(world: Path, name: str) -> Path:
    """Return the generation-1 articles plus a renamed copy of each: twice the index, no new text.

    With no new text the embedding cache writes nothing, so it is the new generation's own
    files that meet the limit.
    """
    folder = world / name / "sources"
    folder.mkdir(parents=True)
    for path in BEFORE:
        shutil.copy(path, folder / path.name)
        shutil.copy(path, folder / f"copy-{path.name}")
    return folder


def test_a_size_limited_write_fails_the_build_cleanly(world: Path) -> None:
    """RLIMIT_FSIZE caps every file the child writes: writes past it fail with EFBIG."""
    sources, index = with_copies(world, "fsize"), world / "fsize" / "index"
    shutil.copytree(world / "index", index)
    largest = max(p.stat().st_size for p in generation_dir(index, 1).rglob("*") if p.is_file())
    # the part holding generation 1's largest file holds the same articles (and more) again
    starved = child(sources, index, "fsize", str(largest // 2))
    assert starved.returncode == EXIT_FAILED, starved.stderr
    assert "could not write a new index generation" in starved.stderr
    assert "File too large" in starved.stderr
    assert current_generation(index) == 1
    assert_serves(index, FakeEmbedder(dim=DIM))
    assert not [p for p in index.iterdir() if p.name.startswith(".tmp")]
    report = build_index(settings_for(sources, index), FakeEmbedder(dim=DIM))
    assert (report.generation, report.sources, report.embedded) == (2, 2 * len(BEFORE), 0)


def disk_usage(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def small_disk(world: Path) -> Iterator[Path]:
    """A tmpfs with room for generation 1 and its cache, and one more generation of that size.

    A real full disk; it needs root and mount rights, else the test skips.
    """
    mount = world / "disk"
    mount.mkdir()
    generation = disk_usage(generation_dir(world / "index", 1))
    size = disk_usage(world / "index") + generation + 2**20
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size // 1024}k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the RLIMIT test runs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_build_cleanly(world: Path, small_disk: Path) -> None:
    index = small_disk / "index"
    shutil.copytree(world / "index", index)
    sources = with_copies(world, "full")
    embedder = FakeEmbedder(dim=DIM)
    with pytest.raises(RagError, match="No space left on device"):
        build_index(settings_for(sources, index), embedder)
    assert current_generation(index) == 1
    assert_serves(index, embedder)
    assert not [p for p in index.iterdir() if p.name.startswith(".tmp")]
    for path in sources.glob("copy-*"):  # the user frees space: the next build goes through
        path.unlink()
    (sources / CORPUS[2].name).unlink()
    report = build_index(settings_for(sources, index), embedder)
    assert (report.generation, report.removed, report.embedded) == (2, 1, 0)
    assert sorted(p.name for p in index.glob("gen-*")) == ["gen-000001", "gen-000002"]
