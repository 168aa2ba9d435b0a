"""Which entries go first in the analysis queue (``ingest/priority.py``)."""

from __future__ import annotations

from tidings.ingest.priority import names_followed
from tidings.store.base import entity_key
from tidings.types import ArticleDraft


def test_an_entry_naming_a_followed_entity_in_any_form_goes_first() -> None:
    followed = frozenset(entity_key(n) for n in ("Xi Jinping", "U.S.", "Démocratie Nouvelle"))

    def entry(title: str, summary: str | None = None) -> ArticleDraft:
        return ArticleDraft(title=title, summary=summary)

    assert names_followed(entry("Xi Jinping meets Putin in Beijing"), followed)
    assert names_followed(entry("Talks end", "The US and China agreed..."), followed)
    assert names_followed(entry("Vote for democratie nouvelle, says poll"), followed)
    assert not names_followed(entry("Earthquake strikes eastern Turkey"), followed)
    assert not names_followed(entry("Xi Jinping meets Putin"), frozenset())
    assert not names_followed(ArticleDraft(body="Xi Jinping in the body only"), followed)
