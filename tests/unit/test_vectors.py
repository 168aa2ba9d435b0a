"""The vector index: add, search, replace, remove, save and reopen, damaged files, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tidings.errors import TidingsError, VectorIndexCorruptError, VectorIndexError, VectorShapeError
from tidings.store.vectors import VectorIndex, quantize

NDIM = 384


def unit_rows(n: int, seed: int = 0, ndim: int = NDIM) -> npt.NDArray[np.float32]:
    rows = np.random.default_rng(seed).standard_normal((n, ndim)).astype(np.float32)
    unit: npt.NDArray[np.float32] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


@pytest.fixture
def vectors() -> npt.NDArray[np.float32]:
    return unit_rows(300)


@pytest.fixture(params=["i8", "f16", "f32"])
def index(request: pytest.FixtureRequest, vectors: npt.NDArray[np.float32]) -> VectorIndex:
    index = VectorIndex(None, dtype=request.param)
    index.add(list(range(100, 400)), vectors)
    return index


def test_search_finds_the_vector_itself_first(
    index: VectorIndex, vectors: npt.NDArray[np.float32]
) -> None:
    hits = index.search(vectors[7], 5)
    assert len(hits) == 5
    assert hits[0][0] == 107
    assert hits[0][1] == pytest.approx(1.0, abs=1e-3)
    sims = [s for _, s in hits]
    assert sims == sorted(sims, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in sims)
    assert all(isinstance(i, int) for i, _ in hits)


def test_similarity_is_the_cosine(index: VectorIndex, vectors: npt.NDArray[np.float32]) -> None:
    # Two vectors at a known angle among random ones (nearly orthogonal in 384-d).
    near = vectors[0] * 0.8 + vectors[1] * 0.6
    near /= np.linalg.norm(near)
    index.add([999], near[None, :])
    hits = dict(index.search(vectors[0], 3))
    assert hits[999] == pytest.approx(float(vectors[0] @ near), abs=0.01)


def test_len_and_contains(index: VectorIndex) -> None:
    assert len(index) == 300
    assert 100 in index
    assert 399 in index
    assert 400 not in index
    assert -1 not in index
    assert "100" not in index


def test_exclude_leaves_ids_out_and_still_fills_k(
    index: VectorIndex, vectors: npt.NDArray[np.float32]
) -> None:
    first = [i for i, _ in index.search(vectors[7], 6)]
    hits = index.search(vectors[7], 5, exclude={107, first[1], 123456})
    ids = [i for i, _ in hits]
    assert len(ids) == 5
    assert 107 not in ids
    assert first[1] not in ids
    assert ids[:4] == first[2:6]


def test_search_many_matches_search(index: VectorIndex, vectors: npt.NDArray[np.float32]) -> None:
    many = index.search_many(vectors[:3], 4, exclude_each=[{100}, {101}, {102}])
    assert [[i for i, _ in hits] for hits in many] == [
        [i for i, _ in index.search(vectors[q], 4, exclude={100 + q})] for q in range(3)
    ]
    # On one thread (a page's probes), the same neighbours.
    assert index.search_many(vectors[:3], 4, exclude_each=[{100}, {101}, {102}], threads=1) == many
    with pytest.raises(VectorIndexError):
        index.search_many(vectors[:3], 4, exclude_each=[{100}])


def test_replace_moves_an_id_to_its_new_vector(
    index: VectorIndex, vectors: npt.NDArray[np.float32]
) -> None:
    index.add([105], vectors[250][None, :])
    assert len(index) == 300
    ids = [i for i, _ in index.search(vectors[250], 2)]
    assert set(ids) == {105, 350}
    assert 105 not in [i for i, _ in index.search(vectors[5], 3)]


def test_add_refuses_the_same_id_twice_in_one_call(vectors: npt.NDArray[np.float32]) -> None:
    index = VectorIndex(None)
    with pytest.raises(VectorIndexError, match="twice"):
        index.add([1, 1], vectors[:2])
    assert len(index) == 0


def test_remove(index: VectorIndex, vectors: npt.NDArray[np.float32]) -> None:
    assert index.remove([107, 108, 5000]) == 2
    assert len(index) == 298
    assert 107 not in index
    assert 107 not in [i for i, _ in index.search(vectors[7], 10)]
    assert index.remove([]) == 0
    # A removed id can come back.
    index.add([107], vectors[7][None, :])
    assert index.search(vectors[7], 1)[0][0] == 107


def test_empty_index_and_k_zero_return_nothing(vectors: npt.NDArray[np.float32]) -> None:
    index = VectorIndex(None)
    assert index.search(vectors[0], 10) == []
    assert index.search_many(vectors[:2], 10) == [[], []]
    index.add([1], vectors[:1])
    assert index.search(vectors[0], 0) == []
    [(id, similarity)] = index.search(vectors[0], 10)
    assert id == 1
    assert similarity == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "bad",
    [np.zeros(NDIM - 1, np.float32), np.zeros((1, 128), np.float32), np.zeros((2, 2, NDIM))],
)
def test_wrong_dimension_is_a_clear_error(index: VectorIndex, bad: npt.NDArray[np.float32]) -> None:
    with pytest.raises(VectorShapeError, match="384") as caught:
        index.search(bad, 3)
    assert isinstance(caught.value, TidingsError)
    with pytest.raises(VectorShapeError):
        index.add([1] * len(bad), bad)


def test_bad_values_and_ids_are_clear_errors(index: VectorIndex) -> None:
    row = np.full((1, NDIM), np.nan, dtype=np.float32)
    with pytest.raises(VectorShapeError, match="NaN"):
        index.add([1], row)
    with pytest.raises(VectorShapeError, match="2 ids but 1 vectors"):
        index.add([1, 2], np.ones((1, NDIM), np.float32))
    with pytest.raises(VectorIndexError, match="negative"):
        index.add([-5], np.ones((1, NDIM), np.float32))
    with pytest.raises(VectorIndexError, match="integers"):
        index.add(["x"], np.ones((1, NDIM), np.float32))  # type: ignore[list-item]


def test_save_and_reopen(tmp_path: Path, vectors: npt.NDArray[np.float32]) -> None:
    path = tmp_path / "sub" / "articles.tidx"
    index = VectorIndex(path)
    index.add(list(range(300)), vectors)
    index.remove([3])
    index.save()
    assert [p.name for p in path.parent.iterdir()] == ["articles.tidx"]  # no temp file left

    again = VectorIndex(path)
    assert again.rebuilt is None
    assert len(again) == 299
    assert 3 not in again
    assert again.search(vectors[10], 3) == index.search(vectors[10], 3)
    # The reopened index can still change and be saved again.
    again.add([3], vectors[3][None, :])
    again.save()
    assert len(VectorIndex(path)) == 300


def test_save_without_a_path_is_an_error(vectors: npt.NDArray[np.float32]) -> None:
    with pytest.raises(VectorIndexError, match="no file"):
        VectorIndex(None).save()


def saved(tmp_path: Path, vectors: npt.NDArray[np.float32]) -> Path:
    path = tmp_path / "articles.tidx"
    index = VectorIndex(path)
    index.add(list(range(len(vectors))), vectors)
    index.save()
    return path


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) * 2 // 3] ^= 0x5A
    path.write_bytes(bytes(data))


def garbage(path: Path) -> None:
    path.write_bytes(b"not an index at all")


def empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [truncate, flip_a_byte, garbage, empty])
def test_damaged_file_is_a_clear_error(
    tmp_path: Path, vectors: npt.NDArray[np.float32], damage: object
) -> None:
    path = saved(tmp_path, vectors)
    damage(path)  # type: ignore[operator]
    with pytest.raises(VectorIndexCorruptError) as caught:
        VectorIndex(path)
    assert caught.value.key == "vector_index_corrupt"
    assert caught.value.resource == str(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("damage", [truncate, flip_a_byte, garbage])
def test_damaged_file_is_rebuilt_from_rows_and_says_so(
    tmp_path: Path, vectors: npt.NDArray[np.float32], damage: object
) -> None:
    path = saved(tmp_path, vectors)
    damage(path)  # type: ignore[operator]
    index = VectorIndex(path, rows=lambda: zip(range(len(vectors)), vectors, strict=True))
    assert index.rebuilt == "corrupt"
    assert isinstance(index.load_error, VectorIndexCorruptError)
    assert len(index) == 300
    assert index.search(vectors[42], 1)[0][0] == 42
    # The rebuilt index was saved: it opens cleanly now.
    assert VectorIndex(path).rebuilt is None


def test_missing_file_is_rebuilt_from_rows_or_starts_empty(
    tmp_path: Path, vectors: npt.NDArray[np.float32]
) -> None:
    path = tmp_path / "articles.tidx"
    assert len(VectorIndex(path)) == 0
    assert not path.exists()
    index = VectorIndex(path, rows=lambda: ((i, vectors[i].tolist()) for i in range(50)))
    assert index.rebuilt == "missing"
    assert len(index) == 50
    assert path.exists()


def test_file_built_with_other_settings_is_refused(
    tmp_path: Path, vectors: npt.NDArray[np.float32]
) -> None:
    path = saved(tmp_path, vectors)
    with pytest.raises(VectorIndexCorruptError, match="other settings"):
        VectorIndex(path, dtype="f16")
    small = tmp_path / "small.tidx"
    index = VectorIndex(small, ndim=8)
    index.add([1], unit_rows(1, ndim=8))
    index.save()
    with pytest.raises(VectorIndexCorruptError, match="other settings"):
        VectorIndex(small)


def test_rebuild_replaces_everything_and_a_later_row_wins(
    vectors: npt.NDArray[np.float32],
) -> None:
    index = VectorIndex(None)
    index.add([1000], vectors[:1])
    rows = [(i, vectors[i]) for i in range(10)] + [(3, vectors[200])]
    assert index.rebuild(rows) == 10
    assert 1000 not in index
    assert index.search(vectors[200], 1)[0][0] == 3
    with pytest.raises(VectorShapeError):
        index.rebuild([(1, vectors[0][:10])])


def test_quantize_keeps_the_cosine() -> None:
    rows = unit_rows(50)
    q = quantize(rows).astype(np.float32)
    cos = np.einsum("ij,ij->i", q, rows) / np.linalg.norm(q, axis=1)
    assert cos.min() > 0.999
    assert quantize(np.zeros((1, 4), np.float32)).tolist() == [[0, 0, 0, 0]]


def test_concurrent_add_and_search(vectors: npt.NDArray[np.float32]) -> None:
    index = VectorIndex(None)
    index.add(list(range(50)), vectors[:50])
    done = threading.Event()

    def write() -> None:
        try:
            # Many small adds make USearch grow its arrays while the reader searches.
            for start in range(50, 300, 5):
                index.add(list(range(start, start + 5)), vectors[start : start + 5])
                index.add([start], vectors[start][None, :])  # a replacement too
            index.remove(range(0, 20))
        finally:
            done.set()

    def read() -> int:
        searches = 0
        while True:
            finished = done.is_set()  # read first: one full pass after the writer stops
            for q in range(0, 300, 37):
                hits = index.search(vectors[q], 5, exclude={q})
                assert q not in [i for i, _ in hits]
            index.search_many(vectors[:4], 3)
            searches += 1
            if finished:
                return searches

    with ThreadPoolExecutor(max_workers=2) as pool:
        reader = pool.submit(read)
        writer = pool.submit(write)
        writer.result(timeout=60)  # re-raises here whatever failed in the thread
        assert reader.result(timeout=60) > 0
    assert len(index) == 280


def test_a_process_with_an_index_can_still_load_the_embedding_model() -> None:
    """USearch imported before ONNX Runtime made the import of the latter die of a
    segmentation fault: a serving process that opened the index crashed when it first
    analysed an article."""
    import subprocess
    import sys

    code = "from tidings.store.vectors import VectorIndex; VectorIndex(None); import onnxruntime"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
