"""Learning the ranking weights, for each reader and for everyone. Pure.

Both fits are logistic regressions of engagement on the features of what a reader was shown
(:func:`fit_weights`): the global weights on a sample of readers' impressions, pulled toward
the judged defaults, and each reader's own on their latest :data:`LEARN_FROM` impressions,
pulled toward the global ones (which alone serve a reader with fewer than
:data:`LEARN_AFTER`).

**Features as they were.** Learning reads each past impression with the features it had
when it was shown (:func:`impression_rows`). A page's items carry the features they were
scored with (``FeedItem.features``, :func:`pack_features`), and the page records them with
its impressions, so most rows are exactly what the ranker saw. An impression recorded
without them (a program using the API, or one from before they were kept) is featurised
with the reader's state as it was before it was shown: their follows and mutes of that
time, their events before it, and popularity without their own part. Featurising it with
today's state, as the engine did before, let the click being predicted leak into its own
features (an article read counts in the topic affinity that then "predicts" its reading).
To bound that cost, those impressions are cut into at most :data:`CHUNKS` runs in time
order, each featurised with the state before its first impression: no row sees anything
from its own time or later.

**Within pages.** A feed, like MIND's metrics, only ever compares the candidates of one page,
so each page's features are centred before fitting (:func:`centre_within_pages`): what is
learned is what makes one candidate beat its neighbours, not what made a page's candidates
as a whole more clickable. Measured on MIND (`tidings eval rank --ablations`, BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import json
import math
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tidings.rank.state import (
    ReaderState,
    Seen,
    as_of,
    engaged,
    engaged_columns,
    reader_state,
)
from tidings.store.base import EVENT_CODES, EventColumns
from tidings.types import EventKind, Interest, ReaderEvent

Floats = npt.NDArray[np.float64]

#: How strongly a reader's own weights are pulled toward the global ones (L2, in units of
#: impressions' log-likelihood): about this many impressions of evidence move a weight by
#: its own size.
PRIOR_STRENGTH = 20.0
#: Impressions a reader's own weights are learned from (the newest), and how many it takes
#: before they are: with fewer, the global weights serve them.
LEARN_FROM = 500
LEARN_AFTER = 20
#: Runs a reader's impressions are cut into, each featurised with the state before it: 4
#: keeps a cold fit of 500 impressions to four state builds and feature matrices (16 cost
#: a page 57 ms of CPU at 100,000 articles, `tidings bench feed`), and no row sees anything
#: from its own time or later whatever the count.
CHUNKS = 4
#: Impressions less than this many seconds after the one before belong to the same page.
PAGE_GAP_SECONDS = 60.0
#: Readers ``tidings learn`` samples: 200 readers' 500 impressions are 100,000 rows, plenty
#: for 17 weights.
LEARN_READERS = 200
#: The stored model of global weights.
GLOBAL_MODEL = "rank-weights"
#: Whether fits centre each page's features (module docstring).
CENTRE_WITHIN_PAGES = True

#: What featurises some articles for a reader state at a moment (epoch seconds): the
#: ranker's :meth:`~tidings.rank.ranker.Ranker.features_of` (ids it cannot featurise, such
#: as removed articles, are left out of the returned ids).
Featurizer = Callable[[ReaderState, Sequence[int], float], tuple[Floats, Sequence[int]]]


@dataclass(frozen=True, slots=True)
class Rows:
    """Impressions as a fit sees them: features, whether engaged, and the page of each."""

    features: Floats
    labels: Floats
    #: One number per page (impressions shown together): rows of a page share it.
    pages: npt.NDArray[np.int64]
    #: The impressions among these recorded without the features they were shown with
    #: (before features were stored, or under other features), with the features they were
    #: given here, or None for those whose article could not be featurised (removed since):
    #: a caller with storage keeps them (:data:`UNFEATURISABLE` for the latter), so each is
    #: featurised once.
    unrecorded: tuple[tuple[ReaderEvent, Floats | None], ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def concatenate(parts: Iterable[Rows], width: int) -> Rows:
        found = [p for p in parts if len(p)]
        if not found:
            return Rows(np.zeros((0, width)), np.zeros(0), np.zeros(0, dtype=np.int64))
        pages, offset = [], 0
        for p in found:
            pages.append(p.pages + offset)
            offset += int(p.pages.max()) + 1
        return Rows(
            np.vstack([p.features for p in found]),
            np.concatenate([p.labels for p in found]),
            np.concatenate(pages),
        )


#: What an impression whose article could not be featurised is kept with: nothing to learn
#: from, and nothing to try again.
UNFEATURISABLE = b""
#: Packed features: a format byte, the number of values and a checksum of the feature
#: names, so that rows packed under another set of features are never read as these.
_PACKED = struct.Struct("<BHI")
_PACKED_FORMAT = 1


def _names_check(names: Sequence[str]) -> int:
    return zlib.crc32("\x1f".join(names).encode())


def pack_features(row: Floats, names: Sequence[str]) -> bytes:
    """A feature row as stored with an impression (float32 after a small header)."""
    values = np.asarray(row, dtype=np.float32)
    return _PACKED.pack(_PACKED_FORMAT, len(values), _names_check(names)) + values.tobytes()


@functools.cache
def _header(names: tuple[str, ...]) -> bytes:
    return _PACKED.pack(_PACKED_FORMAT, len(names), _names_check(names))


def packed_for(data: bytes | None, names: Sequence[str]) -> bool:
    """Whether ``data`` is a row :func:`pack_features` wrote for these features."""
    return (
        data is not None
        and len(data) == _PACKED.size + 4 * len(names)
        and data.startswith(_header(tuple(names)))
    )


def unpack_features(data: bytes | None, names: Sequence[str]) -> Floats | None:
    """The row :func:`pack_features` wrote, or None when there is none or it was written
    for other features (they changed since)."""
    if not data or len(data) < _PACKED.size:
        return None
    kind, count, check = _PACKED.unpack_from(data)
    if kind != _PACKED_FORMAT or count != len(names) or check != _names_check(names):
        return None
    if len(data) != _PACKED.size + 4 * count:
        return None
    values: Floats = np.frombuffer(data, dtype=np.float32, offset=_PACKED.size).astype(np.float64)
    return values


def impression_rows(
    interests: Sequence[Interest],
    events: Sequence[ReaderEvent],
    seen: Mapping[int, Seen],
    featurize: Featurizer,
    *,
    names: Sequence[str],
) -> Rows:
    """A reader's latest :data:`LEARN_FROM` impressions as rows, each with the features it
    was shown with, or else featurised with the state the reader had before it (module
    docstring). ``events`` newest first."""
    width = len(names)
    impressions = [e for e in events if e.kind is EventKind.IMPRESSION][:LEARN_FROM]
    if not impressions:
        return Rows(np.zeros((0, width)), np.zeros(0), np.zeros(0, dtype=np.int64))
    liked = {e.article_id for e in events if engaged(e)}
    ordered = sorted(impressions, key=lambda e: (e.at, e.article_id))
    # Pages: impressions recorded together were shown together (the web page records a
    # page's at one moment; a program may stamp each as it shows it, seconds apart).
    page_of: dict[datetime, int] = {}
    page = -1
    previous: datetime | None = None
    for e in ordered:
        if previous is None or (e.at - previous).total_seconds() > PAGE_GAP_SECONDS:
            page += 1
        page_of[e.at] = page
        previous = e.at
    features_parts: list[Floats] = []
    labels: list[float] = []
    pages: list[int] = []
    # Rows packed for these features are checked by their header, then read as one array
    # (unpacking each was most of a refit's time).
    stored = [e for e in ordered if packed_for(e.features, names)]
    if stored:
        packed = b"".join(e.features[_PACKED.size :] for e in stored if e.features is not None)
        values = np.frombuffer(packed, dtype=np.float32).reshape(-1, width)
        features_parts.append(values.astype(np.float64))
        labels.extend(float(e.article_id in liked) for e in stored)
        pages.extend(page_of[e.at] for e in stored)
    unrecorded: list[tuple[ReaderEvent, Floats | None]] = []
    recorded = {id(e) for e in stored}
    ordered = [e for e in ordered if id(e) not in recorded and e.features != UNFEATURISABLE]
    size = math.ceil(len(ordered) / CHUNKS) if ordered else 1
    start = 0
    while start < len(ordered):
        stop = min(start + size, len(ordered))
        # A run never splits a page: its rows share one state.
        while stop < len(ordered) and ordered[stop].at == ordered[stop - 1].at:
            stop += 1
        run = ordered[start:stop]
        moment = run[0].at
        state = reader_state(*as_of(interests, events, moment), seen, moment, habits=False)
        features, kept = featurize(state, [e.article_id for e in run], moment.timestamp())
        row_of = {a: i for i, a in enumerate(kept)}
        chosen = [e for e in run if e.article_id in row_of]
        if chosen:
            part = features[[row_of[e.article_id] for e in chosen]]
            features_parts.append(part)
            labels.extend(float(e.article_id in liked) for e in chosen)
            pages.extend(page_of[e.at] for e in chosen)
            unrecorded.extend(zip(chosen, part, strict=True))
        unrecorded.extend((e, None) for e in run if e.article_id not in row_of)
        start = stop
    if not features_parts:
        return Rows(np.zeros((0, width)), np.zeros(0), np.zeros(0, dtype=np.int64))
    return Rows(
        np.vstack(features_parts),
        np.array(labels),
        np.array(pages, dtype=np.int64),
        tuple(unrecorded),
    )


def stored_impression_rows(events: EventColumns, *, names: Sequence[str]) -> Rows | None:
    """:func:`impression_rows` from columns, when each of the impressions it reads was
    recorded with features packed for ``names`` (or as :data:`UNFEATURISABLE`): the same
    rows in the same order, without an object per event. None when some impression needs
    featurising (:func:`impression_rows` does that)."""
    width = len(names)
    empty = Rows(np.zeros((0, width)), np.zeros(0), np.zeros(0, dtype=np.int64))
    where = np.flatnonzero(events.kind == EVENT_CODES[EventKind.IMPRESSION])[:LEARN_FROM]
    if not len(where):
        return empty
    micros = events.at[where].astype(np.int64)
    ids = events.article_id[where]
    # As impression_rows orders them: by time, then article, ties as they came (stable).
    order = np.lexsort((ids, micros))
    micros, ids = micros[order], ids[order]
    features = [events.features[i] for i in where[order].tolist()]
    packed = [packed_for(f, names) for f in features]
    if not all(p or f == UNFEATURISABLE for p, f in zip(packed, features, strict=True)):
        return None
    # A new page after a gap of more than PAGE_GAP_SECONDS (timedelta.total_seconds's
    # division, correctly rounded as numpy's is).
    gaps = (np.diff(micros) / 1e6) > PAGE_GAP_SECONDS
    page = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    keep = np.flatnonzero(np.asarray(packed, dtype=np.bool_))
    if not len(keep):
        return empty
    joined = b"".join(f[_PACKED.size :] for f, p in zip(features, packed, strict=True) if p and f)
    values = np.frombuffer(joined, dtype=np.float32).reshape(-1, width)
    liked = np.unique(events.article_id[engaged_columns(events)])
    return Rows(
        values.astype(np.float64),
        np.isin(ids[keep], liked).astype(np.float64),
        page[keep],
    )


def centre_within_pages(features: Floats, pages: npt.NDArray[np.int64]) -> Floats:
    """Each row minus the mean of its page's rows."""
    if not len(features):
        return features
    _, index = np.unique(pages, return_inverse=True)
    sums = np.zeros((int(index.max()) + 1, features.shape[1]))
    np.add.at(sums, index, features)
    counts = np.bincount(index).astype(np.float64)[:, None]
    centred: Floats = features - (sums / counts)[index]
    return centred


