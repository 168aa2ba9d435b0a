"""``tidings eval rank``: offline ranking evaluation on the MIND format.

MIND (Microsoft News Dataset) gives ``behaviors.tsv`` (impression id, user, time, the user's
earlier clicks, the candidates shown with ``-1`` clicked or ``-0`` not) and ``news.tsv`` (id,
category, subcategory, title, abstract, url, title and abstract entities as JSON). Each
impression's candidates are re-ranked by a :class:`Scorer` and scored with MIND's metrics
(:mod:`tidings.rank.metrics`: AUC, MRR, nDCG@5, nDCG@10 per impression, averaged).

The gated scorer is the engine's own (:class:`EngineScorer`): a
:class:`~tidings.rank.ranker.Ranker`, the object that makes every reader's page, fed MIND's
articles as :class:`~tidings.types.ArticleFacts` (:func:`article_facts`) and each reader's
history and impressions as the events the engine would have recorded; its state, weights
and scores come from the ranker's own methods. Beside it:
a random ranking (the floor), each article's click rate in earlier impressions (the data
README's ~0.61), and the evaluation's own "hybrid" (click rate, co-clicks, content, weights
learned online; kept as a reference for what the engine lacks).

No look-ahead: impressions are replayed in time order (the file is not sorted; equal times
keep file order). A scorer first scores an impression, and learns from it (``observe``) only
once every impression of that same second has been scored, so nothing it uses happened at or
after the impression's time. The history column is the reader's clicks before the
impression, so it may be used.

Streaming and memory: a first pass reads only each line's time and byte offset (16 bytes per
impression), the offsets are sorted by time, and a second pass seeks to each line, so the
behaviours are never held in memory. What grows: ``news.tsv`` (held as a dict, ~1 kB per
article with its entities: ~65k MIND-small, ~130k MIND-large), the embeddings of the
articles the replayed impressions show or hold in a history (float32, 1.5 kB each; none
with ``with_text`` False), per-article counters; :class:`EngineScorer`'s window (every
article met, ~1 kB each with its vector), per-day counts and per-reader events (bounded by
:data:`SHOWN_KEPT`); and :class:`HybridScorer`'s co-click table, the one part that
grows with the clicks (~8 pairs per click, ~100 B each: ~200 MB for MIND-small's 236k
training clicks, 1-3 GB for MIND-large's ~3.4M). Times and memory measured on a synthetic
MIND-small-sized run are in BENCHMARKS.md. MIND's test split has no labels: its impressions
are counted as unlabelled and nothing is scored.

On ``mind_subset`` only 2.8 % of candidate slots (284 of 7,457 candidates) and 588 of the
16,000 history articles have a ``news.tsv`` row, so the engine's content terms (taste, topic
and entity affinity) are nearly always absent there and its ranking rests on popularity.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import zlib
from array import array
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import platformdirs

from tidings.errors import MindFormatError
from tidings.rank.metrics import ImpressionMetrics
from tidings.store.embedding import to_bytes
from tidings.types import ArticleFacts, EventKind, ReaderEvent

#: The gated figure (the engine's scorer's AUC) and its minimum until ``baseline.json`` has
#: it: the click-rate baseline's AUC on ``mind_subset`` (the data README's ~0.61).
KEY = "rank_auc"
GATED = "engine"
DEFAULT_MINIMUM = 0.61
#: A random ranking must land here; outside it the metric or the replay is broken. With
#: ~5,000 impressions the standard error of a random AUC is ~0.004, so 0.47-0.53 is ~7 of them.
RANDOM_AUC_RANGE = (0.47, 0.53)
#: Where article embeddings are kept between runs.
CACHE_DIR = Path(platformdirs.user_cache_dir("tidings", appauthor=False)) / "mind"

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Impression:
    """One page of candidates shown to one reader."""

    #: The impression id (first column).
    id: str
    #: The reader's id.
    user: str
    #: When it was shown (MIND's times carry no zone; they are compared with each other only).
    time: datetime
    #: The reader's clicks before this impression, oldest first.
    history: tuple[str, ...]
    #: The news ids shown, in the file's order.
    candidates: tuple[str, ...]
    #: 1 where the candidate was clicked, 0 where not (MIND's test split has none: empty).
    labels: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class News:
    """One row of ``news.tsv``."""

    id: str
    category: str
    subcategory: str
    title: str
    abstract: str
    #: ``(WikidataId, label, offset)`` of the title's and then the abstract's entities: title
    #: entities at offset 0 (the headline is the lead), abstract entities at
    #: ``len(title) + 1`` plus their first offset in the abstract, as if the two were one text.
    entities: tuple[tuple[str, str, int], ...] = ()


def parse_time(text: str) -> datetime:
    """MIND's ``11/12/2019 2:14:46 PM`` (month/day/year, 12-hour clock)."""
    # strptime is ~10x slower and this runs once per impression (2.2M for MIND-large).
    try:
        date, clock, half = text.split(" ")
        month, day, year = (int(p) for p in date.split("/"))
        hour, minute, second = (int(p) for p in clock.split(":"))
        if half not in ("AM", "PM") or not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if half == "PM" else 0)
        return datetime(year, month, day, hour, minute, second)  # MIND gives no zone
    except ValueError as e:
        raise ValueError(f"not a MIND time (month/day/year h:mm:ss AM): {text!r}") from e


