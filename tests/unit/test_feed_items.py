"""What one feed item shows: one reason line, each effect's button once, compact sources,
relative times (``tidings.web.items``, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.types import Action, ActionVerb, Reason, ReasonKind, TargetKind
from tidings.web.items import (
    HEADLINE_CHARS,
    Covered,
    ago,
    headline,
    is_time_stamp,
    item_view,
    summary_after_title,
)


def reason(
    text: str, verb: ActionVerb, kind: TargetKind, target: int | str, weight: float
) -> Reason:
    return Reason(
        kind=ReasonKind.TOP_STORY,
        text=text,
        weight=weight,
        action=Action(
            verb=verb, target_kind=kind, target_id=target, label=f"{verb.value} {target}"
        ),
    )


def test_one_story_mute_though_two_reasons_offer_it() -> None:
    view = item_view(
        [
            reason("Top story: 4 sources", ActionVerb.MUTE_STORY, TargetKind.STORY, 7, 2.0),
            reason("Growing fast", ActionVerb.MUTE_STORY, TargetKind.STORY, 7, 1.0),
        ],
        source_id=3,
        covered=[],
        source_count=4,
    )
    assert view.reason == "Top story: 4 sources"
    assert [r.action is not None for r in view.reasons] == [True, False]
    assert view.reasons[0].undo == ("story", "7")
    assert view.menu == ("save", "more", "less", "hide", "follow_source", "mute_source")


def test_a_reason_that_does_what_a_menu_button_does_takes_its_place() -> None:
    view = item_view(
        [
            reason("You follow The Wire", ActionVerb.UNFOLLOW, TargetKind.SOURCE, 3, 3.0),
            reason("Like what you read", ActionVerb.FEWER_LIKE_THIS, TargetKind.ARTICLE, 9, 1.0),
            reason("Popular", ActionVerb.FEWER_LIKE_THIS, TargetKind.ARTICLE, 12, 0.5),
            reason("From The Wire", ActionVerb.LESS_FROM_SOURCE, TargetKind.SOURCE, 3, 0.2),
        ],
        source_id=3,
        covered=[],
        source_count=1,
    )
    # "Fewer like this", "Less from source" and "Less like this" all record one "less".
    assert [r.action is not None for r in view.reasons] == [True, True, False, False]
    assert view.menu == ("save", "more", "hide", "mute_source")
    assert view.reasons[0].undo is None


def test_no_reasons_means_no_reason_line() -> None:
    view = item_view([], source_id=1, covered=[], source_count=1)
    assert view.reason is None and view.reasons == ()
    assert len(view.menu) == 6


def test_other_sources_are_named_compactly_and_counted() -> None:
    covered = [Covered(name=n, article_id=i) for i, n in enumerate("ABBCDE")]
    view = item_view([], source_id=1, covered=covered, source_count=8)
    assert [c.name for c in view.also] == ["A", "B", "C"]
    assert view.more_sources == 8 - 1 - 3


def test_relative_times() -> None:
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    assert ago(None, now) == ""
    assert ago(now - timedelta(seconds=20), now) == "just now"
    assert ago(now + timedelta(minutes=3), now) == "just now"  # a clock a little ahead
    assert ago(now - timedelta(minutes=12), now) == "12 min ago"
    assert ago(now - timedelta(hours=3, minutes=59), now) == "3 h ago"
    assert ago(now - timedelta(days=2, hours=5), now) == "2 d ago"
    assert ago(now - timedelta(days=20), now) == "17 Nov"
    assert ago(datetime(2025, 3, 1, tzinfo=UTC), now) == "1 Mar 2025"


def test_a_summary_that_repeats_the_headline_loses_it() -> None:
    assert summary_after_title("Three die in bank", "Three die in bank. Riots over cuts.") == (
        "Riots over cuts."
    )
    assert summary_after_title("Three  die in bank", "three die in bank Updated 5 May") == (
        "Updated 5 May"
    )
    assert summary_after_title("Title", "Title") is None
    assert summary_after_title("Title", "Another text") == "Another text"
    # No title: the summary's first sentence is the headline, and is not said twice.
    assert headline(None, " Text ") == "Text"
    assert summary_after_title(None, " Text ") is None
    assert summary_after_title("Title", None) is None
    # A headline cut short by the feed: the summary goes on from where it stopped.
    assert summary_after_title("Roads, bridges and…", "Roads, bridges and tunnels close.") == (
        "\u2026tunnels close."
    )


def test_a_summary_loses_the_time_stamp_it_opens_with() -> None:
    # As the demo's ECB+ texts open (tokenised, spaced out), and as feeds write them.
    cases = {
        "04 / 28 / 09 07: 35 PM ET Federal agencies again": "Federal agencies again",
        "Updated 5 / 5 / 2010 1: 41 PM Riots over harsh new": "Riots over harsh new",
        "published: 2012 - 04 - 04 11: 47: 35 During the promotional": "During the promotional",
        "06 / 06 / 13 07: 05 PM ET EDT The self - described": "The self - described",
        "12/07/2026 - Ministers met": "Ministers met",
        "2026-12-07 09:00 UTC: Ministers met": "Ministers met",
    }
    for summary, expected in cases.items():
        assert summary_after_title("A headline", summary) == expected, summary
    # Not a date: numbers that are news stay.
    for kept in ("2 dead in floods", "3-2 win for the visitors", "In 2024 the rate fell"):
        assert summary_after_title("A headline", kept) == kept
    # Nothing but a stamp: kept rather than left empty.
    assert summary_after_title("A headline", "12/07/2026") == "12/07/2026"
    # After the headline it repeats, too.
    assert summary_after_title("Riots", "Riots. Updated 5/5/2010 1:41 PM Three died") == (
        "Three died"
    )


def test_a_title_that_is_only_a_time_stamp_gives_way_to_the_first_sentence() -> None:
    for stamp in (
        "Last Updated: Tuesday, 20 December 2005, 10: 39 GMT",
        "APR 28",
        "April 27, 2009",
        "updated 8: 41 p. m. EST, Tue March 3, 2009",
    ):
        assert is_time_stamp(stamp), stamp
    for news in ("May Day marches in 40 cities", "Apple at 3 trillion", "Mars", "March on"):
        assert not is_time_stamp(news), news
    summary = "US mafia godfather Gigante dies. One of the most famous godfathers in the US."
    shown = headline("Last Updated: Tuesday, 20 December 2005, 10: 39 GMT", summary)
    assert shown == "US mafia godfather Gigante dies."
    assert summary_after_title("APR 28", summary) == (
        "One of the most famous godfathers in the US."
    )
    # A long first sentence is cut at a word.
    long = "Interior, Commerce Departments Overturn Rule That Cut Science " * 3 + "Out. Next."
    cut = headline("April 28, 2009", long)
    assert cut.endswith("\u2026") and len(cut) <= HEADLINE_CHARS + 1
    assert summary_after_title("April 28, 2009", long).startswith("\u2026")  # type: ignore[union-attr]
    # A real title, or a stamp with nothing to stand in, is kept.
    assert headline("Ferry timetable changes", summary) == "Ferry timetable changes"
    assert headline("APR 28", None) == "APR 28"
    assert headline(None, None) == ""


def test_dates_written_out_and_a_title_opening_with_one() -> None:
    assert summary_after_title("Headline", "Released 2013 - 09 - 28 05: 08: 35 GMT A jury in") == (
        "A jury in"
    )
    assert summary_after_title(
        "Headline", "Tuesday, 20 December 2005, 10: 39 GMT Gigante dies"
    ) == ("Gigante dies")
    assert summary_after_title("Headline", "March 4, 2009 In a move that") == "In a move that"
    assert headline("Nov 13, 2007, 1: 17pm EST HP will buy EYP Mission", None) == (
        "HP will buy EYP Mission"
    )
    # What is left must be a headline, not a word or two.
    assert headline("Nov 13, 2007 Update", None) == "Nov 13, 2007 Update"
    assert headline("March on Washington draws thousands", None) == (
        "March on Washington draws thousands"
    )
