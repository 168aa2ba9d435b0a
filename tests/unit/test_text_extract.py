"""Copied page text → structured article: the seed page, made-up pages, and the edges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.errors import ExtractionError
from tidings.extract.text import (
    MAX_LINE_CHARS,
    MAX_LINES,
    Role,
    body_run,
    classify_lines,
    extract_text,
    feature_names,
    line_features,
    load_model,
    split_lines,
)

PARAGRAPHS = [
    "The city council voted on Tuesday to close the old bridge over the river for repairs, "
    "after engineers found cracks in two of its supports during a routine inspection.",
    "Traffic will be sent through the northern crossing for at least six months, the council "
    "said, and buses will run every ten minutes between the two banks while the work goes on.",
    "Shop owners near the bridge said they feared losing customers. “We depend on people "
    "walking across on their way home,” said one baker, who has run her shop there for years.",
    "The engineers' report, published on the council's website, says the supports were last "
    "repaired in 1987 and that the cracks are not yet dangerous but will grow with the frost.",
    "Work is expected to start next month. The council will hold a public meeting on the "
    "plans next week, and residents can send questions in writing until the end of the month.",
]

# Copies of a whole page start with the document title, as the benchmark's pages do.
PAGE = "\n".join(
    [
        "Old bridge to close for six months after inspection finds cracks | City News",
        "Home",
        "News",
        "Sport",
        "Weather",
        "Advertisement",
        "Local news",
        "Old bridge to close for six months after inspection finds cracks",
        "",
        *PARAGRAPHS[:2],
        "",
        "Read more: Council approves budget for new cycle lanes across the city",
        "",
        *PARAGRAPHS[2:],
        "",
        "12",
        "Share this article",
        "Privacy policy",
        "Contact us",
    ]
)


def test_made_up_page_gives_its_paragraphs_in_order() -> None:
    draft = extract_text(PAGE, url="https://news.example/bridge")
    assert draft.body is not None
    assert draft.body.split("\n\n") == PARAGRAPHS
    assert draft.title == "Old bridge to close for six months after inspection finds cracks"
    assert draft.url == "https://news.example/bridge"
    assert [link.title for link in draft.related] == [
        "Council approves budget for new cycle lanes across the city"
    ]


def test_lines_get_roles() -> None:
    roles = {line: role for role, line in classify_lines(PAGE)}
    assert roles["Advertisement"] == Role.PROMOTION
    assert roles["12"] == Role.COUNTER
    assert roles[PARAGRAPHS[0]] == Role.BODY
    assert roles["Privacy policy"] != Role.BODY


def test_video_block_and_caption_stay_out_of_the_body() -> None:
    page = "\n".join(
        [
            "Bridge repairs begin as engineers report on the river crossing",
            "A worker inspects the supports of the old bridge on Monday. Photo: Reuters",
            *PARAGRAPHS[:3],
            "02:15",
            "How engineers inspect an old bridge",
            "How engineers inspect an old bridge",
            *PARAGRAPHS[3:],
        ]
    )
    roles = classify_lines(page)
    body = [line for role, line in roles if role == Role.BODY]
    assert body == PARAGRAPHS
    assert (Role.VIDEO_DURATION, "02:15") in roles
    assert roles.count((Role.VIDEO_TITLE, "How engineers inspect an old bridge")) == 2
    draft = extract_text(page)
    assert [(i.url, i.caption, i.credit) for i in draft.images] == [
        ("", "A worker inspects the supports of the old bridge on Monday.", "Reuters")
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(ExtractionError, match="empty"):
        extract_text(text)


def test_furniture_only_page_has_no_body() -> None:
    draft = extract_text("Home\nNews\nSport\nContact us\n© 2024")
    assert draft.body is None
    assert draft.extraction_note


def test_huge_input_is_bounded() -> None:
    line = "word " * MAX_LINE_CHARS
    lines = split_lines(line + "\n" + "menu\n" * 50_000)
    assert len(lines[0]) <= MAX_LINE_CHARS
    assert len(lines) == MAX_LINES
    draft = extract_text("\n".join([*PARAGRAPHS, "menu"] * 2_000))
    assert draft.body


def test_feature_rows_match_the_shipped_model() -> None:
    index, rows = line_features(split_lines(PAGE))
    assert len(index) == len(rows)
    assert all(len(r) == len(feature_names()) for r in rows)
    assert list(load_model().features) == feature_names()


@pytest.mark.parametrize(
    ("words", "probs", "span"),
    [
        ([], [], (0, 0)),
        ([5, 5], [0.1, 0.1], (0, 0)),
        ([3, 40, 2, 50, 3], [0.1, 0.9, 0.2, 0.9, 0.1], (1, 4)),
        # A long low-scoring block splits two runs; the heavier one wins.
        ([40, 200, 60, 60], [0.9, 0.05, 0.9, 0.9], (2, 4)),
    ],
)
def test_body_run(words: list[int], probs: list[float], span: tuple[int, int]) -> None:
    assert body_run(words, probs, 0.4) == span


def test_seed_page_reads_right(shared_data: Path) -> None:
    seed = shared_data.parent / "seed"
    if not (seed / "expected.json").is_file():
        pytest.skip(f"seed page not found at {seed}")
    expected = json.loads((seed / "expected.json").read_text("utf-8"))
    text = (seed / expected["source_file"]).read_text("utf-8")

    draft = extract_text(text)

    assert draft.title == expected["title"]
    assert draft.section == expected["section"]
    assert list(draft.summary_points) == expected["summary"]
    assert draft.body is not None
    assert draft.body.split("\n\n") == expected["body_paragraphs"]
    assert len(draft.images) == 1
    image = draft.images[0]
    assert image.credit == expected["image_credit"]
    assert image.caption is not None
    assert expected["image_caption"].startswith(image.caption)
    assert expected["image_caption"].endswith(expected["image_credit"])
    assert [link.title for link in draft.related] == expected["related_headlines"]
    for line in [
        *expected["boilerplate_lines"],
        *expected["related_headlines"],
        expected["video"]["title"],
        expected["video"]["duration"],
    ]:
        assert line not in draft.body.split("\n\n")

    roles = classify_lines(text)
    assert (Role.VIDEO_DURATION, expected["video"]["duration"]) in roles
    assert roles.count((Role.VIDEO_TITLE, expected["video"]["title"])) == 2
    assert (Role.COUNTER, str(expected["comment_count"])) in roles
