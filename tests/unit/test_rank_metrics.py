"""MIND's ranking metrics, the MIND reader and the no-look-ahead rule of the replay."""

from __future__ import annotations

import math
import random
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tidings.eval.rank import (
    ClickRateScorer,
    HybridScorer,
    Impression,
    MindFormatError,
    News,
    RandomScorer,
    evaluate,
    load_embeddings,
    parse_time,
    read_impressions,
    read_news,
    replay,
    summary_line,
)
from tidings.rank.metrics import ImpressionMetrics, auc, mrr, ndcg

# --- metrics -----------------------------------------------------------------------------


def test_auc_hand_computed() -> None:
    assert auc([1, 0, 0], [0.9, 0.5, 0.1]) == 1.0
    assert auc([1, 0, 0], [0.1, 0.5, 0.9]) == 0.0
    # Pairs (0.8>0.6) (0.8>0.2) (0.4<0.6) (0.4>0.2): 3 of 4 in order.
    assert auc([1, 0, 1, 0], [0.8, 0.6, 0.4, 0.2]) == 0.75
    # A tied pair counts one half.
    assert auc([1, 0], [0.5, 0.5]) == 0.5
    assert auc([1, 0, 0], [0.5, 0.5, 0.1]) == 0.75


def test_auc_undefined_with_one_class() -> None:
    assert math.isnan(auc([1, 1], [0.1, 0.2]))
    assert math.isnan(auc([0, 0], [0.1, 0.2]))


def test_mrr_and_ndcg_hand_computed() -> None:
    labels, scores = [0, 1, 0, 1], [0.9, 0.8, 0.1, 0.5]
    # Ranked labels 0, 1, 1, 0: the clicks sit at ranks 2 and 3.
    assert mrr(labels, scores) == pytest.approx((1 / 2 + 1 / 3) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg(labels, scores, 5) == pytest.approx(dcg / ideal)
    assert ndcg(labels, scores, 1) == 0.0
    assert ndcg(labels, [0.1, 0.9, 0.2, 0.8], 10) == pytest.approx(1.0)


def test_ties_rank_the_later_candidate_first() -> None:
    # The documented rule: a stable sort, reversed.
    assert mrr([1, 0, 0], [0.5, 0.5, 0.5]) == pytest.approx(1 / 3)
    assert mrr([0, 0, 1], [0.5, 0.5, 0.5]) == 1.0


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="equally long"):
        auc([1, 0], [0.1])
    with pytest.raises(ValueError, match="0 or 1"):
        mrr([2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="k must"):
        ndcg([1, 0], [0.1, 0.2], 0)


def _official_mrr(y_true: np.ndarray, y_score: np.ndarray) -> float:
    # MIND's evaluate.py, restated.
    order = np.argsort(y_score)[::-1]
    ranked = np.take(y_true, order)
    return float(np.sum(ranked / (np.arange(len(ranked)) + 1)) / np.sum(ranked))


def _official_ndcg(y_true: np.ndarray, y_score: np.ndarray, k: int) -> float:
    def dcg(scores: np.ndarray) -> float:
        top = np.take(y_true, np.argsort(scores)[::-1][:k])
        return float(np.sum((2**top - 1) / np.log2(np.arange(len(top)) + 2)))

    return dcg(y_score) / dcg(y_true)


def test_metrics_match_sklearn_and_the_official_code() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(2, 80))
        labels = (rng.random(n) < 0.2).astype(int)
        # Both classes, as in every MIND impression.
        labels[0], labels[-1] = 1, 0
        labels = rng.permutation(labels)
        # Coarse scores make ties, which AUC must count as sklearn does.
        tied = np.round(rng.random(n), 1)
        assert auc(labels.tolist(), tied.tolist()) == pytest.approx(
            metrics.roc_auc_score(labels, tied)
        )
        # Tie-free scores: MRR and nDCG equal the official code's.
        free = rng.permutation(n).astype(float)
        y = labels.astype(float)
        assert mrr(labels.tolist(), free.tolist()) == pytest.approx(_official_mrr(y, free))
        for k in (5, 10):
            assert ndcg(labels.tolist(), free.tolist(), k) == pytest.approx(
                _official_ndcg(y, free, k)
            )


