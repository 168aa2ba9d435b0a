"""The pure parts of the enrichment stage: which text is read, tags, and model checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.enrich import pipeline
from tidings.enrich.entities import EntityRecord, Mention
from tidings.enrich.topics import Topic, TopicMatch
from tidings.errors import ModelLoadError
from tidings.types import Article, TopicKind

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def article(**fields: object) -> Article:
    return Article(id=1, source_id=1, content_hash="x", fetched_at=NOW, **fields)  # type: ignore[arg-type]


def test_article_text_is_title_summary_and_body_without_repeating_the_lead() -> None:
    a = article(title="Headline", summary="The lead.", body="Other text.")
    assert pipeline.article_text(a) == "Headline\n\nThe lead.\n\nOther text."
    b = article(title="Headline", summary="The lead.", body="The lead. And more.")
    assert pipeline.article_text(b) == "Headline\n\nThe lead. And more."
    assert pipeline.article_text(article()) == ""


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("World", ("section:world", "World")),
        (
            "  Sino-Russian   relations ",
            ("section:sino-russian-relations", "Sino-Russian relations"),
        ),
        ("India and Pakistan", ("section:india-and-pakistan", "India and Pakistan")),
        ("Économie", ("section:économie", "Économie")),
        ("", None),
        ("!!!", None),
        ("x" * 81, None),
        (None, None),
    ],
)
def test_the_publishers_section_becomes_a_tag(
    section: str | None, expected: tuple[str, str] | None
) -> None:
    tag = pipeline.section_tag(section)
    if expected is None:
        assert tag is None
    else:
        assert tag is not None and (tag.id, tag.label) == expected
        assert tag.kind is TopicKind.SECTION


@pytest.mark.parametrize(
    "section",
    [
        "China-Russia relations",
        "  China-Russia   relations ",
        "Russia–China relations",
        "China and Russia ties",
    ],
)
def test_a_section_naming_a_relation_is_that_relations_topic(section: str) -> None:
    # One topic for one thing: the relation analysis finds in the text, not a second one.
    tag = pipeline.section_tag(section)
    assert tag is not None and tag.kind is TopicKind.RELATION
    assert (tag.id, tag.label) == ("relation:china-russia", "China–Russia relations")


def test_topic_tags_keep_a_subtopic_only_when_it_is_clear() -> None:
    politics = Topic("medtop:11000000", "politics", None, "")
    diplomacy = Topic("medtop:11000000/diplomacy", "diplomacy", "medtop:11000000", "")
    clear = pipeline.topic_tags(TopicMatch(politics, 0.8, diplomacy, 0.5))
    assert [t.id for t in clear] == [politics.id, diplomacy.id]
    assert clear[1].parent == politics.id and clear[1].confidence == pytest.approx(0.4)
    unclear = pipeline.topic_tags(TopicMatch(politics, 0.8, diplomacy, 0.2))
    assert [t.id for t in unclear] == [politics.id]
    assert pipeline.topic_tags(None) == []


def test_found_entities_carry_counts_and_first_offsets() -> None:
    record = EntityRecord(
        name="Xi Jinping",
        type="PERSON",
        aliases=("Xi",),
        description="Chinese President",
        mentions=(Mention("Xi Jinping", 40, 50, "PERSON"), Mention("Xi", 90, 92, "PERSON")),
    )
    [found] = pipeline.found_entities([record])
    assert (found.name, found.mentions, found.first_offset) == ("Xi Jinping", 2, 40)
    assert found.aliases == ("Xi",) and found.description == "Chinese President"


def test_a_missing_model_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline.check_models()  # everything is installed here
    monkeypatch.setattr(
        pipeline, "REQUIRED", (*pipeline.REQUIRED, ("no_such_model_xyz", "no-such-model==1.0"))
    )
    with pytest.raises(ModelLoadError, match=r"no-such-model==1\.0.*TIDINGS_ENRICH=0"):
        pipeline.check_models()


def test_captions_come_after_the_body() -> None:
    from tidings.types import Image

    a = article(
        title="Headline",
        body="Body.",
        images=(Image(url="https://x.example/p.jpg", caption="Leader Xi Jinping. Photo: AP"),),
    )
    assert pipeline.article_text(a) == "Headline\n\nBody.\n\nLeader Xi Jinping. Photo: AP"
