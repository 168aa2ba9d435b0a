"""Near-duplicates: syndicated copies and light rewrites of one article, linked, never deleted.

Pure decision logic, no I/O. Each article gets a :func:`signature`, a MinHash of its
:func:`shingles` (normalised word n-grams) that is stored beside it. A
:class:`DuplicateIndex` holds the signatures of recent articles in a MinHash LSH index
(datasketch's :class:`~datasketch.MinHashLSH`) and answers "which stored articles is this one
a copy of?" in two steps:

1. candidates: articles whose LSH bands collide with the new one, kept when their estimated
   Jaccard similarity of shingles reaches :data:`JACCARD_THRESHOLD`: the same words in the
   same order, which is what copying leaves behind and independent reporting does not;
2. confirmation: when both articles have an embedding, their cosine must also reach
   :data:`COSINE_THRESHOLD`. Word overlap alone can be fooled by shared boilerplate (a long
   legal footer on two short notices); meaning is not.

Matches are links (:func:`duplicate_groups` gives each article the root of its group, the
lowest id, which is the earliest stored): the copies stay in the store, and a page can fold
them under the first.

How the constants were chosen: with ``tidings eval duplicates`` (``tidings.eval.duplicates``)
on the 567 ECB+ news articles and two generated syndication variants of each, against
all other pairs and especially pairs of different articles about the same event; the sweep
numbers are given beside each constant.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash, MinHashLSH  # type: ignore[import-untyped]
from datasketch.hashfunc import sha1_hash32  # type: ignore[import-untyped]

Vector = npt.NDArray[np.float32]
HashValues = npt.NDArray[np.uint32]

# How the constants were chosen: ``tidings.eval.duplicates.sweep`` on 1,701 texts (567 ECB+
# articles, a generated copy and rewrite of each; 1,701 duplicate pairs against 1.44 million
# other pairs, 28 thousand of them different articles on the same event). F1 is over pairs.

#: Words per shingle. Best F1 of each size (128 permutations, even LSH weights, threshold
#: swept 0.2-0.6 by 0.05, words only): 2 words 0.982 (at 0.40), 3 words 0.982 (0.30), 4 words
#: 0.972 (0.20), 5 words 0.968 (0.20); with the recall-leaning LSH weights below, 2 words
#: 0.986 with 16 same-event false positives, 3 words 0.987 with 9. Each replaced word breaks
#: ``n`` shingles, so long shingles lose light rewrites; 2-word ones ("on monday", "the
#: police") are shared more by different articles on one event.
SHINGLE_WORDS = 3
#: MinHash permutations (4 bytes each in a signature). Best F1 at 3 words, even LSH weights:
#: 64 permutations 0.963, 128 0.982, 256 0.986. The estimate's standard error at J = 0.33
#: is ``sqrt(J(1-J)/128)`` = 0.04; doubling it buys 0.003 F1 for twice the bytes and hashing.
NUM_PERM = 128
#: Seed of datasketch's permutations; any fixed value, fixed forever, because signatures made
#: with different seeds cannot be compared.
SEED = 1
#: Estimated Jaccard similarity of 3-word shingles from which two articles are copies. F1
#: (same-event false positives) at 0.275: 0.982 (32), 0.30: 0.987 (9), 0.325: 0.986 (2),
#: 0.35: 0.981 (0), 0.375: 0.976 (0), 0.40: 0.968 (0). A broad top; of its two best points the
#: one that hides fewer distinct same-event articles. For scale (exact Jaccard, median):
#: copies of one article 0.87, rewrites 0.59, a copy against a rewrite 0.53; different
#: same-event articles that share no wire copy stay below 0.3.
JACCARD_THRESHOLD = 0.325
#: Cosine of embeddings a candidate must also reach when both have vectors. The true
#: duplicate pairs have cosines from 0.68 (median 0.95), so a cut at 0.6 costs no recall; at
#: 3 words and 0.325 F1 is 0.986 for any cut from 0.3 to 0.6, 0.986 at 0.7, 0.982 at 0.8,
#: 0.916 at 0.9. What it removes is the false match words alone make on boilerplate: two
#: one-line briefs (an election in Turkmenistan, a Mafia boss in Palermo) under one shared
#: newsletter footer reach Jaccard 0.33 at cosine 0.09. Different articles on one event
#: read alike to the model (cosine 0.88-0.92 for the two same-event false positives left),
#: so the embedding is a guard, not the judge.
COSINE_THRESHOLD = 0.6
#: Weights of retrieving a pair below the threshold against missing one above it, with which
#: datasketch picks the LSH bands and rows. Candidates are checked against the Jaccard
#: estimate anyway, so a stray candidate costs one comparison while a missed pair is lost.
#: F1 at 3 words and 0.325: even weights 0.977, (0.2, 0.8) 0.982, (0.05, 0.95) 0.986.
LSH_WEIGHTS = (0.05, 0.95)

#: The signature byte layout written by :func:`signature` (version 1), little-endian:
#: ``B`` format version (1), ``B`` words per shingle, ``H`` number of permutations,
#: ``I`` seed, then that many ``uint32`` minimum hash values (datasketch's "affine32"
#: scheme over :func:`datasketch.hashfunc.sha1_hash32` of each UTF-8 shingle). With the
#: defaults a signature is 8 + 4 x 128 = 520 bytes.
_FORMAT = 1
_HEADER = struct.Struct("<BBHI")
_SCHEME = "affine32"
#: The hash value of an empty MinHash slot: an empty text has only these.
_EMPTY = np.uint32(0xFFFFFFFF)

_WORD = re.compile(r"\w+")


def normalise_words(text: str) -> list[str]:
    """The words of ``text`` as shingles see them: NFKC, case-folded, punctuation dropped.

    Punctuation and spacing differ between copies of one story (curly against straight
    quotes, ``"20 - 13"`` against ``"20-13"``, a tokeniser's spaces before commas), so only
    runs of letters and digits count.
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, *, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of ``size``-word runs of ``text`` (:func:`normalise_words`), space-joined.

    A text of fewer than ``size`` words is one shingle of all its words; an empty text has
    none.
    """
    if size < 1:
        raise ValueError("a shingle has at least one word")
    words = normalise_words(text)
    if not words:
        return set()
    return {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


class _Hasher:
    """A MinHash whose permutations are drawn once per process, not once per article."""

    def __init__(self, num_perm: int, seed: int) -> None:
        self.num_perm = num_perm
        self.seed = seed
        self._template = MinHash(num_perm=num_perm, seed=seed, hashfunc=sha1_hash32, scheme=_SCHEME)

    def hash_values(self, items: Iterable[str]) -> HashValues:
        m = self._template.copy()
        m.update_batch([s.encode("utf-8") for s in items])
        values: HashValues = np.asarray(m.hashvalues, dtype=np.uint32)
        return values


_HASHERS: dict[tuple[int, int], _Hasher] = {}


def _hasher(num_perm: int, seed: int) -> _Hasher:
    key = (num_perm, seed)
    if key not in _HASHERS:
        _HASHERS[key] = _Hasher(num_perm, seed)
    return _HASHERS[key]


def signature_of(
    items: Iterable[str],
    *,
    shingle_words: int = SHINGLE_WORDS,
    num_perm: int = NUM_PERM,
    seed: int = SEED,
) -> bytes:
    """The signature of a set of shingles; ``shingle_words`` is only recorded in the header."""
    values = _hasher(num_perm, seed).hash_values(items)
    return _HEADER.pack(_FORMAT, shingle_words, num_perm, seed) + values.astype("<u4").tobytes()


def signature(text: str) -> bytes:
    """The stored signature of an article's text (its title and body, as the caller joins them).

    Comparable across runs, processes and machines: the permutations come from the fixed
    :data:`SEED` (numpy's frozen ``RandomState``), the shingle hash is SHA-1, and the byte
    layout is fixed (see ``_HEADER``). The "affine32" scheme is datasketch 2's; datasketch 1
    made different values, so stored signatures must be remade if that ever changes.
    """
    return signature_of(shingles(text))


class SignatureInfo(NamedTuple):
    """What a signature's header says it was made with."""

    shingle_words: int
    num_perm: int
    seed: int


def read_signature(data: bytes) -> tuple[SignatureInfo, HashValues]:
    """The header and hash values of a signature; ``ValueError`` when it is not one."""
    if len(data) < _HEADER.size:
        raise ValueError("not a duplicate signature: too short")
    version, words, num_perm, seed = _HEADER.unpack_from(data)
    if version != _FORMAT:
        raise ValueError(f"unknown duplicate signature format {version}")
    if len(data) != _HEADER.size + 4 * num_perm:
        raise ValueError(f"duplicate signature of {len(data)} bytes, expected {num_perm} values")
    values: HashValues = np.frombuffer(data, dtype="<u4", offset=_HEADER.size).astype(np.uint32)
    return SignatureInfo(words, num_perm, seed), values


def jaccard_estimate(a: HashValues, b: HashValues) -> float:
    """The MinHash estimate of the Jaccard similarity of two shingle sets (share of equal slots)."""
    return float(np.count_nonzero(a == b)) / len(a)


class Duplicate(NamedTuple):
    """A confirmed near-duplicate found by :meth:`DuplicateIndex.find`."""

    #: The stored article the query is a near-copy of.
    other_id: int
    #: Estimated Jaccard similarity of the two articles' shingle sets.
    jaccard: float
    #: Cosine of their embeddings; ``None`` when either has no vector (then not checked).
    cosine: float | None


class _Entry(NamedTuple):
    values: HashValues
    vector: Vector | None


class DuplicateIndex:
    """An in-memory index of stored signatures that finds confirmed near-duplicates.

    Build it from what the store holds with :meth:`build`, then keep it in step with
    :meth:`add` and :meth:`remove`. Every signature must have the index's shingle size,
    permutations and seed (``ValueError`` otherwise): signatures made differently cannot be
    compared. Not thread-safe; guard it with a lock when shared.

    :param jaccard_threshold: estimated Jaccard similarity from which an LSH candidate counts;
        also sets datasketch's bands and rows (weighted by :data:`LSH_WEIGHTS`).
    :param cosine_threshold: embedding cosine a candidate must reach when both have vectors.
    """

    def __init__(
        self,
        *,
        jaccard_threshold: float = JACCARD_THRESHOLD,
        cosine_threshold: float = COSINE_THRESHOLD,
        shingle_words: int = SHINGLE_WORDS,
        num_perm: int = NUM_PERM,
        seed: int = SEED,
    ) -> None:
        if not 0.0 < jaccard_threshold <= 1.0:
            raise ValueError("jaccard_threshold must be in (0, 1]")
        self.jaccard_threshold = jaccard_threshold
        self.cosine_threshold = cosine_threshold
        self.info = SignatureInfo(shingle_words, num_perm, seed)
        self._lsh: Any = MinHashLSH(
            threshold=jaccard_threshold, num_perm=num_perm, weights=LSH_WEIGHTS
        )
        self._entries: dict[int, _Entry] = {}

    @classmethod
    def build(
        cls,
        stored: Iterable[tuple[int, bytes, Vector | None]],
        **params: Any,
    ) -> DuplicateIndex:
        """An index of stored ``(article_id, signature, vector or None)`` triples."""
        index = cls(**params)
        for article_id, signature, vector in stored:
            index.add(article_id, signature, vector)
        return index

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    def _values(self, signature: bytes) -> HashValues:
        info, values = read_signature(signature)
        if info != self.info:
            raise ValueError(f"signature made with {info}, the index holds {self.info}")
        return values

    def _lean(self, values: HashValues) -> Any:
        return LeanMinHash(seed=self.info.seed, hashvalues=values, scheme=_SCHEME)

    def add(self, article_id: int, signature: bytes, vector: Vector | None = None) -> None:
        """Index an article; an id already held is replaced (re-enrichment is not an error)."""
        values = self._values(signature)
        self.remove(article_id)
        self._entries[article_id] = _Entry(values, vector)
        # An empty text (no words) is a duplicate of nothing: all its slots are equal to every
        # other empty text's, so it stays out of the LSH buckets.
        if not np.all(values == _EMPTY):
            self._lsh.insert(article_id, self._lean(values), check_duplication=False)

    def remove(self, article_id: int) -> None:
        """Forget an article; nothing happens when it is not held."""
        entry = self._entries.pop(article_id, None)
        if entry is not None and article_id in self._lsh:
            self._lsh.remove(article_id)

    def find(
        self, article_id: int | None, signature: bytes, vector: Vector | None = None
    ) -> list[Duplicate]:
        """The held articles that ``signature`` (and ``vector``) is a confirmed near-duplicate of.

        ``article_id`` is the query's own id when it is held (it is left out of the answer),
        or ``None`` for an article not yet added. Best first: by Jaccard estimate, then id.
        """
        values = self._values(signature)
        if np.all(values == _EMPTY):
            return []
        found: list[Duplicate] = []
        for other in self._lsh.query(self._lean(values)):
            if other == article_id:
                continue
            entry = self._entries[other]
            jaccard = jaccard_estimate(values, entry.values)
            # LSH bands also let through pairs below the threshold; the estimate decides.
            if jaccard < self.jaccard_threshold:
                continue
            cosine: float | None = None
            if vector is not None and entry.vector is not None:
                cosine = float(np.dot(vector, entry.vector))
                if cosine < self.cosine_threshold:
                    continue
            found.append(Duplicate(int(other), jaccard, cosine))
        found.sort(key=lambda d: (-d.jaccard, d.other_id))
        return found


def duplicate_groups(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Each id in ``pairs`` mapped to the root of its group: the lowest id linked to it.

    Groups are the connected components of the pairs, so a chain of copies (A copied by B,
    B lightly rewritten by C) is one group even when A and C alone would not match: all
    versions of one wire story fold under its earliest copy.
    """
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps chains short
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            # The lower id stays root, so the root is always the group's minimum.
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}