def fit_weights(
    features: Floats,
    labels: Floats,
    prior: Floats,
    *,
    pages: npt.NDArray[np.int64] | None = None,
    strength: float = PRIOR_STRENGTH,
    iterations: int = 25,
) -> Floats:
    """Logistic regression of engagement on the features of what was shown, pulled toward
    ``prior`` with an L2 penalty of ``strength``. With few events the prior dominates, so a
    new reader's page is the global model's; with hundreds, their own habits take over.
    Newton steps on the penalised log-likelihood; an intercept absorbs the overall click
    rate. With ``pages``, features are centred per page (module docstring)."""
    n, k = features.shape
    if n == 0:
        return prior.copy()
    if pages is not None:
        features = centre_within_pages(features, pages)
    x = np.hstack([features, np.ones((n, 1))])
    target = np.append(prior, 0.0)
    w = target.copy()
    w[-1] = np.log((labels.mean() + 1e-3) / (1 - labels.mean() + 1e-3))
    penalty = np.full(k + 1, strength)
    penalty[-1] = 1e-6  # the intercept is free
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - labels) + penalty * (w - target)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    fitted: Floats = w[:-1]
    return fitted


def personal_weights(rows: Rows, prior: Floats, *, centre: bool = CENTRE_WITHIN_PAGES) -> Floats:
    """A reader's own weights from their impression rows, or ``prior`` while they have fewer
    than :data:`LEARN_AFTER` or never engaged with any."""
    if len(rows) < LEARN_AFTER or not rows.labels.any():
        return prior
    return fit_weights(rows.features, rows.labels, prior, pages=rows.pages if centre else None)


