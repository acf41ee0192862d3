"""A generation's parts: which part holds a source, and parts shared with the previous generation.

The sources of a generation fall into PARTS parts by a hash of their id; the rows of a part
(its sources, chunks, chunk vectors and sentence vectors) are stored in its own folder,
parts/NN/. A part whose sources are all unchanged since the generation a build starts from
is not written again: its files are hard links to that generation's, and its checksums are
that manifest's. A 1-document change so writes one part, the keyword index and the manifest,
not the whole index.

A published file is never written again, so a link never exposes a half-written file, and
removing an old generation leaves the files a newer one links to. Damage done to a shared
file in place (bit rot, a hand edit) is refused by every generation holding it; the next
build then writes every part afresh, with its vectors from the embedding cache.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PARTS = 16
PARTS_DIR = "parts"


@functools.lru_cache(maxsize=1 << 16)  # ids recur in every build of a collection
def part_of(source_id: str) -> int:
    """Return the part that holds a source: the same in every generation."""
    # not crc32: ids that differ in one character would mostly share a part
    digest = hashlib.blake2b(source_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % PARTS


def source_order(source_id: str) -> tuple[int, str]:
    """Sort key of the sources in a generation: by part, then by id."""
    return part_of(source_id), source_id


def part_folder(part: int) -> str:
    """Return a part's folder, relative to the generation's."""
    return f"{PARTS_DIR}/{part:02d}"


def by_part(source_ids: Iterable[str]) -> dict[int, list[str]]:
    """Group source ids by part, keeping their order; parts in ascending order."""
    groups: dict[int, list[str]] = {}
    for source_id in source_ids:
        groups.setdefault(part_of(source_id), []).append(source_id)
    return dict(sorted(groups.items()))


def listed_parts(names: Iterable[str]) -> list[int]:
    """Return the parts that a manifest's file names hold, ascending."""
    found = set()
    for name in names:
        head, _, rest = name.partition("/")
        number = rest.partition("/")[0]
        if head == PARTS_DIR and number.isdigit() and int(number) < PARTS:
            found.add(int(number))
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Inherited:
    """The parts a new generation may link from the one it was built from."""

    directory: Path  # the earlier generation's folder
    digests: dict[str, str]  # its manifest's file name -> sha256
    parts: frozenset[int]

    @classmethod
    def find(
        cls,
        directory: Path | None,
        files: Sequence[tuple[str, str]],
        old_ids: Iterable[str],
        new_ids: Iterable[str],
        unchanged: set[str],
    ) -> Inherited | None:
        """Return the parts whose sources, in order, are the same and all unchanged."""
        if directory is None:
            return None
        old, new = by_part(old_ids), by_part(new_ids)
        same = frozenset(
            part
            for part, ids in new.items()
            if old.get(part) == ids and all(i in unchanged for i in ids)
        )
        return cls(directory, dict(files), same) if same else None

    def link(self, part: int, names: Sequence[str], target: Path) -> dict[str, str] | None:
        """Hard-link a part's files into the generation at `target`; None if it must be written.

        Returns the linked files' names and checksums.
        """
        if part not in self.parts:
            return None
        folder = part_folder(part)
        wanted = [f"{folder}/{name}" for name in names]
        if not all(name in self.digests for name in wanted):
            return None
        (target / folder).mkdir(parents=True, exist_ok=True)
        try:
            for name in wanted:
                os.link(self.directory / name, target / name)
        except OSError:  # gone, or a file system without hard links: write the part instead
            for name in wanted:
                (target / name).unlink(missing_ok=True)
            return None
        return {name: self.digests[name] for name in wanted}
