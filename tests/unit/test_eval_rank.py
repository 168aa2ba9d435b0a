"""The engine's scorer replayed on the MIND format (:class:`tidings.eval.rank.EngineScorer`):
MIND rows as the engine's article facts, no look-ahead, popularity within the engine's
window, learned weights, and the command's options."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tidings.cli import cli
from tidings.eval.rank import (
    GATED,
    EngineScorer,
    Impression,
    News,
    article_facts,
    evaluate,
    index_impressions,
    mind_article_id,
    mind_entity_id,
    read_news,
    replay,
    summary_line,
)
from tidings.rank.ranker import Ranker
from tidings.rank.score import FEATURE_INDEX, weight_vector
from tidings.rank.state import POPULARITY_WINDOW
from tidings.rank.window import epoch

TITLE_ENTITIES = [{"Label": "Joe Biden", "WikidataId": "Q6279", "OccurrenceOffsets": [0]}]
ABSTRACT_ENTITIES = [
    {"Label": "Iowa", "WikidataId": "Q1546", "OccurrenceOffsets": [12, 40]},
    {"Label": "Joe Biden", "WikidataId": "Q6279", "OccurrenceOffsets": [3]},
    {"Label": "No id", "WikidataId": "", "OccurrenceOffsets": [1]},
]


def _news_line(news_id: str, category: str, title: str, abstract: str = "") -> str:
    return (
        f"{news_id}\t{category}\t{category}_sub\t{title}\t{abstract}\thttps://x\t"
        f"{json.dumps(TITLE_ENTITIES)}\t{json.dumps(ABSTRACT_ENTITIES)}\n"
    )


def test_news_rows_become_the_engines_article_facts(tmp_path: Path) -> None:
    path = tmp_path / "news.tsv"
    path.write_text(_news_line("N12", "news", "Biden in Iowa", "An abstract"), encoding="utf-8")
    item = read_news(path)["N12"]
    # Title entities at 0; abstract entities after the title and a separator.
    assert item.entities == (
        ("Q6279", "Joe Biden", 0),
        ("Q1546", "Iowa", len("Biden in Iowa") + 1 + 12),
        ("Q6279", "Joe Biden", len("Biden in Iowa") + 1 + 3),
    )
    when = datetime(2019, 11, 12, 9)
    facts = article_facts("N12", item, when)
    assert facts.article_id == 12 == mind_article_id("N12")
    assert facts.topics == (("mind:news", "news", 1.0), ("mind:news/news_sub", "news_sub", 1.0))
    # One entity once, at its first offset; Wikidata's number is the id.
    assert facts.entities == ((6279, "Joe Biden", 0), (1546, "Iowa", 26))
    assert facts.title == "Biden in Iowa" and facts.summary == "An abstract"
    assert facts.published == when
    bare = article_facts("N99", None, when)
    assert bare.title is None and bare.topics == () and bare.entities == ()
    assert bare.source_id == facts.source_id
    # Ids that are not MIND's or Wikidata's usual ones are stable and apart.
    assert mind_entity_id("X1") == mind_entity_id("X1") > 2**60
    assert mind_article_id("odd") > 2**60


def test_bad_entity_column_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "news.tsv"
    path.write_text("N1\tnews\tsub\tt\ta\tu\t[not json\t[]\n", encoding="utf-8")
    with pytest.raises(Exception, match="line 1"):
        read_news(path)


NEWS = {
    f"N{i}": News(f"N{i}", "sports" if i % 2 else "news", "sub", f"title {i}", "")
    for i in range(1, 8)
}


def _vectors() -> dict[str, np.ndarray]:
    out = {}
    for news_id, item in NEWS.items():
        v = np.random.default_rng(sum(map(ord, item.category))).standard_normal(8)
        v += 0.1 * np.random.default_rng(sum(map(ord, news_id))).standard_normal(8)
        out[news_id] = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def _imp(
    imp_id: str, user: str, when: datetime, shown: dict[str, int], history: str = "N2 N4"
) -> Impression:
    return Impression(
        id=imp_id,
        user=user,
        time=when,
        history=tuple(history.split()),
        candidates=tuple(shown),
        labels=tuple(shown.values()),
    )


START = datetime(2019, 11, 12, 8)


def _history(n: int = 80) -> list[Impression]:
    rng = random.Random(5)
    imps = []
    for k in range(n):
        shown = {f"N{i}": 0 for i in rng.sample(range(1, 10), 5)}
        for hot in ("N1", "N9"):  # N9 has no news row
            if hot in shown:
                shown[hot] = 1
        if not any(shown.values()):
            shown[next(iter(shown))] = 1
        # Every other impression shares its second with the one before.
        imps.append(_imp(str(k), f"U{k % 5}", START + timedelta(minutes=k // 2), shown))
    return imps


class Recorder:
    def __init__(self, inner: EngineScorer) -> None:
        self.inner = inner
        self.name = inner.name
        self.scores: dict[str, list[float]] = {}

    def score(self, impression: Impression) -> list[float]:
        self.scores[impression.id] = self.inner.score(impression)
        return self.scores[impression.id]

    def observe(self, impression: Impression) -> None:
        self.inner.observe(impression)


def test_engine_scorer_sees_only_the_past() -> None:
    imps = _history()
    full = Recorder(EngineScorer(NEWS, _vectors()))
    replay(iter(imps), [full])
    cut = 50
    assert imps[cut].time != imps[cut - 1].time
    prefix = Recorder(EngineScorer(NEWS, _vectors()))
    replay(iter(imps[:cut]), [prefix])
    for imp in imps[:cut]:
        assert full.scores[imp.id] == prefix.scores[imp.id], imp.id
    # An impression's own labels never change its scores, nor those of its same-second twin.
    k = 41
    assert imps[k].time == imps[k - 1].time
    flipped = Impression(
        id=imps[k].id,
        user=imps[k].user,
        time=imps[k].time,
        history=imps[k].history,
        candidates=imps[k].candidates,
        labels=tuple(reversed(imps[k].labels)),
    )
    other = Recorder(EngineScorer(NEWS, _vectors()))
    replay(iter([*imps[:k], flipped, *imps[k + 1 :]]), [other])
    assert other.scores[imps[k].id] == full.scores[imps[k].id]
    assert other.scores[imps[k - 1].id] == full.scores[imps[k - 1].id]


def test_engine_scorer_learns_popularity_and_weights() -> None:
    imps = _history(120)
    scorer = EngineScorer(NEWS, _vectors())
    report = replay(iter(imps), [scorer])
    assert report["scorers"]["engine"]["auc"] > 0.6
    # The global weights were fitted (from the defaults), readers got their own.
    assert scorer.refits >= 2
    assert scorer.reader_fits > 0
    assert not np.array_equal(scorer.weights, weight_vector())
    assert scorer.weights[FEATURE_INDEX["popularity"]] > 0
    # The clicked-by-everyone article without a news row now leads a page.
    later = _imp("x", "new", START + timedelta(hours=3), {"N3": 0, "N9": 0, "N5": 0}, "")
    scores = scorer.score(later)
    assert all(math.isfinite(v) for v in scores)
    assert scores[1] == max(scores)


def _popularity(scorer: EngineScorer, news_id: str, when: datetime) -> tuple[int, int]:
    window = scorer.ranker.window
    rows = window.rows_of([mind_article_id(news_id)])
    moment = epoch(when.replace(tzinfo=UTC))
    columns = window.take(rows, popularity_since=moment - POPULARITY_WINDOW.total_seconds())
    return int(columns.shown[0]), int(columns.engaged[0])


def test_popularity_counts_only_the_engines_window() -> None:
    scorer = EngineScorer(NEWS, {})
    first = _imp("a", "U1", START, {"N1": 1, "N2": 0})
    scorer.score(first)
    scorer.observe(first)
    assert _popularity(scorer, "N1", START) == (1, 1)
    later_time = START + POPULARITY_WINDOW + timedelta(days=1)
    later = _imp("b", "U2", later_time, {"N1": 0, "N2": 0})
    x, _ = scorer.scoring(later)
    # Shown more than the popularity window ago (whole UTC days, as storage counts them):
    # forgotten, as the engine forgets it.
    assert _popularity(scorer, "N1", later_time) == (0, 0)
    assert x[0, FEATURE_INDEX["popularity"]] == 0.0
    # Published is when the replay first saw it shown; news never seen is new now.
    window = scorer.ranker.window
    published = window.take(window.rows_of([1, 7]), popularity_since=0.0).published
    scorer.scoring(_imp("c", "U3", later_time, {"N7": 0}))
    published = window.take(window.rows_of([1, 7]), popularity_since=0.0).published
    assert published.tolist() == [
        epoch(START.replace(tzinfo=UTC)),
        epoch(later_time.replace(tzinfo=UTC)),
    ]


def test_reader_state_comes_from_history_and_earlier_impressions() -> None:
    scorer = EngineScorer(NEWS, _vectors())
    first = _imp("a", "U1", START, {"N1": 1, "N3": 0, "N6": 0}, history="N2")
    scorer.score(first)
    scorer.observe(first)
    second = _imp("b", "U1", START + timedelta(hours=1), {"N5": 0, "N4": 0}, history="N2")
    scorer.scoring(second)
    events = scorer.events(second)
    state = scorer.ranker.state((), events, second.time.replace(tzinfo=UTC))
    # The history column and the replay's click, newest first.
    assert state.liked_ids == (1, 2)
    assert state.read == {1, 2}
    # Sports (N1 read, N3 not) against news (N2 read, N6 not).
    assert set(state.topic_affinity) >= {"mind:sports", "mind:news"}
    assert "mind:sports" in state.known_topics


def test_the_evaluation_ranks_with_the_pages_own_ranker() -> None:
    """The gate measures what readers get: the scorer holds a Ranker, the class that makes
    every page, and its scores are that ranker's, not a copy of its arithmetic."""
    scorer = EngineScorer(NEWS, _vectors())
    assert type(scorer.ranker) is Ranker
    imps = _history(30)
    replay(iter(imps), [scorer])
    later = _imp("z", "U1", START + timedelta(hours=2), {"N1": 0, "N5": 0, "N3": 0})
    scores = scorer.score(later)
    events = scorer.events(later)
    when = later.time.replace(tzinfo=UTC)
    ranker = scorer.ranker
    state = ranker.state((), events, when)
    weights = ranker.reader_weights("U1", (), events)
    rows = ranker.window.rows_of([mind_article_id(c) for c in later.candidates])
    assert scores == ranker.score(state, rows, when, weights).scores.tolist()
    # And the evaluation module has no scoring of its own.
    import tidings.eval.rank as module

    source = Path(module.__file__).read_text(encoding="utf-8")
    for private in ("featurize(", "fit_weights(", "reader_state(", "learned_affinities("):
        assert private not in source


