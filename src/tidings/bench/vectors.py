"""``tidings bench vectors``: recall and speed of the vector index, beside exact search.

The vectors are real: MiniLM embeddings (``tidings.enrich.embed``) of the 567 ECB+ articles
(sentences joined, then cut by ``text_for_embedding`` as an article would be), the AG News
titles with descriptions, and the distinct sentences of the STS Benchmark's ``main-news``
rows. Embedding them takes a minute or two on two cores, so they are cached in the temporary
folder under a name derived from the texts and the embedding model's version.

Two sets are measured:

* ``real``: the real vectors alone (~11,700).
* ``scaled``: the real vectors plus ``copies`` noisy copies of each one that is not a query
  (~108,000 with 9), to see recall at the size of a year of news. A copy is its source plus
  Gaussian noise drawn with the real vectors' own covariance (so it stays in the subspace
  embeddings occupy, rather than spreading over all 384 directions as isotropic noise
  would), scaled so that a copy's median cosine to its source equals the median cosine
  between a real vector and its nearest real neighbour, then renormalised. Copies thus sit as
  close to their source as real neighbours sit to each other, and crowd every neighbourhood
  ten times over. Queries get no copies of their own, which would make their top k trivially
  easy to find.

Queries are ``queries`` real vectors drawn at random (fixed seed), searched in the index that
holds them with themselves excluded, as "articles like this" does. The truth is exact cosine
by numpy over float32. Recall@k is the share of the exact top k found. The peer is that exact
numpy search, timed one query at a time and as one batch, in the same run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.bench.cluster import machine
from tidings.store.vectors import (
    CONNECTIVITY,
    EXPANSION_ADD,
    EXPANSION_SEARCH,
    VectorDType,
    VectorIndex,
)

F32 = npt.NDArray[np.float32]

#: Search breadths (HNSW "ef") swept for every scalar type.
EXPANSIONS = (16, 32, 64, 128, 256)
#: Graph settings compared with the defaults, int8 only, at the breadths that matter.
GRAPH_VARIANTS: tuple[tuple[int, int], ...] = ((32, EXPANSION_ADD), (CONNECTIVITY, 256))
#: Rounds of the one-query-at-a-time timing; the fastest counts (the least disturbed).
ROUNDS = 3
#: Where embeddings are cached between runs (``cache_dir=None`` turns the cache off).
CACHE_DIR = Path(tempfile.gettempdir())
#: Queries the peer answers one at a time per round (it is slow at 100k; its per-query cost
#: does not depend on which queries).
PEER_SINGLE_QUERIES = 200


def load_texts(data_dir: Path) -> dict[str, list[str]]:
    """The benchmark texts by source: ``ecbplus``, ``ag_news``, ``sts_news``."""
    from tidings.enrich.embed import text_for_embedding

    texts: dict[str, list[str]] = {"ecbplus": [], "ag_news": [], "sts_news": []}
    docs = data_dir / "ecbplus" / "docs.jsonl"
    for line in docs.read_text("utf-8").splitlines():
        if line.strip():
            body = " ".join(json.loads(line)["sentences"])
            texts["ecbplus"].append(text_for_embedding(None, None, body))
    for path in sorted((data_dir / "ag_news").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                # AG News writes line breaks inside descriptions as a backslash.
                texts["ag_news"].append(text_for_embedding(row[1], row[2].replace("\\", " "), ""))
    seen: set[str] = set()
    for path in sorted((data_dir / "sts_news").glob("*.csv")):
        for line in path.read_text("utf-8").splitlines():
            cols = line.split("\t")
            if len(cols) < 7 or cols[0] != "main-news":
                continue
            for sentence in cols[5:7]:
                sentence = " ".join(sentence.split())
                if sentence and sentence not in seen:
                    seen.add(sentence)
                    texts["sts_news"].append(sentence)
    if not any(texts.values()):
        raise FileNotFoundError(f"no ecbplus, ag_news or sts_news data under {data_dir}")
    return texts


def load_vectors(texts: Sequence[str], cache_dir: Path | None) -> F32:
    """Embed ``texts``, or read the embeddings cached by an earlier run."""
    from tidings.enrich.embed import MODEL_PACKAGE, Embedder

    digest = hashlib.sha256()
    digest.update(metadata.version(MODEL_PACKAGE).encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    cache = None
    if cache_dir is not None:
        cache = cache_dir / f"tidings-bench-vectors-{digest.hexdigest()[:16]}.npy"
        if cache.exists():
            cached: F32 = np.load(cache).astype(np.float32)
            if cached.shape[0] == len(texts):
                return cached
    vectors = Embedder().embed(list(texts))
    if cache is not None:
        # Written under another name first: a half-written cache must never be read.
        partial = cache.with_suffix(".partial.npy")
        np.save(partial, vectors)
        partial.replace(cache)
    return vectors


def exact_top_k(base: F32, queries: F32, query_ids: npt.NDArray[np.int64], k: int) -> Any:
    """Exact top-``k`` row numbers by cosine for each query, its own row left out."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        sims = queries[start : start + 256] @ base.T
        sims[np.arange(len(sims)), query_ids[start : start + 256]] = -np.inf
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start : start + 256] = np.take_along_axis(top, order, axis=1)
    return out


