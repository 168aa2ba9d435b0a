"""The vector index follows storage (``store/vector_follow.py``): whatever is analysed in
storage is in the index after any crash and in every process, on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from tidings.store.sql import SQLStorage, open_storage
from tidings.store.vector_follow import REFRESH_EVERY, FollowedIndex
from tidings.store.vectors import VectorIndex
from tidings.types import EnrichmentStatus

from .test_enrichment_storage import RULES, T0, enrichment, stored_articles


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def vector(seed: int) -> bytes:
    from tidings.store.embedding import to_bytes

    values = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return to_bytes(values / np.linalg.norm(values))


def analyse(storage: SQLStorage, ids: list[int], *, skipped: bool = False) -> None:
    items = [
        enrichment(storage, a, status=EnrichmentStatus.SKIPPED, note="not English")
        if skipped
        else enrichment(storage, a, vector=vector(a))
        for a in ids
    ]
    storage.save_enrichments(items, enriched_at=T0, matcher=RULES)


def contents(index: VectorIndex, ids: list[int]) -> set[int]:
    return {a for a in ids if a in index}


def test_a_new_index_is_built_and_follows_other_processes(
    storage: SQLStorage, database_url: str, tmp_path: Path
) -> None:
    ids = stored_articles(storage, 6)
    analyse(storage, ids[:3])
    clock = Clock()
    followed = FollowedIndex(tmp_path / "v.usearch", storage, monotonic=clock)
    index = followed.index()
    assert followed.rebuilt == "missing" and contents(index, ids) == set(ids[:3])
    # Another process analyses more, skips one and removes a source.
    with open_storage(database_url) as other:
        analyse(other, ids[3:5])
        analyse(other, [ids[0]], skipped=True)
        extra = stored_articles(other, 2, source_url="https://b.example/feed")
        analyse(other, extra)
    assert contents(followed.index(), ids) == set(ids[:3])  # not looked again yet
    clock.now += REFRESH_EVERY
    assert contents(followed.index(), ids + extra) == {*ids[1:5], *extra}
    storage.remove_source("https://b.example/feed")
    clock.now += REFRESH_EVERY
    assert contents(followed.index(), ids + extra) == set(ids[1:5])


def test_a_writer_killed_before_saving_leaves_nothing_missing(
    storage: SQLStorage, tmp_path: Path
) -> None:
    path = tmp_path / "v.usearch"
    ids = stored_articles(storage, 8)
    analyse(storage, ids[:2])
    first = FollowedIndex(path, storage)
    first.index()  # built, and saved at the position it is complete up to
    saved_at = VectorIndex(path).position
    analyse(storage, ids[2:6])
    first.catch_up()  # held in memory; the process dies before saving
    assert VectorIndex(path).position == saved_at and len(VectorIndex(path)) == 2
    again = FollowedIndex(path, storage)
    assert contents(again.index(), ids) == set(ids[:6])
    assert again.rebuilt is None  # caught up from the file's position, not rebuilt
    again.close()
    on_disk = VectorIndex(path)
    assert len(on_disk) == 6 and on_disk.position <= storage.change_position()


@pytest.mark.parametrize("problem", ["foreign", "ahead", "old"])
def test_a_file_that_cannot_be_trusted_is_rebuilt(
    storage: SQLStorage, tmp_path: Path, problem: str
) -> None:
    path = tmp_path / "v.usearch"
    ids = stored_articles(storage, 3)
    analyse(storage, ids)
    FollowedIndex(path, storage).index()  # built and saved
    stale = VectorIndex(path)
    stale.remove(ids)  # whatever the file holds, it must not be believed
    if problem == "foreign":
        stale.identity = bytes(range(16))  # the same URL, another database
    elif problem == "ahead":
        stale.position = storage.change_position() + 10  # storage restored from a backup
    stale.save()
    if problem == "old":
        data = bytearray(path.read_bytes())
        struct.pack_into("<I", data, 8, 1)  # format 1 recorded no position
        path.write_bytes(bytes(data))
    followed = FollowedIndex(path, storage)
    assert contents(followed.index(), ids) == set(ids)
    assert followed.rebuilt == problem
    assert VectorIndex(path).identity == storage.database_identity()
