"""Fault tests: builds killed at many points, damaged files, full disks. The live index survives."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from rag.build.indexer import Indexer, build_index
from rag.config import Settings
from rag.errors import IndexCorrupt, IndexMissing, RagError
from rag.index.generations import CURRENT, current_generation, generation_dir, load_current
from rag.index.local import LocalStore
from rag.sources.digests import RACY_NS
from tests.conftest import REPO, SHARED
from tests.fakes import FakeEmbedder
from tests.fault_build import DIM, EXIT_FAILED, settings_for

CORPUS = sorted((SHARED / "eval" / "squad2" / "corpus").glob("*.txt"))  # ~3 kB articles
SHORT = sorted((SHARED / "eval" / "multihop" / "corpus").glob("*.txt"))  # ~0.5 kB ones
BEFORE = [*CORPUS[:8], *SHORT[:4]]
AFTER = [*CORPUS[:8], *SHORT[1:6]]  # one deleted, one edited, two added: cheap to re-chunk
MIN_KILL_POINTS = 20
CHILD_TIMEOUT_S = 60


def child(sources: Path, index: Path, mode: str, value: str) -> subprocess.CompletedProcess[str]:
    """Run tests/fault_build.py in a fresh interpreter."""
    command = [sys.executable, "-m", "tests.fault_build", str(sources), str(index), mode, value]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generation 1 over 12 articles, then the edit that the builds under test index.

    The sources stay in one folder, as a user's do, so that the parts the edit leaves alone
    are linked from generation 1, not written again.
    """
    root = tmp_path_factory.mktemp("faults")
    folder = root / "sources"
    folder.mkdir()
    for path in BEFORE:
        shutil.copy(path, folder / path.name)
    report = build_index(settings_for(folder, root / "index"), FakeEmbedder(dim=DIM))
    assert report.generation == 1
    for path in set(BEFORE) - set(AFTER):
        (folder / path.name).unlink()
    for path in set(AFTER) - set(BEFORE):
        shutil.copy(path, folder / path.name)
    edited = folder / SHORT[1].name
    edited.write_text(edited.read_text() + "\nThe zanzibarian edit is new.\n")
    # Past the window in which file digests are not trusted (rag/file_digests.py), so that
    # every build under test takes the same steps as the traced one.
    time.sleep(RACY_NS / 1e9 + 0.1)
    return root


def fresh_index(world: Path, name: str) -> tuple[Path, Path]:
    """Return the edited sources and a private copy of generation 1 to index them into."""
    index = world / name / "index"
    shutil.copytree(world / "index", index)
    return world / "sources", index


def assert_serves(index: Path, embedder: FakeEmbedder) -> LocalStore:
    """The live generation loads, verifies and answers, holding the before or after sources."""
    store = load_current(index, embedder)
    assert store.problems == ()
    names = set(store.sources)
    assert names == {p.name for p in (BEFORE if store.generation == 1 else AFTER)}
    question = "What is the subject of this article?"
    assert store.search_dense(embedder.embed([question])[0], 3)
    assert store.search_keyword(store.sources[CORPUS[2].name].title, 3)
    return store