def perturbed_copies(real: F32, copies: int, cosine: float, seed: int) -> tuple[F32, float]:
    """``copies`` noisy copies of every row (see the module docstring) and their median
    cosine to their source."""
    rng = np.random.default_rng(seed)
    centred = real - real.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    # Noise ~ N(0, covariance of the real vectors): a standard normal through the square root
    # of the covariance, whose squared length averages trace(cov).
    root = (singular / np.sqrt(len(real) - 1))[:, None] * vt
    trace = float((singular**2).sum() / (len(real) - 1))
    # |v| = 1 and v.noise ~ 0, so cos(v, v + s*noise) ~ 1 / sqrt(1 + s^2 trace).
    scale = np.sqrt((1.0 / cosine**2 - 1.0) / trace)
    parts = []
    for _ in range(copies):
        noise = rng.standard_normal((len(real), len(singular))).astype(np.float32) @ root
        noisy = real + np.float32(scale) * noise.astype(np.float32)
        parts.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    out = np.concatenate(parts).astype(np.float32)
    achieved = float(np.median(np.einsum("ij,ij->i", out[: len(real)], real)))
    return out, achieved


def median_nearest_cosine(vectors: F32, sample: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    nearest = exact_top_k(vectors, vectors[rows], rows.astype(np.int64), 1)[:, 0]
    return float(np.median(np.einsum("ij,ij->i", vectors[rows], vectors[nearest])))


def _time_peer(base: F32, queries: F32, query_ids: npt.NDArray[np.int64], k: int) -> dict[str, Any]:
    def one(q: int) -> None:
        sims = base @ queries[q]
        sims[query_ids[q]] = -np.inf
        top = np.argpartition(-sims, k)[:k]
        top[np.argsort(-sims[top])]

    n = min(PEER_SINGLE_QUERIES, len(queries))
    best = np.inf
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for q in range(n):
            one(q)
        best = min(best, time.perf_counter() - start)
    start = time.perf_counter()
    exact_top_k(base, queries, query_ids, k)
    batch = time.perf_counter() - start
    return {"search_qps": n / best, "batch_qps": len(queries) / batch}


def measure_index(
    base: F32,
    queries: F32,
    query_ids: npt.NDArray[np.int64],
    truth: Any,
    *,
    k: int,
    dtype: VectorDType,
    connectivity: int,
    expansion_add: int,
    expansions: Sequence[int],
) -> list[dict[str, Any]]:
    """Build one index over ``base`` and measure every search breadth in ``expansions``."""
    index = VectorIndex(None, dtype=dtype, connectivity=connectivity, expansion_add=expansion_add)
    ids = np.arange(len(base), dtype=np.int64)
    start = time.perf_counter()
    for at in range(0, len(base), 10_000):
        # In slices, as ingestion adds: one call per batch of new articles.
        index.add(ids[at : at + 10_000].tolist(), base[at : at + 10_000])
    add_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "index.tidx"
        index.path = file
        start = time.perf_counter()
        index.save()
        save_seconds = time.perf_counter() - start
        file_bytes = file.stat().st_size
        start = time.perf_counter()
        VectorIndex(file, dtype=dtype)
        load_seconds = time.perf_counter() - start
    ceiling = _exact_recall_of_stored(base, queries, query_ids, truth, dtype, k)
    rows = []
    for ef in expansions:
        index.expansion_search = ef
        best = np.inf
        found: list[list[tuple[int, float]]] = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            found = [
                index.search(queries[q], k, exclude=(int(query_ids[q]),))
                for q in range(len(queries))
            ]
            best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        index.search_many(queries, k, exclude_each=[(int(i),) for i in query_ids])
        batch_seconds = time.perf_counter() - start
        hits = sum(
            len({i for i, _ in got} & set(want.tolist()))
            for got, want in zip(found, truth, strict=True)
        )
        errors = [
            abs(sim - float(base[i] @ queries[q])) for q, got in enumerate(found) for i, sim in got
        ]
        rows.append(
            {
                "dtype": dtype,
                "connectivity": connectivity,
                "expansion_add": expansion_add,
                "expansion_search": ef,
                f"recall_at_{k}": hits / (len(queries) * k),
                "exact_recall_of_stored": ceiling,
                "search_qps": len(queries) / best,
                "batch_qps": len(queries) / batch_seconds,
                "add_per_second": len(base) / add_seconds,
                "save_seconds": save_seconds,
                "load_seconds": load_seconds,
                "bytes_per_vector": file_bytes / len(base),
                "max_similarity_error": max(errors, default=0.0),
            }
        )
    return rows


def _exact_recall_of_stored(
    base: F32,
    queries: F32,
    query_ids: npt.NDArray[np.int64],
    truth: Any,
    dtype: VectorDType,
    k: int,
) -> float:
    """Recall@k of an exhaustive search over the vectors as stored (int8, float16): the
    ceiling the graph search can reach, so that rounding and graph misses are told apart."""
    from tidings.store.vectors import quantize

    def stored(v: F32) -> F32:
        if dtype == "i8":
            v = quantize(v).astype(np.float32)
        elif dtype == "f16":
            v = v.astype(np.float16).astype(np.float32)
        out: F32 = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
        return out

    found = exact_top_k(stored(base), stored(queries), query_ids, k)
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, truth, strict=True))
    return hits / (len(queries) * k)


