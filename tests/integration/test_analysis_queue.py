"""Analysis from the queue with real models: a backlog gets a quick first pass (title and
lead: rankable) before its full one, and what readers follow goes first."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.test_enrich import MEETING, MEETING_OTHER, QUAKE, draft, store
from tidings.config import Settings
from tidings.engine import make_engine
from tidings.types import EnrichmentStatus

pytestmark = pytest.mark.integration


def test_a_backlog_is_made_rankable_first_then_analysed_in_full(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    settings = settings.replace(workers=settings.workers.replace(quick_backlog=0))
    with make_engine(settings) as engine:
        ids = store(
            engine,
            "https://wire.example/feed",
            [
                draft("meeting", *MEETING, 0),
                draft("other", *MEETING_OTHER, 1),
                draft("q", *QUAKE, 2),
            ],
        )
        quick = engine.enrichment.run(limit=3)
        assert (quick.quick, quick.analysed) == (3, 0)
        assert engine.storage.analysis_backlog() == (0, 3)
        insight = engine.article_insight(ids["meeting"])
        assert insight is not None and insight.status is EnrichmentStatus.DONE
        assert insight.story is not None  # rankable: filed, with topics and lead entities
        assert insight.quotes == ()  # quotes wait for the full pass
        assert {"Xi Jinping", "Vladimir Putin"} <= {e.entity.name for e in insight.entities}
        vector = engine.storage.article_vector(ids["meeting"])

        full = engine.enrich()
        assert (full.quick, full.analysed) == (0, 3)
        assert engine.storage.analysis_backlog() == (0, 0)
        insight = engine.article_insight(ids["meeting"])
        assert insight is not None and insight.quotes  # the body's quotes, now
        assert engine.storage.article_vector(ids["meeting"]) == vector  # embedded once
        with sa.create_engine(settings.database_url).connect() as conn:
            passes = conn.execute(sa.text("SELECT depth, analyses FROM enrichments")).all()
        assert sorted(passes) == [("full", 2)] * 3