def parse_impression(line: str) -> Impression:
    """One line of ``behaviors.tsv``; :class:`ValueError` says what is wrong with it."""
    cols = line.rstrip("\r\n").split("\t")
    if len(cols) != 5:
        raise ValueError(f"expected 5 tab-separated columns, found {len(cols)}")
    imp_id, user, when, history, shown = cols
    candidates: list[str] = []
    labels: list[int] = []
    for item in shown.split():
        news_id, dash, label = item.rpartition("-")
        if not dash:
            # MIND's test split gives candidates without labels.
            candidates.append(item)
            continue
        if label not in ("0", "1") or not news_id:
            raise ValueError(f"candidate {item!r} is not NEWSID-0 or NEWSID-1")
        candidates.append(news_id)
        labels.append(int(label))
    if labels and len(labels) != len(candidates):
        raise ValueError("some candidates are labelled and some are not")
    if not candidates:
        raise ValueError("no candidates")
    return Impression(
        id=imp_id,
        user=user,
        time=parse_time(when),
        history=tuple(history.split()),
        candidates=tuple(candidates),
        labels=tuple(labels),
    )


def _error(path: Path, line_no: int, e: Exception) -> MindFormatError:
    return MindFormatError(f"line {line_no}: {e}", resource=str(path))


def index_impressions(path: Path, shard: tuple[int, int] | None = None) -> npt.NDArray[np.int64]:
    """Where each impression of a ``behaviors.tsv`` lies, in time order (file order among
    equal times): rows of (byte offset, line number). 16 bytes per impression.

    ``shard`` ``(k, n)`` keeps only the readers whose id hashes (CRC-32) to ``k`` modulo
    ``n``: a split of the readers, for checking that a figure holds on other readers.
    """
    if not path.is_file():
        raise MindFormatError("file not found", resource=str(path))
    seconds: array[int] = array("q")
    offsets: array[int] = array("q")
    with path.open("rb") as f:
        offset = 0
        for line_no, raw in enumerate(f, 1):
            if raw.strip():
                cols = raw.split(b"\t", 3)
                try:
                    if len(cols) < 4:
                        raise ValueError(f"expected 5 tab-separated columns, found {len(cols)}")
                    when = parse_time(cols[2].decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as e:
                    raise _error(path, line_no, e) from e
                if shard is None or zlib.crc32(cols[1]) % shard[1] == shard[0]:
                    # Seconds since 2000, exact for ordering (MIND's times are whole seconds).
                    seconds.append(int((when - _EPOCH).total_seconds()))
                    offsets.append(offset)
                    offsets.append(line_no)
            offset += len(raw)
    order = np.argsort(np.frombuffer(seconds, dtype=np.int64), kind="stable")
    pairs: npt.NDArray[np.int64] = np.frombuffer(offsets, dtype=np.int64).reshape(-1, 2)
    return pairs[order]


def read_impressions(
    path: Path, index: npt.NDArray[np.int64] | None = None, limit: int | None = None
) -> Iterator[Impression]:
    """The impressions of a ``behaviors.tsv`` in time order (file order among equal times),
    the first ``limit`` of them when given.

    Two passes (module docstring): times and offsets first (:func:`index_impressions`, or
    ``index`` when already made), then each line read where it lies, so memory is 16 bytes
    per impression whatever the file's size.
    """
    pairs = index_impressions(path) if index is None else index
    with path.open("rb") as f:
        for start, line_no in pairs[:limit].tolist():
            f.seek(start)
            try:
                yield parse_impression(f.readline().decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise _error(path, line_no, e) from e


_EPOCH = datetime(2000, 1, 1)  # MIND's times are zone-less


def read_news(path: Path) -> dict[str, News]:
    """The rows of a ``news.tsv`` by id (an absent file gives no news: scorers fall back)."""
    news: dict[str, News] = {}
    if not path.is_file():
        return news
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 5:
                raise _error(path, line_no, ValueError(f"expected 8 columns, found {len(cols)}"))
            try:
                entities = _entities(cols[6] if len(cols) > 6 else "", 0, title_only=True)
                entities += _entities(cols[7] if len(cols) > 7 else "", len(cols[3]) + 1)
            except ValueError as e:
                raise _error(path, line_no, e) from e
            news[cols[0]] = News(
                id=cols[0],
                category=cols[1],
                subcategory=cols[2],
                title=cols[3],
                abstract=cols[4],
                entities=tuple(entities),
            )
    return news


def _entities(text: str, start: int, *, title_only: bool = False) -> list[tuple[str, str, int]]:
    """MIND's entity column (a JSON list of ``{"WikidataId", "Label", "OccurrenceOffsets"}``)
    as ``(WikidataId, label, offset)``; title entities all sit at offset 0."""
    if not text.strip():
        return []
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"entity column is not JSON: {e}") from e
    if not isinstance(items, list):
        raise ValueError("entity column is not a JSON list")
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get("WikidataId"):
            continue
        offsets = item.get("OccurrenceOffsets") or [0]
        first = 0 if title_only else start + int(min(offsets))
        out.append((str(item["WikidataId"]), str(item.get("Label") or item["WikidataId"]), first))
    return out


# --- scorers ---------------------------------------------------------------------------


class Scorer(Protocol):
    """Ranks one impression's candidates, then learns from it.

    :meth:`score` is called before :meth:`observe` for an impression, and ``observe`` only
    after every impression of the same time has been scored: whatever ``observe`` learns can
    only serve later impressions. Neither raises for news it has never seen.
    """

    #: The name the report uses.
    name: str

    def score(self, impression: Impression) -> list[float]:
        """A score per candidate (higher ranks first)."""
        ...

    def observe(self, impression: Impression) -> None:
        """Learn from an impression whose labels are now known."""
        ...


class RandomScorer:
    """Uniform random scores: the floor every other scorer is read against."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)

    def score(self, impression: Impression) -> list[float]:
        return [self._random.random() for _ in impression.candidates]

    def observe(self, impression: Impression) -> None:
        """Random ranking learns nothing."""


#: Half-life of click and impression counts. News interest fades within a day or two, and a
#: long-run rate mixes a story's rise with its fall; chosen from 3, 6, 12, 24 h and no decay
#: on ``mind_subset`` (the data it is gated on: read the gate as slightly optimistic).
HALF_LIFE_HOURS = 12.0
#: Weight of the prior in impressions: a news item's own rate counts as much as the overall
#: rate after this many (decayed) impressions. Chosen from 2, 5, 10, 20 like the half-life.
PRIOR_IMPRESSIONS = 10.0
#: Rate assumed before any impression is seen (MIND's click-through rate is ~4%).
INITIAL_RATE = 0.04


@dataclass(slots=True)
class _Counts:
    clicks: float = 0.0
    shown: float = 0.0
    updated: float = 0.0
    first_seen: float = math.inf


class ClickRateScorer:
    """Each candidate's click rate in earlier impressions, shrunk towards the overall rate.

    ``(clicks + k * overall) / (shown + k)`` with :data:`PRIOR_IMPRESSIONS` as ``k``: a
    beta-binomial posterior mean whose prior is the running overall rate. Counts decay with
    :data:`HALF_LIFE_HOURS`, so a story that was hot yesterday does not outrank today's. Ties
    (news never shown before, all at the prior) are broken by recency: news first seen later
    ranks first (new news is what readers click), and never-seen news counts as new now.
    """

    name = "click_rate"

    def __init__(
        self,
        *,
        half_life_hours: float = HALF_LIFE_HOURS,
        prior_impressions: float = PRIOR_IMPRESSIONS,
    ) -> None:
        self.half_life = half_life_hours * 3600.0
        self.prior = prior_impressions
        self.counts: dict[str, _Counts] = {}
        self._clicks = 0.0
        self._shown = 0.0

    def overall_rate(self) -> float:
        # One impression's worth of INITIAL_RATE keeps the first minutes defined.
        return (self._clicks + INITIAL_RATE) / (self._shown + 1.0)

    def _decayed(self, c: _Counts, now: float) -> tuple[float, float]:
        factor = 0.5 ** ((now - c.updated) / self.half_life)
        return c.clicks * factor, c.shown * factor

    def features(self, impression: Impression) -> tuple[F64, F64, F64]:
        """Per candidate: the shrunk rate, decayed impressions, hours since first seen."""
        now = _seconds(impression.time)
        overall = self.overall_rate()
        n = len(impression.candidates)
        rate, shown, age = np.empty(n), np.empty(n), np.empty(n)
        for i, news_id in enumerate(impression.candidates):
            c = self.counts.get(news_id)
            clicks, seen = self._decayed(c, now) if c else (0.0, 0.0)
            rate[i] = (clicks + self.prior * overall) / (seen + self.prior)
            shown[i] = seen
            age[i] = (now - c.first_seen) / 3600.0 if c else 0.0
        return rate, shown, age

    def score(self, impression: Impression) -> list[float]:
        rate, _, age = self.features(impression)
        # The recency term is far below any difference in rate that counts (1e-6 per hour).
        return [float(v) for v in rate - 1e-6 * np.log1p(age)]

    def observe(self, impression: Impression) -> None:
        now = _seconds(impression.time)
        for news_id, label in zip(impression.candidates, impression.labels, strict=True):
            c = self.counts.get(news_id)
            if c is None:
                c = self.counts[news_id] = _Counts(updated=now, first_seen=now)
            clicks, shown = self._decayed(c, now)
            c.clicks, c.shown, c.updated = clicks + label, shown + 1.0, now
        self._clicks += sum(impression.labels)
        self._shown += len(impression.labels)


def _seconds(when: datetime) -> float:
    return (when - _EPOCH).total_seconds()


# --- embeddings ------------------------------------------------------------------------


def news_text(item: News) -> str:
    """What is embedded of an article: title and abstract as the engine joins them."""
    from tidings.enrich.embed import text_for_embedding

    return text_for_embedding(item.title, item.abstract, None)


def load_embeddings(
    news: dict[str, News],
    wanted: set[str] | None = None,
    *,
    cache_dir: Path | None = CACHE_DIR,
    embed: Callable[[list[str]], F32] | None = None,
) -> dict[str, F32]:
    """Unit vectors of the articles with text (of those in ``wanted``, when given).

    Cached as one ``.npy`` named by a hash of the model version and every (id, text)
    embedded, so a changed file or model never reads stale vectors. ``embed`` replaces the
    engine's embedder (tests).
    """
    ids = sorted(
        i for i, item in news.items() if (wanted is None or i in wanted) and news_text(item)
    )
    if not ids:
        return {}
    texts = [news_text(news[i]) for i in ids]
    digest = hashlib.sha256()
    try:
        from tidings.enrich.embed import MODEL_PACKAGE

        digest.update(metadata.version(MODEL_PACKAGE).encode())
    except metadata.PackageNotFoundError:
        digest.update(b"no-model")
    for news_id, text in zip(ids, texts, strict=True):
        digest.update(f"{news_id}\t{text}\n".encode())
    cache = cache_dir / f"mind-{digest.hexdigest()[:20]}.npy" if cache_dir else None
    vectors: F32 | None = None
    if cache is not None and cache.exists():
        loaded = np.load(cache)
        if loaded.shape[0] == len(ids):
            vectors = loaded.astype(np.float32)
    if vectors is None:
        if embed is None:
            from tidings.enrich.embed import Embedder

            embed = Embedder().embed
        vectors = np.asarray(embed(texts), dtype=np.float32)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            # Written under another name first: a half-written cache must never be read.
            partial = cache.with_suffix(".partial.npy")
            np.save(partial, vectors)
            partial.replace(cache)
    return {news_id: vectors[k] for k, news_id in enumerate(ids)}


# --- the personalised scorer -----------------------------------------------------------

#: Learning rate of the online listwise model (plain gradient steps); chosen from 0.002,
#: 0.005, 0.01, 0.02, 0.05 and 0.2 on ``mind_subset`` (AUC 0.618-0.625 for the first four,
#: 0.613 and 0.583 above: larger steps chase noise, smaller learn too little in 5,000
#: pages). AdaGrad steps were tried and did worse (0.617-0.622).
LEARNING_RATE = 0.01
#: L2 pull of the weights towards their starting values per update: keeps rare features
#: (content similarity exists for ~3% of candidates here) from wandering.
L2 = 1e-3
#: Names of the features, in order (the report prints the learned weights by these names).
FEATURES = (
    "ctr_logit",
    "log_popularity",
    "log_age_hours",
    "content_sim",
    "has_content",
    "category_affinity",
    "subcategory_affinity",
    "clicked_with_history",
    "co_click_rate",
)
#: Starting weights: the click-rate scorer's ranking (logit of its rate), everything else off.
INITIAL_WEIGHTS = (1.0, 0.0, -0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
#: Smoothing of category affinities: the prior is a uniform share over MIND's categories
#: (MIND has about 18 categories and 270 subcategories), and this many history items
#: weigh as much as the prior, so one or two known items do not make a reader's taste.
AFFINITY_PRIOR = 2.0
CATEGORY_PRIOR_SHARE = 1 / 18
SUBCATEGORY_PRIOR_SHARE = 1 / 270
#: Latest history items that count for co-clicks. Memory grows with the distinct (history
#: item, clicked candidate) pairs, so this bounds it: ~8 pairs per click with 10 on
#: ``mind_subset`` against ~34 with the whole history, for AUC within noise (5, 10, 20 and
#: all tried: 0.623-0.625).
CO_CLICK_HISTORY = 10
#: Earlier clicks per reader kept for the profile (MIND's histories run to hundreds; the
#: recent ones say more, and the cap bounds memory per reader).
PROFILE_CLICKS = 50


@dataclass(slots=True)
class _Profile:
    clicks: list[str] = field(default_factory=list)


class HybridScorer:
    """Click rate, content and category affinity, combined by weights learned online.

    Features per candidate (:data:`FEATURES`): the click-rate scorer's shrunk rate as a
    logit; its decayed impression count (exposure: what the site promotes); hours since the
    article was first shown; the cosine between the candidate's embedding and the mean of
    the reader's history and earlier clicks (0 when either has no text, with ``has_content``
    saying which); the reader's smoothed share of history in the candidate's category and
    subcategory (0 for news without a ``news.tsv`` row); ``clicked_with_history``, the
    share of the reader's latest :data:`CO_CLICK_HISTORY` history articles whose readers (in
    earlier impressions) clicked this candidate; and ``co_click_rate``, the log of the mean
    over those articles of the candidate's share of their readers' clicks, smoothed towards
    its click rate. The two co-click features need no text, which is what makes them count
    on ``mind_subset``.

    The weights are a listwise model (softmax over one impression's candidates, the clicked
    ones the target) trained by one gradient step per impression in :meth:`observe`; only
    differences between candidates of one page matter, as in MIND's metrics.
    """

    name = "hybrid"

    def __init__(
        self,
        news: dict[str, News],
        vectors: dict[str, F32],
        *,
        learning_rate: float = LEARNING_RATE,
        co_click_history: int = CO_CLICK_HISTORY,
        click_rate: ClickRateScorer | None = None,
    ) -> None:
        self.news = news
        self.vectors = vectors
        self.learning_rate = learning_rate
        self.co_click_history = co_click_history
        self.click_rate = click_rate or ClickRateScorer()
        self.initial = np.asarray(INITIAL_WEIGHTS, dtype=np.float64)
        self.weights = self.initial.copy()
        self.profiles: dict[str, _Profile] = defaultdict(_Profile)
        # Co-clicks: for a history article, which candidates its readers clicked (counts).
        self.co_clicks: dict[str, dict[str, int]] = defaultdict(dict)
        self.history_clicks: dict[str, int] = defaultdict(int)
        self._pending: dict[str, F64] = {}

    def _reader_items(self, impression: Impression) -> list[str]:
        earlier = self.profiles[impression.user].clicks if impression.user in self.profiles else []
        return [*impression.history[-PROFILE_CLICKS:], *earlier][-PROFILE_CLICKS:]

    def features(self, impression: Impression) -> F64:
        """The feature matrix of an impression, a row per candidate."""
        rate, shown, age = self.click_rate.features(impression)
        n = len(impression.candidates)
        x = np.zeros((n, len(FEATURES)))
        x[:, 0] = np.log(rate / (1.0 - rate))
        x[:, 1] = np.log1p(shown)
        x[:, 2] = np.log1p(age)
        items = self._reader_items(impression)
        known = [self.vectors[i] for i in items if i in self.vectors]
        profile = np.mean(known, axis=0) if known else None
        cats: dict[str, float] = defaultdict(float)
        subs: dict[str, float] = defaultdict(float)
        with_cat = 0
        for i in items:
            row = self.news.get(i)
            if row is not None:
                cats[row.category] += 1.0
                subs[row.subcategory] += 1.0
                with_cat += 1
        history = impression.history[-self.co_click_history :]
        for k, news_id in enumerate(impression.candidates):
            vector = self.vectors.get(news_id)
            if profile is not None and vector is not None:
                x[k, 3] = float(vector @ profile) / max(float(np.linalg.norm(profile)), 1e-9)
                x[k, 4] = 1.0
            row = self.news.get(news_id)
            if row is not None and with_cat:
                denominator = with_cat + AFFINITY_PRIOR
                x[k, 5] = (cats[row.category] + AFFINITY_PRIOR * CATEGORY_PRIOR_SHARE) / denominator
                x[k, 6] = (
                    subs[row.subcategory] + AFFINITY_PRIOR * SUBCATEGORY_PRIOR_SHARE
                ) / denominator
            if history:
                hits = 0
                rate_sum = 0.0
                for h in history:
                    counts = self.co_clicks.get(h)
                    if counts:
                        got = counts.get(news_id, 0)
                        hits += got > 0
                        rate_sum += (got + rate[k]) / (self.history_clicks[h] + 1.0)
                    else:
                        rate_sum += rate[k]
                x[k, 7] = hits / len(history)
                x[k, 8] = math.log(rate_sum / len(history))
            else:
                x[k, 8] = x[k, 0]
        return x

    def score(self, impression: Impression) -> list[float]:
        x = self.features(impression)
        # Kept for observe(): the features as they were before this impression was seen.
        self._pending[impression.id] = x
        return [float(v) for v in x @ self.weights]

    def observe(self, impression: Impression) -> None:
        x = self._pending.pop(impression.id, None)
        if x is None:
            x = self.features(impression)
        y = np.asarray(impression.labels, dtype=np.float64)
        if y.sum() > 0 and y.sum() < len(y):
            logits = x @ self.weights
            p = np.exp(logits - logits.max())
            p /= p.sum()
            gradient = x.T @ (p - y / y.sum()) + L2 * (self.weights - self.initial)
            self.weights -= self.learning_rate * gradient
        clicked = [c for c, label in zip(impression.candidates, y, strict=True) if label]
        if clicked:
            profile = self.profiles[impression.user]
            profile.clicks = [*profile.clicks, *clicked][-PROFILE_CLICKS:]
            for h in impression.history[-self.co_click_history :]:
                counts = self.co_clicks[h]
                for c in clicked:
                    counts[c] = counts.get(c, 0) + 1
                self.history_clicks[h] += len(clicked)
        self.click_rate.observe(impression)


# --- the engine's scorer ---------------------------------------------------------------

#: MIND names no publisher: every article comes from this one source.
MIND_SOURCE_ID = 1
MIND_SOURCE_NAME = "MIND"
#: The global weights are refitted after this many impressions, and before that after 50,
#: 100, 200, ... (doubling), so the first hours are not served by the defaults alone. A fit
#: on :data:`GLOBAL_ROWS` rows takes ~0.1 s, so refitting costs ~0.1 ms per impression.
REFIT_EVERY = 1000
FIRST_REFIT = 50
#: Candidate rows (the latest) the global weights are fitted on: bounds memory (~7 MB) and
#: fit time; ~2,600 impressions' worth, about the last hour and a half of MIND-small.
GLOBAL_ROWS = 100_000
#: Impressions (with their packed features, ~120 bytes each) kept over all readers, at
#: most ``LEARN_FROM`` per reader; past this the readers seen least recently are forgotten
#: (their MIND history column still comes with each impression): 2M is ~240 MB, every
#: MIND-small reader's and a share of MIND-large's ~700k readers'.
SHOWN_KEPT = 2_000_000
#: The window holds every MIND article the replay meets: MIND's days are its own.
MIND_SPAN = timedelta(days=365 * 100)


def mind_article_id(news_id: str) -> int:
    """A stable integer id for a MIND news id (``N12345`` is 12345)."""
    if news_id[:1] == "N" and news_id[1:].isdigit():
        return int(news_id[1:])
    return _stable_int(news_id)


def mind_entity_id(wikidata_id: str) -> int:
    """A stable integer id for a Wikidata id (``Q42`` is 42)."""
    if wikidata_id[:1] == "Q" and wikidata_id[1:].isdigit():
        return int(wikidata_id[1:])
    return _stable_int(wikidata_id)


def _stable_int(text: str) -> int:
    # Above any MIND or Wikidata number, so the two kinds of id never meet.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "big") + (1 << 60)


def mind_topics(item: News) -> tuple[tuple[str, str, float], ...]:
    """MIND's category and subcategory as the article's topics (``mind:sports``,
    ``mind:sports/football_nfl``), certain: they are the publisher's own sections."""
    topics = []
    if item.category:
        topics.append((f"mind:{item.category}", item.category, 1.0))
        if item.subcategory:
            topics.append((f"mind:{item.category}/{item.subcategory}", item.subcategory, 1.0))
    return tuple(topics)