def measure_usearch_cast(
    base: F32, queries: F32, query_ids: npt.NDArray[np.int64], truth: Any, *, k: int, ef: int
) -> float:
    """Recall@k when USearch itself turns float32 into int8 (what ``dtype='i8'`` alone does)."""
    from usearch.index import Index

    index = Index(ndim=base.shape[1], metric="cos", dtype="i8", expansion_search=ef)
    index.add(np.arange(len(base), dtype=np.uint64), base)
    matches = index.search(queries, k + 1)
    hits = 0
    for q, want in enumerate(truth):
        got = [int(i) for i in matches.keys[q] if int(i) != int(query_ids[q])][:k]
        hits += len(set(got) & set(want.tolist()))
    return hits / (len(queries) * k)


def run(
    data_dir: Path,
    *,
    copies: int = 9,
    queries: int = 1000,
    k: int = 10,
    dtypes: Sequence[VectorDType] = ("i8", "f16", "f32"),
    expansions: Sequence[int] = EXPANSIONS,
    cache_dir: Path | None = CACHE_DIR,
    seed: int = 0,
    only: Collection[str] = ("real", "scaled"),
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Measure recall@k and throughput on the ``real`` and ``scaled`` sets; see the module.

    ``copies=0`` or ``only=("real",)`` measures the real set only. ``echo`` receives progress
    lines (``None``: quiet).
    """

    def say(message: str) -> None:
        if echo is not None:
            echo(message)

    texts = load_texts(data_dir)
    all_texts = [t for part in texts.values() for t in part]
    say(f"embedding {len(all_texts)} texts (cached in {cache_dir})")
    real = load_vectors(all_texts, cache_dir)
    rng = np.random.default_rng(seed)
    query_ids = rng.choice(len(real), size=min(queries, len(real)), replace=False)
    query_ids = query_ids.astype(np.int64)
    near = median_nearest_cosine(real, 2000, seed)
    sets: dict[str, tuple[F32, dict[str, Any]]] = {}
    if "real" in only:
        sets["real"] = (real, {})
    if copies > 0 and "scaled" in only:
        # No copies of the queries themselves: a query's own copies would fill its top k and
        # sit right beside it in the graph, which makes the search easy (recall 0.996 at
        # ef=16 in a first run). Its neighbourhood is made of other articles' copies instead.
        sources = np.setdiff1d(np.arange(len(real)), query_ids)
        noisy, achieved = perturbed_copies(real[sources], copies, near, seed)
        sets["scaled"] = (
            np.concatenate([real, noisy]),
            {"copies": copies, "copy_to_source_median_cosine": achieved},
        )
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "usearch_version": metadata.version("usearch"),
        "texts": {name: len(part) for name, part in texts.items()},
        "real_median_nearest_cosine": near,
        "k": k,
        "defaults": {
            "connectivity": CONNECTIVITY,
            "expansion_add": EXPANSION_ADD,
            "expansion_search": EXPANSION_SEARCH,
        },
        "sets": {},
    }
    for name, (base, extra) in sets.items():
        qv = base[query_ids]
        say(f"{name}: {len(base)} vectors, {len(qv)} queries: exact truth")
        truth = exact_top_k(base, qv, query_ids, k)
        entry: dict[str, Any] = {"vectors": len(base), "queries": len(qv), **extra}
        entry["peer"] = _time_peer(base, qv, query_ids, k)
        rows: list[dict[str, Any]] = []
        for dtype in dtypes:
            say(f"{name}: {dtype}")
            rows += measure_index(
                base, qv, query_ids, truth, k=k, dtype=dtype, connectivity=CONNECTIVITY,
                expansion_add=EXPANSION_ADD, expansions=expansions,
            )  # fmt: skip
        if "i8" in dtypes:
            for connectivity, expansion_add in GRAPH_VARIANTS:
                say(f"{name}: i8, connectivity {connectivity}, expansion_add {expansion_add}")
                rows += measure_index(
                    base, qv, query_ids, truth, k=k, dtype="i8", connectivity=connectivity,
                    expansion_add=expansion_add,
                    expansions=[e for e in expansions if 32 <= e <= 128],
                )  # fmt: skip
            entry["usearch_i8_cast_recall"] = measure_usearch_cast(
                base, qv, query_ids, truth, k=k, ef=EXPANSION_SEARCH
            )
        for row in rows:
            row["search_ratio"] = row["search_qps"] / entry["peer"]["search_qps"]
            row["batch_ratio"] = row["batch_qps"] / entry["peer"]["batch_qps"]
        entry["rows"] = rows
        result["sets"][name] = entry
    return result


def format_report(r: dict[str, Any]) -> str:
    k = r["k"]
    lines = [
        f"vector index benchmark, {r['date']}, {r['machine']}, usearch {r['usearch_version']}",
        f"  texts: {r['texts']}; real median nearest-neighbour cosine "
        f"{r['real_median_nearest_cosine']:.3f}",
    ]
    for name, entry in r["sets"].items():
        peer = entry["peer"]
        head = f"{name}: {entry['vectors']:,} vectors, {entry['queries']} queries"
        if "copies" in entry:
            head += (
                f" ({entry['copies']} noisy copies per real vector, copy-to-source median "
                f"cosine {entry['copy_to_source_median_cosine']:.3f})"
            )
        lines += [
            "",
            head,
            f"  exact numpy peer: {peer['search_qps']:,.0f} queries/s one at a time, "
            f"{peer['batch_qps']:,.0f} queries/s batched",
            f"  {'dtype':5} {'M':>3} {'efA':>4} {'ef':>4} {'recall@' + str(k):>10} "
            f"{'q/s':>8} {'x peer':>7} {'batch q/s':>10} {'x peer':>7} {'adds/s':>8} "
            f"{'B/vec':>6} {'max sim err':>11} {'exact@stored':>12}",
        ]
        for row in entry["rows"]:
            lines.append(
                f"  {row['dtype']:5} {row['connectivity']:>3} {row['expansion_add']:>4} "
                f"{row['expansion_search']:>4} {row[f'recall_at_{k}']:>10.4f} "
                f"{row['search_qps']:>8,.0f} {row['search_ratio']:>7.1f} "
                f"{row['batch_qps']:>10,.0f} {row['batch_ratio']:>7.1f} "
                f"{row['add_per_second']:>8,.0f} {row['bytes_per_vector']:>6.0f} "
                f"{row['max_similarity_error']:>11.4f} {row['exact_recall_of_stored']:>12.4f}"
            )
        if "usearch_i8_cast_recall" in entry:
            lines.append(
                f"  i8 cast by USearch itself (no per-vector scale), ef "
                f"{r['defaults']['expansion_search']}: recall@{k} "
                f"{entry['usearch_i8_cast_recall']:.4f}"
            )
    return "\n".join(lines)
