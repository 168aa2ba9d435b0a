"""How alike two news texts are: the embedding cosine corrected by what the words say.

The cosine of two MiniLM vectors (:mod:`tidings.enrich.embed`) ranks news pairs against human
judgement at Spearman 0.72 on the STS Benchmark news pairs, and the model goes no higher: fp32
scores the same. What it misses is mostly lexical: two long paraphrases that differ in one
number or name (MSRpar), or headlines that share every word but the one that matters. So the
score here is a small gradient-boosted tree model (``data/similarity.json``) over the cosine
and a handful of surface features of the pair (:func:`pair_features`): word, content-word,
word-bigram and character n-gram overlap, containment, number and capitalised-name agreement
and lengths. It is fitted on the STS Benchmark train split only, by
:mod:`tidings.enrich.similarity_train`, and scored on the dev split by ``tidings eval
similarity``.

No vocabulary or idf table is shipped: an idf-weighted overlap fitted on train added 0.003 to
the cross-validated Spearman and would tie the model to the train split's words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Embedder, Vector

#: Highest score on the STS Benchmark's scale (5: the two texts mean the same).
GOLD_MAX = 5.0

_WORD = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)*")
#: A capitalised word: names, places and organisations, plus a sentence's first word (which
#: the other text usually starts with too, so it costs little).
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]+")
#: Function words left out of the content-word features: English articles, pronouns,
#: auxiliaries and prepositions, plus "said"/"says", which news attaches to any quote.
_STOP_WORDS = (
    "a an the of to in on at for by with from and or but is are was were be been being it its "
    "this that these those as he she they we you i his her their our has have had do does did "
    "not no will would can could should may might than then there here which who whom whose "
    "what when where why how all any some such so also into over under about after before up "
    "down out off s said says"
)
_STOP = frozenset(_STOP_WORDS.split())
#: Suffixes cut by :func:`_stem`, longest first.
_SUFFIXES = ("ing", "ed", "es", "s")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _stem(word: str) -> str:
    """A crude stem: enough to match "rise", "rises", "rising" and "prices", "priced" within a
    pair without a stemmer dependency; it only has to agree with itself, not be a word."""
    for suffix in _SUFFIXES:
        # Keep at least three letters so "bus" or "was" are not cut to nothing.
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    # "rise" and "ris(ing)" meet once a final e goes.
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _jaccard(a: set[Any], b: set[Any]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _char_grams(text: str, n: int) -> set[str]:
    flat = " ".join(text.lower().split())
    return {flat[i : i + n] for i in range(len(flat) - n + 1)}


def feature_names() -> list[str]:
    """Names of the columns :func:`pair_features` returns, in order."""
    return [
        "cosine",
        "word_jaccard",
        "content_jaccard",
        "content_containment_small",
        "content_containment_large",
        "char3_jaccard",
        "char5_jaccard",
        "content_letters_overlap",
        "bigram_jaccard",
        "number_jaccard",
        "numbers_unshared",
        "name_jaccard",
        "names_unshared",
        "words_short",
        "words_long",
        "length_ratio",
        "content_unshared",
    ]


def pair_features(first: str, second: str, cosine: float) -> list[float]:
    """The model's input for one pair: ``cosine`` of their vectors and surface features.

    Symmetric in ``first`` and ``second``. Every feature is defined for empty texts (two empty
    sets overlap fully), so any pair of strings gives a row.
    """
    w1, w2 = _words(first), _words(second)
    s1, s2 = {_stem(w) for w in w1}, {_stem(w) for w in w2}
    # Stop words are dropped before stemming, which would turn "were" into "wer".
    c1 = {_stem(w) for w in w1 if w not in _STOP}
    c2 = {_stem(w) for w in w2 if w not in _STOP}
    shared = c1 & c2
    if c1 and c2:
        small = len(shared) / min(len(c1), len(c2))
        large = len(shared) / max(len(c1), len(c2))
    else:
        small = large = 1.0 if not c1 and not c2 else 0.0
    # Longer words are rarer words; weighting shared content words by their letters is a
    # vocabulary-free stand-in for idf weighting.
    letters = sum(len(w) for w in c1 | c2)
    n1 = {w for w in w1 if w[0].isdigit()}
    n2 = {w for w in w2 if w[0].isdigit()}
    names1 = {m.lower() for m in _CAPITALISED.findall(first)}
    names2 = {m.lower() for m in _CAPITALISED.findall(second)}
    short, long = sorted((len(w1), len(w2)))
    return [
        float(cosine),
        _jaccard(s1, s2),
        _jaccard(c1, c2),
        small,
        large,
        _jaccard(_char_grams(first, 3), _char_grams(second, 3)),
        _jaccard(_char_grams(first, 5), _char_grams(second, 5)),
        sum(len(w) for w in shared) / letters if letters else 1.0,
        _jaccard(set(pairwise(w1)), set(pairwise(w2))),
        _jaccard(n1, n2),
        float(len(n1 ^ n2)),
        _jaccard(names1, names2),
        float(len(names1 ^ names2)),
        float(short),
        float(long),
        short / long if long else 1.0,
        float(len(c1 ^ c2)),
    ]


class SimilarityModel:
    """Scores how alike pairs of texts are, on a 0-1 scale fitted to human judgement.

    The shipped JSON is parsed once per process; texts are embedded with ``embedder`` only
    when :meth:`score` is not given their vectors.

    :param embedder: used for texts without vectors; a new :class:`Embedder` by default (free
        to make: the model loads on first use).
    :param data: a model as written by :mod:`tidings.enrich.similarity_train`; the shipped
        ``data/similarity.json`` by default.
    """

    def __init__(
        self, *, embedder: Embedder | None = None, data: dict[str, Any] | None = None
    ) -> None:
        data = data if data is not None else _shipped()
        if list(data["features"]) != feature_names():
            raise RuntimeError("similarity.json does not match the pair features; retrain it")
        trees = data["trees"]
        width = max(len(t["feature"]) for t in trees)

        def table(key: str, dtype: type[Any], fill: float) -> npt.NDArray[Any]:
            # Trees padded to one width so all of them step down a level in one numpy call.
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, t in enumerate(trees):
                out[i, : len(t[key])] = t[key]
            return out

        self._feature = table("feature", np.int64, 0)
        self._threshold = table("threshold", np.float64, 0.0)
        self._left = table("left", np.int64, -1)
        self._right = table("right", np.int64, -1)
        self._value = table("value", np.float64, 0.0)
        self._depth = int(data["depth"])
        self._init = float(data["init"])
        self._rate = float(data["rate"])
        self._embedder = embedder

    def predict(self, rows: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The model's raw output for rows of :func:`pair_features`, on the gold 0-5 scale.

        Not clipped: a few pairs land slightly outside 0-5, and their order still means
        something to a ranking.
        """
        # scikit-learn compares features as float32 against float64 thresholds; doing the same
        # keeps a feature sitting exactly on a threshold on the side it was trained on.
        x = np.asarray(rows, dtype=np.float32).astype(np.float64)
        if x.ndim != 2 or x.shape[1] != len(feature_names()):
            raise ValueError(f"rows must have shape (n, {len(feature_names())})")
        n_trees = self._feature.shape[0]
        tree = np.arange(n_trees)[:, None]
        node = np.zeros((n_trees, len(x)), dtype=np.int64)
        cols = np.arange(len(x))[None, :]
        for _ in range(self._depth):
            left = self._left[tree, node]
            goes_left = x[cols, self._feature[tree, node]] <= self._threshold[tree, node]
            step = np.where(goes_left, left, self._right[tree, node])
            node = np.where(left >= 0, step, node)  # leaves stay put
        out: npt.NDArray[np.float64] = self._init + self._rate * self._value[tree, node].sum(0)
        return out

    def score(
        self,
        pairs: Sequence[tuple[str, str]],
        vectors: tuple[Vector, Vector] | None = None,
    ) -> npt.NDArray[np.float64]:
        """Similarity of each ``(first, second)`` text pair, float64 in [0, 1].

        1 means the texts say the same thing, 0 that they are about different things; the
        value is the model's estimate of the STS Benchmark's 0-5 human score divided by 5 and
        clipped. ``vectors`` are the unit vectors of the first and of the second texts (rows
        matching ``pairs``, from :meth:`Embedder.embed`); without them the texts are embedded.
        """
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        if vectors is None:
            embedder = self._embedder = self._embedder or Embedder()
            vectors = (
                embedder.embed([p[0] for p in pairs]),
                embedder.embed([p[1] for p in pairs]),
            )
        first, second = vectors
        if first.shape != second.shape or len(first) != len(pairs):
            raise ValueError("vectors must be two arrays with one row per pair")
        cosine = np.sum(first.astype(np.float64) * second, axis=1)
        rows = [pair_features(a, b, c) for (a, b), c in zip(pairs, cosine.tolist(), strict=True)]
        scaled: npt.NDArray[np.float64] = np.clip(self.predict(rows) / GOLD_MAX, 0.0, 1.0)
        return scaled


@cache
def _shipped() -> dict[str, Any]:
    raw = resources.files("tidings").joinpath("data/similarity.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data