def global_weights(
    rows: Rows, defaults: Floats, *, centre: bool = CENTRE_WITHIN_PAGES
) -> Floats | None:
    """The global weights from many readers' rows, pulled toward ``defaults``; None when
    the rows cannot tell engagement apart (none, or all alike)."""
    if not len(rows) or rows.labels.min() == rows.labels.max():
        return None
    pages = rows.pages if centre else None
    return fit_weights(rows.features, rows.labels, defaults, pages=pages)


def encode_model(names: Sequence[str], weights: Floats) -> str:
    """The stored form of learned weights."""
    return json.dumps({"features": list(names), "weights": [float(w) for w in weights]})


def decode_model(payload: str, names: Sequence[str], defaults: Floats) -> Floats:
    """Weights from :func:`encode_model`'s form, by feature name: features it lacks keep
    their default, names it has that ranking no longer knows are ignored. Raises ValueError
    for a payload that is not such a model."""
    try:
        learned = json.loads(payload)
        pairs = zip(learned["features"], learned["weights"], strict=True)
        weights = defaults.copy()
        index = {name: i for i, name in enumerate(names)}
        for name, value in pairs:
            if name in index and math.isfinite(float(value)):
                weights[index[name]] = float(value)
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"not a stored ranking model: {e}") from e
    return weights