def test_ablations_and_options(tmp_path: Path) -> None:
    lines = []
    for imp in _history(60):
        shown = " ".join(f"{c}-{y}" for c, y in zip(imp.candidates, imp.labels, strict=True))
        clock = imp.time.strftime("%m/%d/%Y %I:%M:%S %p")
        lines.append(f"{imp.id}\t{imp.user}\t{clock}\t{' '.join(imp.history)}\t{shown}\n")
    (tmp_path / "behaviors.tsv").write_text("".join(lines), encoding="utf-8")
    (tmp_path / "news.tsv").write_text(
        "".join(_news_line(n.id, n.category, n.title) for n in NEWS.values()), encoding="utf-8"
    )
    calls: list[tuple[int, int]] = []
    report = evaluate(
        tmp_path,
        with_text=False,
        limit=30,
        ablations=True,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert report["impressions"] == 30
    assert report["news_embedded"] == 0
    assert "engine -popularity" in report["scorers"]
    assert "engine fitted across pages" in report["scorers"]
    assert GATED in report["scorers"]
    assert "engine_global_weights" in report
    halves = [len(index_impressions(tmp_path / "behaviors.tsv", (k, 2))) for k in (0, 1)]
    assert sum(halves) == 60 and all(halves)
    result = CliRunner().invoke(
        cli,
        ["eval", "rank", "--data", str(tmp_path), "--limit", "20", "--no-text", "--readers", "1/2"],
    )
    assert "rank: " in result.output
    assert "engine AUC" in result.output
    _, ok = summary_line(report, {"rank_auc": 1.01})
    assert not ok
    bad = CliRunner().invoke(cli, ["eval", "rank", "--data", str(tmp_path), "--readers", "2/2"])
    assert bad.exit_code != 0