def kill_points(steps: list[str]) -> list[int]:
    """Pick 1-based step numbers to kill at.

    Every kind of disk call (each file's first write, fsync, rename, replace, SQLite write,
    unlink...) at its first call; the FAISS file mid-write and the last fsync; and a few of
    the storage functions between them.
    """
    seen: dict[str, list[int]] = {}
    for number, label in enumerate(steps, start=1):
        seen.setdefault(label, []).append(number)
    disk = {label: numbers for label, numbers in seen.items() if "." not in label.split(":")[0]
            or label.startswith(("os.", "sqlite."))}  # fmt: skip
    points = {numbers[0] for numbers in disk.values()}
    points.update((seen["write:chunks.faiss"][1], seen["os.fsync"][-1]))
    functions = sorted(numbers[0] for label, numbers in seen.items() if label not in disk)
    points.update(functions[:: max(1, len(functions) // 4)])
    return sorted(points)


def kill_all(world: Path, points: list[int]) -> list[tuple[int, Path, Path]]:
    """Run one build per point in a child process killed there; return statuses and folders."""
    command = [sys.executable, "-m", "tests.fault_build", "serve"]
    with subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        runs = []
        for point in points:
            sources, index = fresh_index(world, f"kill-{point}")
            server.stdin.write(f"{sources} {index} kill {point}\n")
            server.stdin.flush()
            runs.append((int(server.stdout.readline()), sources, index))
        server.stdin.close()
    return runs


def test_a_killed_build_never_hurts_the_live_index(world: Path) -> None:
    sources, index = fresh_index(world, "trace")
    traced = child(sources, index, "trace", str(world / "steps.json"))
    assert traced.returncode == 0, traced.stderr
    steps = json.loads((world / "steps.json").read_text())
    kinds = Counter(steps)
    assert kinds["write:chunks.faiss"] >= 3  # so kills land mid-write of the FAISS file
    assert kinds["os.rename"] == 1 and kinds["os.fsync"] >= 10
    assert kinds["os.replace"] in (1, 2)  # CURRENT, and the scan's file digests if they changed
    assert kinds["os.link"] >= 4  # the parts the edit left alone are linked, not written
    points = kill_points(steps)
    assert len(points) >= MIN_KILL_POINTS, points
    half = len(points) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:  # two forking servers: two cores
        runs = [run for batch in pool.map(partial(kill_all, world), (points[:half], points[half:]))
                for run in batch]  # fmt: skip
    embedder = FakeEmbedder(dim=DIM)
    outcomes: Counter[int] = Counter()
    for point, (code, sources, index) in zip(points, runs, strict=True):
        assert code == -signal.SIGKILL, (point, steps[point - 1])
        outcomes[assert_serves(index, embedder).generation] += 1
        report = build_index(settings_for(sources, index), embedder)  # the lock died with it
        assert report.sources == len(AFTER)
        store = assert_serves(index, embedder)
        assert store.generation == report.generation > 1
        assert "zanzibarian" in store.sources[SHORT[1].name].text
        assert not [p for p in index.iterdir() if p.name.startswith(".tmp")]
        shutil.rmtree(index.parent)
    assert outcomes[1] >= MIN_KILL_POINTS // 2  # most kills land before the switch
    assert outcomes[2] >= 1  # some after it: the new generation is then complete and live


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Five articles to index."""
    folder = tmp_path / "sources"
    folder.mkdir()
    for path in CORPUS[:5]:
        shutil.copy(path, folder / path.name)
    return folder


def edited_twice(tmp_path: Path, sources: Path) -> tuple[Settings, FakeEmbedder, Path]:
    """Build generation 1, edit one article, build generation 2; return its folder too."""
    settings = settings_for(sources, tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    edited = sources / CORPUS[3].name
    edited.write_text(edited.read_text() + "\nAn added sentence.\n")
    build_index(settings, embedder)
    return settings, embedder, generation_dir(settings.index_dir, 2)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_live_generation_is_refused_and_the_last_good_one_serves(
    tmp_path: Path, sources: Path, damage: str
) -> None:
    settings, embedder, live = edited_twice(tmp_path, sources)
    # every file generation 2 wrote; the parts it shares with generation 1 are tested below
    names = sorted(p.relative_to(live) for p in live.rglob("*") if is_own(p))
    assert any(name.parts[0] == "parts" for name in names) and "manifest.json" in map(str, names)
    for name in names:
        path = live / name
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 3])
        elif damage == "flip":
            path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
        else:
            path.unlink()
        store = load_current(settings.index_dir, embedder)
        assert store.generation == 1, name
        assert "gen-000002" in store.problems[0] and "rag index" in store.problems[0]
        assert "serving the last good generation 1" in store.problems[-1]
        path.write_bytes(data)
    assert load_current(settings.index_dir, embedder).problems == ()


def is_own(path: Path) -> bool:
    """Is this a file of one generation only (not a part linked from an earlier one)?"""
    return path.is_file() and path.stat().st_nlink == 1


def test_a_shared_part_damaged_in_place_is_refused_by_every_generation_and_rebuilt(
    tmp_path: Path, sources: Path
) -> None:
    settings, embedder, live = edited_twice(tmp_path, sources)
    shared = [p for p in live.rglob("sentences.npy") if not is_own(p)]
    assert len(shared) >= 2  # the parts the edit left alone
    data = shared[0].read_bytes()
    shared[0].write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))  # in place: both see it
    with pytest.raises(IndexCorrupt, match=r"sentences\.npy fails its checksum"):
        load_current(settings.index_dir, embedder)
    report = build_index(settings, embedder)  # afresh, every vector from the cache
    assert (report.generation, report.added, report.embedded) == (3, 5, 0)
    store = load_current(settings.index_dir, embedder)
    assert store.problems == () and store.generation == 3
    assert all(is_own(p) for p in generation_dir(settings.index_dir, 3).rglob("*.npy"))


def test_a_held_generation_damaged_on_disk_is_not_built_on(tmp_path: Path, sources: Path) -> None:
    """The server's Indexer keeps the last generation in memory; it must not link files that
    were damaged on disk since, nor let clean-up remove the last good generation."""
    settings = settings_for(sources, tmp_path / "index")
    indexer = Indexer(settings, FakeEmbedder())
    indexer.build()
    edited = sources / CORPUS[3].name
    edited.write_text(edited.read_text() + "\nAn added sentence.\n")
    indexer.build()
    live = generation_dir(settings.index_dir, 2)
    own = next(p for p in live.rglob("sentences.npy") if is_own(p))  # the edited part
    data = own.read_bytes()
    own.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    other = sources / CORPUS[0].name  # a change elsewhere: the damaged part stays unchanged
    other.write_text(other.read_text() + "\nAnother sentence.\n")
    report = indexer.build()  # reads the index back, refuses generation 2, builds on 1
    store = load_current(settings.index_dir, FakeEmbedder())
    assert (store.generation, store.problems) == (report.generation, ())
    assert "Another sentence." in store.sources[CORPUS[0].name].text
    assert "An added sentence." in store.sources[CORPUS[3].name].text
    indexer.build()
    assert load_current(settings.index_dir, FakeEmbedder()).problems == ()


def test_a_rebuild_over_a_damaged_generation_keeps_the_good_one(
    tmp_path: Path, sources: Path
) -> None:
    settings = settings_for(sources, tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    (sources / "kite.txt").write_text("The red kite nests in tall trees.\n")
    build_index(settings, embedder)
    damaged = generation_dir(settings.index_dir, 2) / "bm25" / "terms.npy"  # its own file
    damaged.write_bytes(damaged.read_bytes()[:-8])
    report = build_index(settings, embedder)  # builds on generation 1, the last good one
    assert (report.generation, report.unchanged, report.embedded) == (3, 5, 0)
    names = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert names == ["gen-000001", "gen-000002", "gen-000003"]
    (sources / "kite.txt").unlink()
    build_index(settings, embedder)
    names = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert names == ["gen-000003", "gen-000004"]


def test_no_good_generation_raises_and_the_next_build_repairs(
    tmp_path: Path, sources: Path
) -> None:
    settings = settings_for(sources, tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    faiss_file = next(generation_dir(settings.index_dir, 1).rglob("chunks.faiss"))
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match=r"chunks\.faiss fails its checksum"):
        load_current(settings.index_dir, embedder)
    before = embedder.texts_embedded
    report = build_index(settings, embedder)  # rebuilds from the sources, vectors from the cache
    assert (report.generation, report.added, report.embedded) == (2, 5, 0)
    assert embedder.texts_embedded == before
    assert load_current(settings.index_dir, embedder).problems == ()


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_a_damaged_embedding_cache_costs_only_re_embedding(
    tmp_path: Path, sources: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(sources, tmp_path / "index")
    first = build_index(settings, FakeEmbedder())
    cache = settings.index_dir / "cache" / "embeddings.sqlite"
    data = bytearray(cache.read_bytes())
    if damage == "header":
        data[:100] = b"not a database".ljust(100, b"!")
    else:  # every page but the first: the file opens, its B-trees are garbage
        data[4096:] = bytes((i * 7) % 251 for i in range(len(data) - 4096))
    cache.write_bytes(bytes(data))
    (sources / CORPUS[0].name).unlink()  # a change, so that the cache is consulted
    (sources / "new.txt").write_text("New\n\nA new article about owls.")
    embedder = FakeEmbedder()
    report = build_index(settings, embedder)
    assert (report.generation, report.embedded) == (2, embedder.texts_embedded)
    assert 0 < report.embedded < first.embedded
    assert "embeddings.sqlite is damaged" in caplog.text
    assert build_index(settings, embedder).embedded == 0  # the fresh cache works


def test_a_missing_or_garbled_pointer(tmp_path: Path, sources: Path) -> None:
    index = tmp_path / "index"
    with pytest.raises(IndexMissing, match="rag index"):
        load_current(index, FakeEmbedder())
    build_index(settings_for(sources, index), FakeEmbedder())
    (sources / "kite.txt").write_text("The red kite nests in tall trees.\n")
    build_index(settings_for(sources, index), FakeEmbedder())
    (index / CURRENT).write_bytes(b"\x00garbage")
    assert current_generation(index) == 0
    store = load_current(index, FakeEmbedder())  # the newest good generation serves
    assert store.generation == 2 and "CURRENT is unreadable" in store.problems[0]
    shutil.rmtree(generation_dir(index, 2) / "bm25")
    assert load_current(index, FakeEmbedder()).generation == 1
    report = build_index(settings_for(sources, index), FakeEmbedder())  # mends CURRENT
    assert report.published and current_generation(index) == report.generation == 3
    (index / CURRENT).write_text("gen-000009\n")  # names a generation that is not there
    store = load_current(index, FakeEmbedder())
    assert store.generation == 3 and "gen-000009" in store.problems[0]


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