def article_facts(
    news_id: str, item: News | None, published: datetime, vector: bytes | None = None
) -> ArticleFacts:
    """What the engine's ranking would know of a MIND article.

    MIND gives no publisher, author, body, story or time: one constant source, no body
    (``body_chars`` 0, so the teaser term is the same for every article and never reorders
    a page), no story (importance and velocity are constant too), and ``published`` is
    when the replay first saw the article shown. An article without a ``news.tsv`` row
    has only its id.
    """
    if item is None:
        return ArticleFacts(
            article_id=mind_article_id(news_id),
            source_id=MIND_SOURCE_ID,
            source_name=MIND_SOURCE_NAME,
            published=published,
            vector=vector,
        )
    seen: set[int] = set()
    entities = []
    for wikidata_id, label, offset in sorted(item.entities, key=lambda e: e[2]):
        entity_id = mind_entity_id(wikidata_id)
        if entity_id not in seen:
            seen.add(entity_id)
            entities.append((entity_id, label, offset))
    return ArticleFacts(
        article_id=mind_article_id(news_id),
        source_id=MIND_SOURCE_ID,
        source_name=MIND_SOURCE_NAME,
        title=item.title or None,
        summary=item.abstract or None,
        published=published,
        topics=mind_topics(item),
        entities=tuple(entities),
        vector=vector,
    )


