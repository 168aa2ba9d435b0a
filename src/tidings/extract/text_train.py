"""Train the body-line model of :mod:`tidings.extract.text` and report honest scores.

Run from the project's root::

    python -m tidings.extract.text_train --data ../shared/data/aeb \\
        --out src/tidings/data/text_lines.json

Labels come from the benchmark's own article bodies: a line is body when at least half the
4-token shingles that touch it (taking three tokens of context from each neighbour, so one-word
list items are judged too) occur in ``articleBody``. Scores are the benchmark's body F1, measured
on pages the model never saw: site-grouped k-fold cross-validation (two pages of one site are
always in the same fold). The shipped model is then fitted on every page.

scikit-learn is needed here only (``pip install scikit-learn``); the shipped model is a JSON
file that :mod:`tidings.extract.text` reads in pure Python.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tidings.eval.metrics import SHINGLE_TOKENS, body_scores, shingle_counts
from tidings.extract.text import (
    BodyModel,
    feature_names,
    line_features,
    select_body,
    split_lines,
)

#: The benchmark metric's tokens (tidings.eval.metrics), so labels agree with the score.
_TOKEN = re.compile(r"\w+")
#: Tokens of context taken from each neighbouring line when labelling a line.
_TOKEN_CONTEXT = 3
#: Share of a line's shingles that must be in the article body for the line to be body.
LABEL_SHARE = 0.5
#: Model size: 200 depth-3 trees keep the JSON under 100 KB. 300 depth-4 trees scored the
#: same in site-grouped cross-validation (body F1 0.897 both, measured with scikit-learn's
#: histogram boosting), so the smaller model ships.
N_TREES = 200
DEPTH = 3
RATE = 0.1
FOLDS = 10
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(2, 19))


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def label_lines(lines: list[str], index: list[int], body: str) -> list[int]:
    """1 for each non-blank line (of ``index``) whose shingles are mostly in ``body``."""
    n = SHINGLE_TOKENS
    toks = _tokens(body)
    truth = {tuple(toks[i : i + n]) for i in range(max(0, len(toks) - n + 1))}
    truth_tokens = set(toks)
    line_tokens = [_tokens(lines[i]) for i in index]
    labels = []
    for k, own in enumerate(line_tokens):
        if not own:
            labels.append(0)
            continue
        before = [t for j in range(max(0, k - 3), k) for t in line_tokens[j]][-_TOKEN_CONTEXT:]
        after = [t for j in range(k + 1, min(len(index), k + 4)) for t in line_tokens[j]]
        after = after[:_TOKEN_CONTEXT]
        seq = before + own + after
        lo, hi = len(before), len(before) + len(own)
        grams = [
            tuple(seq[i : i + n])
            for i in range(max(0, len(seq) - n + 1))
            if i < hi and i + n > lo  # touches the line's own tokens
        ]
        if not grams:  # whole page shorter than a shingle
            labels.append(int(all(t in truth_tokens for t in own)))
            continue
        inside = sum(g in truth for g in grams)
        labels.append(int(inside / len(grams) >= LABEL_SHARE))
    return labels


def _site(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def load_pages(data: Path) -> list[dict[str, Any]]:
    texts = json.loads((data / "page-text.json").read_text("utf-8"))
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages = []
    for doc_id in sorted(texts):
        lines = split_lines(texts[doc_id]["pageText"])
        index, rows = line_features(lines)
        body = truth[doc_id]["articleBody"]
        pages.append(
            {
                "id": doc_id,
                "site": _site(texts[doc_id]["url"]),
                "lines": lines,
                "index": index,
                "rows": rows,
                "labels": label_lines(lines, index, body),
                "truth": body,
            }
        )
    return pages


def _sklearn(module: str) -> Any:
    """A scikit-learn module; imported by name because it ships no type information."""
    return importlib.import_module(module)


def _fit(rows: list[list[float]], labels: list[int]) -> Any:
    model = _sklearn("sklearn.ensemble").GradientBoostingClassifier(
        n_estimators=N_TREES, max_depth=DEPTH, learning_rate=RATE, subsample=0.8, random_state=0
    )
    model.fit(rows, labels)
    return model


def export(model: Any, threshold: float, sample: list[float]) -> dict[str, Any]:
    """The fitted model as the JSON :class:`~tidings.extract.text.BodyModel` reads."""
    trees = []
    for est in model.estimators_[:, 0]:
        t = est.tree_
        trees.append(
            {
                "feature": [int(f) for f in t.feature],
                "threshold": [round(float(x), 6) for x in t.threshold],
                "left": [int(c) for c in t.children_left],
                "right": [int(c) for c in t.children_right],
                "value": [round(float(v), 6) for v in t.value[:, 0, 0]],
            }
        )
    raw = float(model.decision_function([sample])[0])
    tree_sum = sum(float(est.predict([sample])[0]) for est in model.estimators_[:, 0])
    return {
        "_comment": "Body-line model of tidings.extract.text; made by tidings.extract.text_train.",
        "features": feature_names(),
        "init": round(raw - RATE * tree_sum, 6),
        "rate": RATE,
        "threshold": threshold,
        "trees": trees,
    }


def _page_f1(pages: list[dict[str, Any]], probs: list[list[float]], threshold: float) -> float:
    counts = []
    for page, p in zip(pages, probs, strict=True):
        body = select_body(page["lines"], page["index"], p, threshold)
        counts.append(shingle_counts(page["truth"], body))
    return body_scores(counts).f1


def cross_validate(pages: list[dict[str, Any]]) -> tuple[list[list[float]], dict[str, float]]:
    """Out-of-fold line probabilities (site-grouped folds) and line-level scores."""
    group_k_fold = _sklearn("sklearn.model_selection").GroupKFold
    groups = [p["site"] for p in pages]
    oof: list[list[float]] = [[] for _ in pages]
    for train, test in group_k_fold(n_splits=FOLDS).split(pages, groups=groups):
        rows = [r for i in train for r in pages[i]["rows"]]
        labels = [y for i in train for y in pages[i]["labels"]]
        model = _fit(rows, labels)
        for i in test:
            if pages[i]["rows"]:
                oof[i] = [float(x) for x in model.predict_proba(pages[i]["rows"])[:, 1]]
    tp = fp = fn = 0
    for page, p in zip(pages, oof, strict=True):
        for y, q in zip(page["labels"], p, strict=True):
            tp += y and q >= 0.5
            fp += (not y) and q >= 0.5
            fn += y and q < 0.5
    line_f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return oof, {"line_f1": line_f1}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the aeb folder")
    parser.add_argument("--out", type=Path, required=True, help="where to write the model JSON")
    args = parser.parse_args(argv)

    pages = load_pages(args.data)
    print(f"{len(pages)} pages, {len({p['site'] for p in pages})} sites")
    oof, line_scores = cross_validate(pages)
    print(f"cross-validated line F1 (p >= 0.5): {line_scores['line_f1']:.3f}")
    cv = {t: _page_f1(pages, oof, t) for t in THRESHOLDS}
    for t, f1 in cv.items():
        print(f"  threshold {t:.2f}: cross-validated body F1 {f1:.3f}")
    threshold = max(cv, key=lambda t: cv[t])
    print(f"chosen threshold {threshold:.2f}: cross-validated body F1 {cv[threshold]:.3f}")

    rows = [r for p in pages for r in p["rows"]]
    labels = [y for p in pages for y in p["labels"]]
    model = _fit(rows, labels)
    data = export(model, threshold, rows[0])
    args.out.write_text(json.dumps(data, separators=(",", ":")) + "\n", "utf-8")
    shipped = BodyModel.from_json(data)
    train_probs = [[shipped.probability(r) for r in p["rows"]] for p in pages]
    print(f"training-set body F1: {_page_f1(pages, train_probs, threshold):.3f}")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB, {N_TREES} trees)")


if __name__ == "__main__":
    main()