def test_impression_metrics_average_and_skip() -> None:
    m = ImpressionMetrics()
    m.add([1, 0], [0.9, 0.1])  # AUC 1, MRR 1
    m.add([0, 1], [0.9, 0.1])  # AUC 0, MRR 1/2
    m.add([1, 1], [0.9, 0.1])  # all clicked: no AUC; MRR (1 + 1/2) / 2
    m.add([0, 0], [0.9, 0.1])  # nothing clicked: skipped for all
    means = m.means()
    assert (m.impressions, m.skipped_auc, m.skipped_no_click) == (4, 2, 1)
    assert means["auc"] == 0.5
    assert means["mrr"] == pytest.approx((1 + 0.5 + 0.75) / 3)
    assert math.isnan(ImpressionMetrics().means()["auc"])


# --- reader ------------------------------------------------------------------------------


def test_parse_time_twelve_hour_clock() -> None:
    assert parse_time("11/12/2019 2:14:46 PM") == datetime(2019, 11, 12, 14, 14, 46)
    assert parse_time("11/12/2019 12:00:01 AM") == datetime(2019, 11, 12, 0, 0, 1)
    assert parse_time("11/12/2019 12:30:00 PM") == datetime(2019, 11, 12, 12, 30, 0)
    with pytest.raises(ValueError, match="MIND time"):
        parse_time("2019-11-12 14:14:46")
    with pytest.raises(ValueError, match="MIND time"):
        parse_time("11/12/2019 13:00:00 PM")


BEHAVIORS = (
    "3\tU1\t11/13/2019 9:00:00 AM\tN1 N2\tN10-1 N11-0\n"
    "1\tU2\t11/12/2019 2:14:46 PM\t\tN10-0 N11-1 N12-0\n"
    "2\tU3\t11/12/2019 2:14:46 PM\tN1\tN12-1 N10-0\n"
    "4\tU2\t11/12/2019 11:00:00 AM\tN2\tN11-0 N12-1\n"
)


def _write(tmp_path: Path, behaviors: str, news: str = "") -> Path:
    (tmp_path / "behaviors.tsv").write_text(behaviors, encoding="utf-8")
    (tmp_path / "news.tsv").write_text(news, encoding="utf-8")
    return tmp_path


def test_impressions_come_in_time_order(tmp_path: Path) -> None:
    data = _write(tmp_path, BEHAVIORS)
    imps = list(read_impressions(data / "behaviors.tsv"))
    # 11 AM, then the two 2:14:46 PM lines in file order, then the next day.
    assert [i.id for i in imps] == ["4", "1", "2", "3"]
    first = imps[1]
    assert first.history == ()
    assert first.candidates == ("N10", "N11", "N12")
    assert first.labels == (0, 1, 0)


def test_unlabelled_candidates_are_read(tmp_path: Path) -> None:
    data = _write(tmp_path, "9\tU1\t11/15/2019 8:00:00 AM\tN1\tN10 N11\n")
    (imp,) = read_impressions(data / "behaviors.tsv")
    assert imp.candidates == ("N10", "N11")
    assert imp.labels == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("5\tU1\t11/12/2019 2:14:46 PM\tN1\n", "5 tab-separated columns"),
        ("5\tU1\tyesterday\tN1\tN10-1\n", "MIND time"),
        ("5\tU1\t11/12/2019 2:14:46 PM\tN1\tN10-2 N11-0\n", "NEWSID-0"),
        ("5\tU1\t11/12/2019 2:14:46 PM\tN1\tN10-1 N11\n", "some candidates"),
        ("5\tU1\t11/12/2019 2:14:46 PM\tN1\t\n", "no candidates"),
    ],
)
def test_malformed_line_names_its_number(tmp_path: Path, line: str, message: str) -> None:
    data = _write(tmp_path, BEHAVIORS.splitlines(keepends=True)[0] + line)
    with pytest.raises(MindFormatError, match=f"line 2: .*{message}") as caught:
        list(read_impressions(data / "behaviors.tsv"))
    assert "behaviors.tsv" in str(caught.value)


def test_missing_behaviors_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MindFormatError, match="not found"):
        list(read_impressions(tmp_path / "behaviors.tsv"))


def test_read_news(tmp_path: Path) -> None:
    data = _write(
        tmp_path,
        "",
        "N1\tnews\tnewsus\tA title\tAn abstract\thttps://x\t[]\t[]\n"
        "N2\tsports\tnfl\tOnly a title\t\t\t[]\t[]\n",
    )
    news = read_news(data / "news.tsv")
    assert news["N1"] == News("N1", "news", "newsus", "A title", "An abstract")
    assert news["N2"].abstract == ""
    (tmp_path / "news.tsv").write_text("N3\tnews\n", encoding="utf-8")
    with pytest.raises(MindFormatError, match="line 1"):
        read_news(tmp_path / "news.tsv")
    assert read_news(tmp_path / "absent.tsv") == {}


# --- scorers and the replay --------------------------------------------------------------


def _imp(
    imp_id: str, user: str, hour: int, history: str, shown: dict[str, int], minute: int = 0
) -> Impression:
    return Impression(
        id=imp_id,
        user=user,
        time=datetime(2019, 11, 12, hour, minute),
        history=tuple(history.split()),
        candidates=tuple(shown),
        labels=tuple(shown.values()),
    )


def _fake_vectors(news: dict[str, News]) -> dict[str, np.ndarray]:
    # Deterministic unit vectors, no model: a category's articles point the same way.
    out = {}
    for news_id, item in news.items():
        seed = sum(map(ord, item.category))
        v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
        v += 0.1 * np.random.default_rng(sum(map(ord, news_id))).standard_normal(8).astype(
            np.float32
        )
        out[news_id] = v / np.linalg.norm(v)
    return out


NEWS = {
    f"N{i}": News(f"N{i}", "sports" if i % 2 else "news", "sub", f"title {i}", "")
    for i in range(1, 8)
}


def _history() -> list[Impression]:
    rng = random.Random(3)
    imps = []
    for k in range(60):
        shown = {f"N{i}": 0 for i in rng.sample(range(1, 10), 4)}
        # N1 and N9 (no text) are the ones readers click.
        for hot in ("N1", "N9"):
            if hot in shown:
                shown[hot] = 1
        if not any(shown.values()):
            shown[next(iter(shown))] = 1
        # Two impressions a minute: every other one shares its time with the one before.
        imps.append(_imp(str(k), f"U{k % 7}", 8, "N2 N4", shown, minute=k // 2))
    return imps


class Recorder:
    """Wraps a scorer and keeps the scores it gave each impression."""

    def __init__(self, inner: ClickRateScorer | HybridScorer | RandomScorer) -> None:
        self.inner = inner
        self.name = inner.name
        self.scores: dict[str, list[float]] = {}

    def score(self, impression: Impression) -> list[float]:
        self.scores[impression.id] = self.inner.score(impression)
        return self.scores[impression.id]

    def observe(self, impression: Impression) -> None:
        self.inner.observe(impression)


def _scorers() -> list[Recorder]:
    return [
        Recorder(RandomScorer(1)),
        Recorder(ClickRateScorer()),
        Recorder(HybridScorer(NEWS, _fake_vectors(NEWS))),
    ]


def test_scorers_see_only_the_past() -> None:
    imps = _history()
    full = _scorers()
    replay(iter(imps), full)
    # Whatever happens later, or at the same second, must not change a score.
    cut = 36
    same_second = [i for i in imps[cut:] if i.time == imps[cut - 1].time]
    assert not same_second  # the cut falls between seconds
    prefix = _scorers()
    replay(iter(imps[:cut]), prefix)
    for a, b in zip(full, prefix, strict=True):
        for imp in imps[:cut]:
            assert a.scores[imp.id] == b.scores[imp.id], (a.name, imp.id)


def test_scores_do_not_depend_on_the_impressions_own_labels() -> None:
    imps = _history()
    k = 41
    flipped = Impression(
        id=imps[k].id,
        user=imps[k].user,
        time=imps[k].time,
        history=imps[k].history,
        candidates=imps[k].candidates,
        labels=tuple(reversed(imps[k].labels)),
    )
    assert flipped.labels != imps[k].labels
    a, b = _scorers(), _scorers()
    replay(iter(imps), a)
    replay(iter([*imps[:k], flipped, *imps[k + 1 :]]), b)
    for x, y in zip(a, b, strict=True):
        assert x.scores[imps[k].id] == y.scores[imps[k].id], x.name


def test_same_second_impressions_do_not_see_each_other() -> None:
    first = _imp("a", "U1", 9, "", {"N1": 1, "N2": 0})
    twin = _imp("b", "U2", 9, "", {"N1": 0, "N2": 0, "N3": 1})
    later = _imp("c", "U3", 10, "", {"N1": 0, "N2": 1})
    alone, together = ClickRateScorer(), ClickRateScorer()
    rec_alone, rec_together = Recorder(alone), Recorder(together)
    replay(iter([twin]), [rec_alone])
    replay(iter([first, twin, later]), [rec_together])
    assert rec_alone.scores["b"] == rec_together.scores["b"]
    # ...while the later impression has learned that N1 was clicked.
    assert rec_together.scores["c"][0] > rec_together.scores["c"][1]


def test_click_rate_learns_and_hybrid_handles_news_without_text() -> None:
    imps = _history()
    scorers = _scorers()
    report = replay(iter(imps), scorers)
    s = report["scorers"]
    assert report["impressions"] == len(imps)
    assert s["click_rate"]["auc"] > 0.6
    assert s["hybrid"]["auc"] > 0.6
    # N9 has no text and no news row: it still gets a finite score.
    last = scorers[2].scores[imps[-1].id]
    assert all(math.isfinite(v) for v in last)


def test_load_embeddings_caches_by_text(tmp_path: Path) -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.eye(len(texts), 4, dtype=np.float32)

    news = {**NEWS, "N8": News("N8", "news", "sub", "", "")}
    first = load_embeddings(news, {"N1", "N2", "N8"}, cache_dir=tmp_path, embed=embed)
    again = load_embeddings(news, {"N1", "N2", "N8"}, cache_dir=tmp_path, embed=embed)
    assert calls == [2]  # N8 has no text; the second call read the cache
    assert set(first) == {"N1", "N2"}
    assert all(np.array_equal(first[k], again[k]) for k in first)
    load_embeddings(news, {"N1", "N3"}, cache_dir=tmp_path, embed=embed)
    assert calls == [2, 2]


def test_evaluate_and_summary_line(tmp_path: Path) -> None:
    lines = []
    for imp in _history():
        shown = " ".join(f"{c}-{y}" for c, y in zip(imp.candidates, imp.labels, strict=True))
        clock = imp.time.strftime("%m/%d/%Y %I:%M:%S %p")
        lines.append(f"{imp.id}\t{imp.user}\t{clock}\t{' '.join(imp.history)}\t{shown}\n")
    news = "".join(
        f"{n.id}\t{n.category}\t{n.subcategory}\t{n.title}\t\t\t[]\t[]\n" for n in NEWS.values()
    )
    data = _write(tmp_path, "".join(lines), news)

    def embed(texts: list[str]) -> np.ndarray:
        return np.stack([_fake_vectors(NEWS)[f"N{t.split()[-1]}"] for t in texts])

    report = evaluate(data, cache_dir=tmp_path / "cache", embed=embed)
    assert set(report["scorers"]) == {"random", "click_rate", "hybrid", "engine"}
    assert report["news_embedded"] == 7
    line, ok = summary_line(report, {"rank_auc": 0.0})
    assert line.startswith("rank: ")
    assert "engine AUC" in line
    # Sixty impressions are too few for the random ranking's range: only its shape is tested.
    assert ok == (0.47 <= report["scorers"]["random"]["auc"] <= 0.53)
    _, failing = summary_line(report, {"rank_auc": 1.01})
    assert not failing