@dataclass(slots=True)
class _Reader:
    #: The reader's clicks in the replay (article id, epoch seconds), oldest first (MIND's
    #: history column holds the clicks before the data's period and does not grow).
    clicks: list[tuple[int, float]] = field(default_factory=list)
    #: The candidates shown to them in earlier impressions, oldest first, at most
    #: ``LEARN_FROM`` (the engine's impression events), each with the features it was
    #: scored with, packed as the page records them (``FeedItem.features``).
    shown: deque[tuple[int, float, bytes]] = field(default_factory=deque)


class EngineScorer:
    """The engine's own ranking replayed on MIND, through the page's own code.

    A :class:`~tidings.rank.ranker.Ranker` without storage, whose window this scorer feeds
    with MIND's articles (:func:`article_facts`, in the window's own columns) as the replay
    first meets them, and with each article's readers shown and readers engaged per day as
    impressions pass (``ArticleWindow.set_engagement``, the counts storage keeps for the
    engine; MIND shows an article to a reader about once, so impressions stand for
    readers). Each reader's events are what the engine would have recorded: their MIND
    history as opens before the data's period, and the impressions and clicks of the replay
    so far. For each impression the ranker builds the reader's state
    (``Ranker.state``), takes their weights (``Ranker.reader_weights``: the global weights,
    or the reader's own fitted on their earlier impressions featurised as they were) and
    scores the candidates (``Ranker.score``): the very calls ``Ranker.page`` makes.

    The global weights are fitted (:func:`~tidings.rank.learn.global_weights`, centred
    within pages as the engine's) on the features of earlier impressions across all
    readers as they were when shown (the latest :data:`GLOBAL_ROWS` candidates), refitted
    as the replay moves on (:data:`REFIT_EVERY`).

    ``drop`` names features held at 0 (ablations); ``fit`` False keeps the default weights;
    ``per_reader`` False serves everyone the global weights; ``centre`` False fits without
    centring within pages (to measure the centring).
    """

    name = "engine"

    def __init__(
        self,
        news: dict[str, News],
        vectors: dict[str, F32],
        *,
        drop: Sequence[str] = (),
        fit: bool = True,
        per_reader: bool = True,
        centre: bool = True,
        name: str | None = None,
    ) -> None:
        from tidings.rank.learn import LEARN_FROM
        from tidings.rank.ranker import Ranker
        from tidings.rank.score import FEATURES, weight_vector
        from tidings.rank.state import HISTORY_EVENTS
        from tidings.rank.window import DIMENSIONS, ArticleWindow

        if name:
            self.name = name
        self.news = news
        # Stored as the engine stores them (int8), so the window reads what storage gives.
        self.vectors = {k: to_bytes(v) for k, v in vectors.items()}
        self.features_names = FEATURES
        unknown = set(drop) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features: {', '.join(sorted(unknown))}")
        self.keep = np.array([f not in drop for f in FEATURES], dtype=np.float64)
        self.fit = fit
        self.per_reader = per_reader
        self.learn_from = LEARN_FROM
        self.history_events = HISTORY_EVENTS
        self.default_weights = weight_vector() * self.keep
        self.ranker = Ranker(
            None,
            clock=lambda: datetime.now(UTC),
            window=ArticleWindow(
                span=MIND_SPAN,
                dimensions=len(next(iter(vectors.values()))) if vectors else DIMENSIONS,
            ),
            cache_seconds=0,
            mask=self.keep,
            centre=centre,
        )
        self.ranker.set_global_weights(self.default_weights, 0)
        self.first_shown: set[str] = set()
        self.readers: OrderedDict[str, _Reader] = OrderedDict()
        self.shown_kept = 0
        #: Readers shown and engaged per (article, day), as storage counts them.
        self.counts: dict[tuple[int, int], list[int]] = {}
        self.global_x = np.zeros((GLOBAL_ROWS, len(FEATURES)), dtype=np.float32)
        self.global_y = np.zeros(GLOBAL_ROWS, dtype=np.float32)
        self.global_page = np.zeros(GLOBAL_ROWS, dtype=np.int64)
        self.global_filled = 0
        self.global_next = 0
        self.observed = 0
        self.next_refit = FIRST_REFIT
        self.refits = 0
        self.reader_fits = 0
        self._pending: dict[str, F64] = {}

    @property
    def weights(self) -> F64:
        return self.ranker.global_weights()[0]

    # What the engine knows of an article and a reader at a given time.

    def _meet(self, news_ids: Sequence[str], published: datetime, shown: bool) -> None:
        """Put articles in the window: candidates when first shown (published then), history
        articles when first met (published before the data's period)."""
        window = self.ranker.window
        new = [
            n
            for n in dict.fromkeys(news_ids)
            if (shown and n not in self.first_shown) or mind_article_id(n) not in window
        ]
        if new:
            self.ranker.upsert(
                [article_facts(n, self.news.get(n), published, self.vectors.get(n)) for n in new]
            )
            if shown:
                self.first_shown.update(new)

    def events(self, impression: Impression) -> list[ReaderEvent]:
        """The reader's events before ``impression``, newest first, as storage would give
        them (at most ``HISTORY_EVENTS``)."""
        reader = self.readers.get(impression.user)
        out: list[ReaderEvent] = []
        if reader is not None:
            out.extend(
                ReaderEvent(kind=EventKind.OPEN, article_id=a, at=datetime.fromtimestamp(t, UTC))
                for a, t in reader.clicks
            )
            out.extend(
                ReaderEvent(
                    kind=EventKind.IMPRESSION,
                    article_id=a,
                    at=datetime.fromtimestamp(t, UTC),
                    features=features,
                )
                for a, t, features in reader.shown
            )
        before = _EPOCH.replace(tzinfo=UTC)
        out.extend(
            ReaderEvent(kind=EventKind.OPEN, article_id=mind_article_id(n), at=before)
            for n in impression.history
        )
        out.sort(key=lambda e: e.at, reverse=True)
        return out[: self.history_events]

    def scoring(self, impression: Impression) -> tuple[F64, F64]:
        """The impression's features (a row per candidate) and scores."""
        now = impression.time.replace(tzinfo=UTC)
        self._meet(impression.history, _EPOCH.replace(tzinfo=UTC), shown=False)
        self._meet(impression.candidates, now, shown=True)
        events = self.events(impression)
        state = self.ranker.state((), events, now)
        weights = self.weights
        if self.fit and self.per_reader:
            fitted = self.ranker.reader_weights(impression.user, (), events)
            self.reader_fits += fitted is not weights
            weights = fitted
        rows = self.ranker.window.rows_of([mind_article_id(c) for c in impression.candidates])
        scored = self.ranker.score(state, rows, now, weights)
        return scored.features, scored.scores

    def score(self, impression: Impression) -> list[float]:
        x, scores = self.scoring(impression)
        # Kept for observe(): the features as they were before this impression was seen.
        self._pending[impression.id] = x
        return [float(v) for v in scores]

    # Learning from an impression once its time has passed.

    def observe(self, impression: Impression) -> None:
        x = self._pending.pop(impression.id, None)
        if x is None:
            x = self.scoring(impression)[0]
        y = np.asarray(impression.labels, dtype=np.float32)
        moment = impression.time.replace(tzinfo=UTC).timestamp()
        day = int(moment // 86400)
        changed = []
        for news_id, label in zip(impression.candidates, impression.labels, strict=True):
            article_id = mind_article_id(news_id)
            counts = self.counts.setdefault((article_id, day), [0, 0])
            counts[0] += 1
            counts[1] += label
            changed.append((article_id, day, counts[0], counts[1]))
        self.ranker.window.set_engagement(changed)
        self._remember(impression, x.astype(np.float32), y, moment)
        self.observed += 1
        if self.fit and self.observed >= self.next_refit:
            self.refit()
            self.next_refit = min(2 * self.observed, self.observed + REFIT_EVERY)

    def _remember(self, impression: Impression, x: F32, y: F32, moment: float) -> None:
        from tidings.rank.learn import pack_features

        n = len(y)
        # A ring buffer of the latest rows.
        slots = (self.global_next + np.arange(n)) % GLOBAL_ROWS
        self.global_x[slots] = x
        self.global_y[slots] = y
        self.global_page[slots] = self.observed
        self.global_next = int(slots[-1] + 1) % GLOBAL_ROWS
        self.global_filled = min(self.global_filled + n, GLOBAL_ROWS)
        reader = self.readers.get(impression.user)
        if reader is None:
            reader = self.readers[impression.user] = _Reader()
        self.readers.move_to_end(impression.user)
        ids = [mind_article_id(c) for c in impression.candidates]
        reader.clicks.extend((a, moment) for a, v in zip(ids, y, strict=True) if v)
        del reader.clicks[: -self.history_events]
        packed = [pack_features(row, self.features_names) for row in x]
        reader.shown.extend((a, moment, f) for a, f in zip(ids, packed, strict=True))
        self.shown_kept += len(ids)
        while len(reader.shown) > self.learn_from:
            reader.shown.popleft()
            self.shown_kept -= 1
        while self.shown_kept > SHOWN_KEPT and len(self.readers) > 1:
            _, forgotten = self.readers.popitem(last=False)
            self.shown_kept -= len(forgotten.shown)

    def refit(self) -> None:
        """Fit the global weights on the latest rows, the default weights as the prior."""
        from tidings.rank.learn import Rows, global_weights

        n = self.global_filled
        if n == 0:
            return
        rows = Rows(
            self.global_x[:n].astype(np.float64),
            self.global_y[:n].astype(np.float64),
            self.global_page[:n].copy(),
        )
        fitted = global_weights(rows, self.default_weights, centre=self.ranker.centre)
        if fitted is None:
            return
        self.refits += 1
        self.ranker.set_global_weights(fitted * self.keep, self.refits)

    def learned_weights(self) -> dict[str, float]:
        """The current global weights by feature name."""
        return dict(zip(self.features_names, self.weights.round(4).tolist(), strict=True))


# --- the harness -----------------------------------------------------------------------


#: The engine's terms that can differ between the candidates of one MIND page (MIND has no
#: follows, sources, authors, stories or bodies, so the others are the same for all).
ABLATIONS = ("popularity", "freshness", "taste", "topic_affinity", "entity_affinity", "clickbait")
#: Impressions between two calls of a replay's progress callback.
PROGRESS_EVERY = 1000


def replay(
    impressions: Iterator[Impression],
    scorers: Sequence[Scorer],
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score every labelled impression with every scorer, learning only from the past;
    ``progress`` is called with the impressions read so far every :data:`PROGRESS_EVERY`."""
    metrics = {s.name: ImpressionMetrics() for s in scorers}
    # Per-impression AUC gain over the click-rate baseline (paired: same impressions), as a
    # running mean and sum of squares, so the report can say whether a gain is noise.
    gain = {s.name: [0, 0.0, 0.0] for s in scorers if s.name != ClickRateScorer.name}
    has_reference = ClickRateScorer.name in metrics
    seconds = dict.fromkeys(metrics, 0.0)
    pending: list[Impression] = []
    candidates = clicks = unlabelled = 0

    def observe_pending() -> None:
        for s in scorers:
            started = time.perf_counter()
            for imp in pending:
                s.observe(imp)
            seconds[s.name] += time.perf_counter() - started
        pending.clear()

    for read, imp in enumerate(impressions, 1):
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
        if not imp.labels:
            unlabelled += 1
            continue
        if pending and imp.time != pending[0].time:
            observe_pending()
        aucs: dict[str, float] = {}
        for s in scorers:
            started = time.perf_counter()
            scores = s.score(imp)
            seconds[s.name] += time.perf_counter() - started
            aucs[s.name] = metrics[s.name].add(imp.labels, scores)
        reference = aucs.get(ClickRateScorer.name, math.nan)
        if has_reference and not math.isnan(reference):
            for name, g in gain.items():
                d = aucs[name] - reference
                g[0], g[1], g[2] = int(g[0]) + 1, g[1] + d, g[2] + d * d
        candidates += len(imp.candidates)
        clicks += sum(imp.labels)
        pending.append(imp)
    observe_pending()
    first = next(iter(metrics.values()))
    scored = {name: {**m.means(), "seconds": seconds[name]} for name, m in metrics.items()}
    for name, (n, total, squares) in gain.items():
        if has_reference and n > 1:
            mean = total / n
            spread = math.sqrt(max(squares / n - mean * mean, 0.0) / (n - 1))
            scored[name]["auc_gain_over_click_rate"] = mean
            scored[name]["auc_gain_standard_error"] = spread
    return {
        "impressions": first.impressions,
        "candidates": candidates,
        "clicks": clicks,
        "unlabelled_impressions": unlabelled,
        "skipped_auc": first.skipped_auc,
        "scorers": scored,
    }


def evaluate(
    data_dir: Path,
    *,
    scorers: Sequence[Scorer] | None = None,
    cache_dir: Path | None = CACHE_DIR,
    embed: Callable[[list[str]], F32] | None = None,
    with_text: bool = True,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    ablations: bool = False,
) -> dict[str, Any]:
    """Replay ``behaviors.tsv`` in ``data_dir`` through ``scorers`` (by default random,
    click rate, hybrid and the engine's) and report MIND's four metrics for each.

    ``ablations`` adds the engine's scorer without each of its terms that vary within a
    MIND page (:data:`ABLATIONS`), with the default weights unfitted, without readers' own
    weights, and with the global weights fitted within pages.

    Only the articles the replayed impressions show or hold in a history are embedded
    (none with ``with_text`` False). ``limit`` replays the first impressions in time order
    only; ``shard`` ``(k, n)`` only a split of the readers (:func:`index_impressions`);
    ``progress`` is called with (impressions read, impressions to read).
    """
    behaviors = data_dir / "behaviors.tsv"
    started = time.perf_counter()
    index = index_impressions(behaviors, shard)[:limit]
    news = read_news(data_dir / "news.tsv")
    vectors: dict[str, F32] = {}
    if scorers is None:
        if with_text:
            wanted = _referenced_news(behaviors, index)
            vectors = load_embeddings(news, wanted, cache_dir=cache_dir, embed=embed)
        scorers = [
            RandomScorer(0),
            ClickRateScorer(),
            HybridScorer(news, vectors),
            EngineScorer(news, vectors),
        ]
        if ablations:
            scorers += [
                *(EngineScorer(news, vectors, drop=[f], name=f"engine -{f}") for f in ABLATIONS),
                EngineScorer(news, vectors, fit=False, name="engine default weights"),
                EngineScorer(news, vectors, per_reader=False, name="engine global weights only"),
                EngineScorer(news, vectors, centre=False, name="engine fitted across pages"),
            ]
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    total = len(index)
    report = replay(
        read_impressions(behaviors, index),
        scorers,
        progress=(lambda n: progress(n, total)) if progress else None,
    )
    report.update(
        {
            "news_rows": len(news),
            "news_embedded": len(vectors),
            "load_seconds": load_seconds,
            "replay_seconds": time.perf_counter() - started,
        }
    )
    if shard is not None:
        report["shard"] = f"{shard[0]} of {shard[1]}"
    for s in scorers:
        if isinstance(s, HybridScorer):
            report["hybrid_weights"] = dict(zip(FEATURES, s.weights.round(4).tolist(), strict=True))
        if isinstance(s, EngineScorer):
            report[f"{s.name}_global_weights"] = s.learned_weights()
            report[f"{s.name}_refits"] = s.refits
            report[f"{s.name}_reader_fits"] = s.reader_fits
    return report


def _referenced_news(behaviors: Path, index: npt.NDArray[np.int64]) -> set[str]:
    # Only articles shown or in a history are worth embedding (284 + 588 of 2,000 here).
    wanted: set[str] = set()
    # Undecodable bytes are only replaced here: read_impressions reports them with the line.
    with behaviors.open("rb") as f:
        for start, _ in index.tolist():
            f.seek(start)
            cols = f.readline().decode("utf-8", errors="replace").rstrip("\r\n").split("\t")
            if len(cols) == 5:
                wanted.update(cols[3].split())
                wanted.update(item.rpartition("-")[0] or item for item in cols[4].split())
    return wanted


def summary_line(report: dict[str, Any], minimums: dict[str, float]) -> tuple[str, bool]:
    """One line: the engine's AUC against its minimum, random inside its range, then every
    scorer's figures; and whether both hold."""
    minimum = minimums.get(KEY, DEFAULT_MINIMUM)
    s = report["scorers"]
    if GATED in s:
        engine = s[GATED]["auc"]
        ok = bool(engine >= minimum)
        parts = [f"engine AUC {engine:.4f} {'>=' if ok else '< '} {minimum:.2f}"]
    else:
        ok, parts = False, ["no engine scorer in the report"]
    low, high = RANDOM_AUC_RANGE
    if "random" in s:
        random_ok = bool(low <= s["random"]["auc"] <= high)
        ok = ok and random_ok
        parts.append(
            f"random AUC {s['random']['auc']:.4f} {'in' if random_ok else 'NOT in'} "
            f"{low:.2f}-{high:.2f}"
        )
    for name, m in s.items():
        if "auc_gain_over_click_rate" in m and name != "random":
            parts.append(
                f"{name} - click rate {m['auc_gain_over_click_rate']:+.4f} "
                f"(standard error {m['auc_gain_standard_error']:.4f})"
            )
    for name, m in s.items():
        parts.append(
            f"{name}: AUC {m['auc']:.4f}, MRR {m['mrr']:.4f}, nDCG@5 {m['ndcg@5']:.4f}, "
            f"nDCG@10 {m['ndcg@10']:.4f}"
        )
    return f"rank: {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok
