"""A persistent nearest-neighbour index over article embeddings, on USearch (HNSW).

It answers "articles like this" and gathers ranking candidates: given a vector, the stored ids
whose vectors have the highest cosine similarity. The vectors themselves stay in the database
(``tidings.store.embedding.to_bytes``); this index is a cache of them that can always be rebuilt,
so a missing, truncated or corrupt file is a reason to rebuild, never to lose data.

**On disk.** One file: a 76-byte header (magic, format version, SHA-256 and length of what
follows, the change position the index is complete up to and the identity of the database it
was built from; see :mod:`tidings.store.vector_follow`) then USearch's own serialisation.
USearch checks little when it reads a file, and a damaged file it accepts can crash the
process on the first search (reads through null pointers in its distance kernels), so
nothing reaches USearch until the checksum matches. :meth:`VectorIndex.save` writes a
temporary file beside the target, fsyncs it and renames it over the old one, so a reader or
a crash sees the old index or the new one, never half of one.

**Loaded, not memory-mapped.** USearch can *view* a file (mmap, pages read on demand) instead
of loading it, but a view is read-only, and ingestion adds to this index all day; a view
would also skip the checksum (hashing reads every page anyway) and keep the old file's inode
alive after each save. Loaded, it costs memory rather than page cache: with int8 vectors,
105,444 of them took 85 MB by USearch's count (805 bytes each: its capacity grows in powers
of two) and the file 533 bytes each; opening briefly holds the file's bytes as well.

**Threads.** One lock guards the USearch object: ingestion writes while the API reads, and
USearch grows its arrays on insertion, which is not safe against a concurrent search. A
single search takes well under a millisecond, so readers queue behind each other at no
noticeable cost. Saving holds the lock only while serialising, not while writing the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tidings.errors import VectorIndexCorruptError, VectorIndexError, VectorShapeError

log = logging.getLogger(__name__)

VectorDType = Literal["i8", "f16", "f32"]
#: Why an index was rebuilt when it was opened.
RebuildReason = Literal["missing", "corrupt"]
#: A stored vector as the database gives it back: an article id and its embedding.
Row = tuple[int, npt.ArrayLike]

#: Length of an embedding (``tidings.enrich.embed.DIMENSIONS``; not imported, so that opening
#: the index does not import the embedding model's dependencies).
DIMENSIONS = 384

# The numbers below are recall@10 from `tidings bench vectors` (2026-11-29, usearch 2.26.6):
# 1,000 queries against exact float32 cosine, each query's own id excluded, on the "real" set
# (11,716 MiniLM vectors of ECB+ articles, AG News items and STS news sentences) and the
# "scaled" set (108,160: the real ones plus 9 covariance-shaped noisy copies of each).

#: How vectors are stored: int8, quantised by us, per vector (largest component -> ±127,
#: rounded), which is exactly how the database stores embeddings (``store.embedding.to_bytes``): a
#: vector rebuilt from storage goes in unchanged (checked on all 11,716), so a wider type
#: would only spend memory on the same information. Against float32 truth it costs little:
#: at ef=128, recall@10 0.9940 real / 0.9939 scaled against float16's 0.9959 / 0.9986; an
#: exhaustive search over the int8 vectors reaches only 0.9947 / 0.9960, so the rest is
#: near-ties (reported cosines are within 0.0019 of the exact ones). In return: 533 bytes per
#: vector on disk against 917 (float16) and 1,685 (float32), and adds ~1.4x faster than
#: float16. USearch's own float->int8 cast (x127, truncated: ~6 levels for a typical
#: component of a 384-d unit vector) gets 0.960 / 0.964, hence we quantise before handing over.
DEFAULT_DTYPE: VectorDType = "i8"
#: Graph edges per node (HNSW "M"), USearch's default. 32 gained 0.000 / +0.001 recall@10 at
#: ef=128 for 24% more bytes per vector and ~20% slower adds.
CONNECTIVITY = 16
#: Candidates kept while inserting (HNSW "efConstruction"), USearch's default. 256 gained
#: +0.000 / +0.0015 at ef=128 and made adds ~35% slower (a rebuild of 100k: ~80 s, not ~50 s).
EXPANSION_ADD = 128
#: Candidates kept while searching (HNSW "ef"). int8 recall@10, real / scaled:
#: ef=16 0.981/0.980, 32 0.990/0.989, 64 0.993/0.992, 128 0.994/0.994, 256 0.995/0.994.
#: 128 is within 0.001-0.002 of the int8 ceiling (0.995/0.996) on both sets; 256 adds
#: <0.001 at ~0.7x the speed. A query at 128 took ~0.5-0.8 ms on a busy 2-core machine,
#: 20-30x the exact numpy search one query at a time.
EXPANSION_SEARCH = 128

_MAGIC = b"TIDVEC\r\n"  # \r\n: a text-mode copy that mangles line ends fails the magic check
#: Format 2 added the change position and the database identity; a format 1 file is
#: rebuilt (it cannot say what it is complete up to).
_FORMAT = 2
#: magic, format, sha256 of the payload, payload length, change position, database identity
_HEADER = struct.Struct("<8sI32sQQ16s")
#: The identity of no database in particular (an index never tied to one).
NO_IDENTITY = bytes(16)
#: Rows per batch when rebuilding, to bound memory while reading from the database.
_REBUILD_BATCH = 4096
#: USearch keys are unsigned 64-bit; we keep ids in the signed range so they round-trip
#: through SQL integer columns and numpy int64 unchanged.
_MAX_ID = 2**63 - 1


class VectorIndex:
    """Approximate cosine nearest neighbours over ``(id, vector)`` pairs, saved to one file.

    :param path: the index file, loaded if it exists; ``None`` keeps the index in memory.
    :param ndim: vector length; every vector added or searched must have it.
    :param dtype: how vectors are held: ``"i8"`` (default, see :data:`DEFAULT_DTYPE`),
        ``"f16"`` or ``"f32"``.
    :param rows: a callable returning every stored ``(id, vector)`` pair, called only when the
        file is missing or unreadable: the index is then rebuilt from it and saved, and
        :attr:`rebuilt` says why. Without it a missing file gives an empty index and an
        unreadable one raises :class:`VectorIndexCorruptError`.

    Raises :class:`VectorIndexError` (or a subclass) for every failure; no USearch exception
    escapes. Safe to share between threads.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        ndim: int = DIMENSIONS,
        dtype: VectorDType = DEFAULT_DTYPE,
        connectivity: int = CONNECTIVITY,
        expansion_add: int = EXPANSION_ADD,
        expansion_search: int = EXPANSION_SEARCH,
        rows: Callable[[], Iterable[Row]] | None = None,
    ) -> None:
        if ndim < 1:
            raise VectorIndexError(f"ndim must be positive, not {ndim}")
        if dtype not in ("i8", "f16", "f32"):
            raise VectorIndexError(f"dtype must be 'i8', 'f16' or 'f32', not {dtype!r}")
        self.path = path
        self.ndim = ndim
        self.dtype: VectorDType = dtype
        self._settings = {
            "connectivity": connectivity,
            "expansion_add": expansion_add,
            "expansion_search": expansion_search,
        }
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._index = self._new_usearch()
        #: The change position of storage the index is complete up to, and the database
        #: it is of (both written to the file; kept by :mod:`tidings.store.vector_follow`).
        self.position = 0
        self.identity = NO_IDENTITY
        #: Why the index was rebuilt on opening, or ``None`` if it was loaded or started empty.
        self.rebuilt: RebuildReason | None = None
        #: What was wrong with the file when it was rebuilt because of it.
        self.load_error: VectorIndexCorruptError | None = None
        if path is None:
            return
        if path.exists():
            try:
                self._load(path)
            except VectorIndexCorruptError as e:
                if rows is None:
                    raise
                log.warning("rebuilding the vector index: %s", e)
                self.load_error = e
                self.rebuilt = "corrupt"
                self.rebuild(rows())
        elif rows is not None:
            self.rebuilt = "missing"
            self.rebuild(rows())

    @property
    def expansion_search(self) -> int:
        """Candidates kept while searching (HNSW "ef"); larger finds more, slower."""
        return self._settings["expansion_search"]

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        if value < 1:
            raise VectorIndexError(f"expansion_search must be positive, not {value}")
        with self._lock:
            self._settings["expansion_search"] = value
            self._index.expansion_search = value

    # --- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return int(self._index.size)

    def __contains__(self, id: object) -> bool:
        if not isinstance(id, int | np.integer) or not 0 <= int(id) <= _MAX_ID:
            return False
        with self._lock:
            return bool(self._index.contains(int(id)))

    def search(
        self, vector: npt.ArrayLike, k: int, *, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest ids to ``vector``, most similar first, as ``(id, cosine)`` pairs.

        Ids in ``exclude`` (the article itself, ones already shown) are left out, and ``k``
        others returned if the index has them. Cosine is in [-1, 1]; with int8 storage it is
        the cosine of the quantised vectors (within 0.002 of the exact one on real embeddings).
        """
        query = self._prepare(vector, one=True)
        return self._search(query, k, [frozenset(exclude)])[0]

    def search_many(
        self,
        vectors: npt.ArrayLike,
        k: int,
        *,
        exclude: Collection[int] = (),
        exclude_each: Sequence[Collection[int]] | None = None,
        threads: int = 0,
    ) -> list[list[tuple[int, float]]]:
        """:meth:`search` for each row of ``vectors`` in one call, on ``threads`` threads
        (0: USearch uses every core).

        ``exclude`` applies to all rows; ``exclude_each`` gives one collection per row (each
        article's own id, for "articles like these"). One thread suits a few rows searched
        by a server that runs requests in parallel (a page's taste probes: on the bench's
        two-core host, four rows took 1.3 ms of CPU on one thread, 1.6 ms on every core,
        1.7 ms as four :meth:`search` calls).
        """
        queries = self._prepare(vectors, one=False)
        if exclude_each is not None and len(exclude_each) != len(queries):
            raise VectorIndexError(
                f"exclude_each has {len(exclude_each)} entries for {len(queries)} vectors"
            )
        shared = frozenset(exclude)
        excludes = (
            [shared | frozenset(each) for each in exclude_each]
            if exclude_each is not None
            else [shared] * len(queries)
        )
        return self._search(queries, k, excludes, threads=threads)

    def _search(
        self,
        queries: npt.NDArray[Any],
        k: int,
        excludes: Sequence[frozenset[int]],
        *,
        threads: int = 0,
    ) -> list[list[tuple[int, float]]]:
        if k < 1 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        with self._lock:
            size = int(self._index.size)
            if size == 0:
                return [[] for _ in range(len(queries))]
            # USearch cannot filter, so ask for as many more as could be excluded; only
            # excluded ids that are in the index can take a place among the results.
            extra = max((self._count_present(ex) for ex in set(excludes)), default=0)
            count = min(k + extra, size)
            try:
                matches = self._index.search(queries, count, threads=threads)
            except Exception as e:  # USearch raises bare RuntimeError/ValueError
                raise VectorIndexError(f"vector search failed: {e}") from e
        keys = np.asarray(matches.keys).reshape(len(queries), -1)
        distances = np.asarray(matches.distances).reshape(len(queries), -1)
        # One query comes back as Matches (already trimmed, no counts), several as BatchMatches.
        counts = getattr(matches, "counts", None)
        found = np.asarray(counts).reshape(-1) if counts is not None else [keys.shape[1]]
        results = []
        for row, exclude in enumerate(excludes):
            hits: list[tuple[int, float]] = []
            for key, distance in zip(
                keys[row, : found[row]].tolist(),
                distances[row, : found[row]].tolist(),
                strict=True,
            ):
                if key in exclude:
                    continue
                # USearch's cosine distance is 1 - cos; rounding can step just past [0, 2].
                hits.append((int(key), min(1.0, max(-1.0, 1.0 - float(distance)))))
                if len(hits) == k:
                    break
            results.append(hits)
        return results

    def _count_present(self, ids: Collection[int]) -> int:
        if not ids:
            return 0
        valid = [int(i) for i in ids if 0 <= int(i) <= _MAX_ID]
        if not valid:
            return 0
        return int(np.count_nonzero(self._index.contains(np.asarray(valid, dtype=np.uint64))))

    # --- writing ------------------------------------------------------------------------

    def add(self, ids: Sequence[int], vectors: npt.ArrayLike) -> None:
        """Store ``vectors`` (one row per id) under ``ids``, replacing any already stored."""
        keys = _keys(ids)
        rows = self._prepare(vectors, one=False)
        if len(rows) != len(keys):
            raise VectorShapeError(f"{len(keys)} ids but {len(rows)} vectors")
        if len(keys) == 0:
            return
        if len(np.unique(keys)) != len(keys):
            raise VectorIndexError("the same id appears twice in one add()")
        with self._lock:
            try:
                present = np.asarray(self._index.contains(keys), dtype=bool)
                # USearch refuses a key it already holds; replacing is remove, then add.
                if present.any():
                    self._index.remove(keys[present])
                self._index.add(keys, rows)
            except Exception as e:  # USearch raises bare RuntimeError/ValueError
                raise VectorIndexError(f"could not add vectors to the index: {e}") from e

    def remove(self, ids: Iterable[int]) -> int:
        """Forget ``ids``; ids not in the index are ignored. Returns how many were removed."""
        keys = _keys(list(ids))
        if len(keys) == 0:
            return 0
        with self._lock:
            try:
                present = keys[np.asarray(self._index.contains(keys), dtype=bool)]
                if len(present):
                    self._index.remove(present)
            except Exception as e:  # USearch raises bare RuntimeError/ValueError
                raise VectorIndexError(f"could not remove vectors from the index: {e}") from e
        return len(present)

    def rebuild(self, rows: Iterable[Row]) -> int:
        """Replace the whole index with ``rows`` and save it (if it has a path).

        The new index is built aside and swapped in, so searches go on meanwhile; but an
        :meth:`add` or :meth:`remove` made during the rebuild is lost with the old index, so
        rebuild before ingestion starts writing (as opening with ``rows=`` does). Returns the
        number of vectors indexed.
        """
        fresh = self._new_usearch()
        total = 0
        for ids, vectors in _batches(rows, _REBUILD_BATCH):
            keys = _keys(ids)
            if any(len(v) != self.ndim for v in vectors):
                raise VectorShapeError(f"a stored vector does not have {self.ndim} dimensions")
            prepared = self._prepare(np.stack(vectors), one=False)
            if len(prepared) != len(keys):
                raise VectorShapeError(f"{len(keys)} ids but {len(prepared)} vectors")
            present = np.asarray(fresh.contains(keys), dtype=bool)
            try:
                # A later row for the same id wins, as it would in a sequence of add() calls.
                _, last = np.unique(keys[::-1], return_index=True)
                keep = np.sort(len(keys) - 1 - last)
                if present.any():
                    fresh.remove(keys[present])
                fresh.add(keys[keep], prepared[keep])
            except Exception as e:  # USearch raises bare RuntimeError/ValueError
                raise VectorIndexError(f"could not rebuild the vector index: {e}") from e
            total = int(fresh.size)
        with self._lock:
            self._index = fresh
        if self.path is not None:
            self.save()
        return total

    # --- the file -----------------------------------------------------------------------

    def save(self) -> None:
        """Write the index to its file atomically (temporary file, fsync, rename)."""
        if self.path is None:
            raise VectorIndexError("this index has no file to save to")
        path = self.path
        # The save lock keeps two saves in order, so an older snapshot never lands last.
        with self._save_lock:
            with self._lock:
                try:
                    payload = bytes(self._index.save())
                except Exception as e:  # USearch raises bare RuntimeError
                    raise VectorIndexError(
                        f"could not serialise the vector index: {e}", resource=str(path)
                    ) from e
                position, identity = self.position, self.identity
            header = _HEADER.pack(
                _MAGIC,
                _FORMAT,
                hashlib.sha256(payload).digest(),
                len(payload),
                position,
                identity,
            )
            _write_atomically(path, header, payload)

    def _load(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise VectorIndexError(
                f"could not read the vector index: {e.strerror or e}", resource=str(path)
            ) from e
        payload, position, identity = _verified_payload(data, path)
        index = self._new_usearch()
        try:
            index.load(payload)
        except Exception as e:  # USearch raises bare RuntimeError
            raise VectorIndexCorruptError(
                f"the vector index file is unreadable ({e})", resource=str(path)
            ) from e
        # USearch takes dimensions, metric and scalar from the file, whatever we asked for.
        want = (self.ndim, _usearch_scalar(self.dtype), "cos")
        got = (int(index.ndim), index.dtype, str(index.metric_kind.name).lower())
        if got != want:
            raise VectorIndexCorruptError(
                f"the vector index file was built with other settings "
                f"(dimensions, dtype, metric: {got[0]}, {got[1].name}, {got[2]}; "
                f"expected {want[0]}, {want[1].name}, cos)",
                resource=str(path),
            )
        # Search breadth is not part of the file; ours applies.
        index.expansion_search = self._settings["expansion_search"]
        index.expansion_add = self._settings["expansion_add"]
        self._index = index
        self.position, self.identity = position, identity

    # --- helpers ------------------------------------------------------------------------

    def _new_usearch(self) -> Any:
        _import_onnxruntime_first()
        try:
            from usearch.index import Index
        except ImportError as e:
            raise VectorIndexError("the vector index needs usearch: pip install usearch") from e
        try:
            return Index(
                ndim=self.ndim,
                metric="cos",
                dtype=self.dtype,
                connectivity=self._settings["connectivity"],
                expansion_add=self._settings["expansion_add"],
                expansion_search=self._settings["expansion_search"],
            )
        except Exception as e:  # USearch raises bare RuntimeError/ValueError/AssertionError
            raise VectorIndexError(f"could not create the vector index: {e}") from e

    def _prepare(self, vectors: npt.ArrayLike, *, one: bool) -> npt.NDArray[Any]:
        """Check shape and values, and convert to what the index stores."""
        try:
            array = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise VectorShapeError(f"not a numeric vector: {e}") from e
        if one and array.ndim != 1:
            raise VectorShapeError(f"expected one vector of {self.ndim} values, got {array.shape}")
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or (array.shape[1] != self.ndim and array.size):
            raise VectorShapeError(
                f"expected vectors of {self.ndim} dimensions, got shape {array.shape}"
            )
        if not np.isfinite(array).all():
            raise VectorShapeError("vectors must not contain NaN or infinity")
        if self.dtype != "i8":
            return np.ascontiguousarray(array)
        return quantize(array)


def quantize(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.int8]:
    """Per-row int8: the largest magnitude maps to ±127, the rest rounded to nearest.

    Cosine ignores each row's scale, so no scale needs storing. Zero rows stay zero.
    """
    peak = np.max(np.abs(vectors), axis=1, keepdims=True) if vectors.size else vectors
    scaled = vectors * (127.0 / np.maximum(peak, 1e-30))
    return np.ascontiguousarray(np.clip(np.rint(scaled), -127, 127).astype(np.int8))


def _keys(ids: Sequence[int]) -> npt.NDArray[np.uint64]:
    if isinstance(ids, str | bytes):
        raise VectorIndexError("ids must be a sequence of integers")
    try:
        signed = np.asarray(ids, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as e:
        raise VectorIndexError(f"ids must be integers: {e}") from e
    if len(signed) and (signed < 0).any():
        raise VectorIndexError("ids must not be negative")
    return signed.astype(np.uint64)


def _import_onnxruntime_first() -> None:
    """Import ONNX Runtime (the embedding model's) before USearch, when it is installed: the
    other way round the process dies of a segmentation fault the moment ONNX Runtime is
    imported (usearch 2.26.6 and onnxruntime 1.32 on Linux x86_64, reproduced with nothing
    else loaded), and a process that opens the index may analyse articles later."""
    import importlib.util

    if "usearch.compiled" not in sys.modules and importlib.util.find_spec("onnxruntime"):
        import onnxruntime  # type: ignore[import-untyped]  # noqa: F401 (imported for order)


def _usearch_scalar(dtype: VectorDType) -> Any:
    _import_onnxruntime_first()
    from usearch.compiled import ScalarKind

    return {"i8": ScalarKind.I8, "f16": ScalarKind.F16, "f32": ScalarKind.F32}[dtype]


def _batches(
    rows: Iterable[Row], size: int
) -> Iterator[tuple[list[int], list[npt.NDArray[np.float32]]]]:
    ids: list[int] = []
    vectors: list[npt.NDArray[np.float32]] = []
    for id, vector in rows:
        ids.append(id)
        try:
            vectors.append(np.asarray(vector, dtype=np.float32).reshape(-1))
        except (TypeError, ValueError) as e:
            raise VectorShapeError(f"the stored vector of {id} is not numeric: {e}") from e
        if len(ids) == size:
            yield ids, vectors
            ids, vectors = [], []
    if ids:
        yield ids, vectors


def _verified_payload(data: bytes, path: Path) -> tuple[memoryview, int, bytes]:
    """The payload of a file, with the change position and database identity it records."""
    if len(data) >= 12 and data[:8] == _MAGIC and data[8:12] != _FORMAT.to_bytes(4, "little"):
        version = int.from_bytes(data[8:12], "little")
        raise VectorIndexCorruptError(
            f"vector index file format {version} is not one this version reads (format {_FORMAT})",
            resource=str(path),
        )
    if len(data) < _HEADER.size:
        raise VectorIndexCorruptError(
            f"the vector index file is truncated ({len(data)} bytes)", resource=str(path)
        )
    magic, version, digest, length, position, identity = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise VectorIndexCorruptError("not a Tidings vector index file", resource=str(path))
    if version != _FORMAT:
        raise VectorIndexCorruptError(
            f"vector index file format {version} is not one this version reads (format {_FORMAT})",
            resource=str(path),
        )
    # A view, not a slice: the payload is the whole file, and a copy would double the peak.
    payload = memoryview(data)[_HEADER.size :]
    if len(payload) != length:
        raise VectorIndexCorruptError(
            f"the vector index file is truncated ({len(payload)} of {length} bytes)",
            resource=str(path),
        )
    if hashlib.sha256(payload).digest() != digest:
        raise VectorIndexCorruptError(
            "the vector index file is damaged (checksum mismatch)", resource=str(path)
        )
    return payload, int(position), bytes(identity)


def _write_atomically(path: Path, *parts: bytes) -> None:
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file private (0600); keep the mode of the file being replaced,
        # else the usual 0644, so another local user serving the API can still read it.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
        tmp = None
        # The rename is durable only once the directory entry is on disk too.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise VectorIndexError(
            f"could not save the vector index: {e.strerror or e}", resource=str(path)
        ) from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
