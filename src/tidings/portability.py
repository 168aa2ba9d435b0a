"""The reader's data is theirs: everything of one reader as a file they can keep or take to
another Tidings, and back in from one.

The JSON file (:class:`ReaderFile`, ``"format": "tidings-reader"``) holds the reader's
settings, what they follow and mute, what they saved, the articles they added themselves
(their clippings, with the whole text: those articles may exist nowhere else), and every
event (what they were shown, opened, read, liked, hid). Ids mean nothing on another
instance, so nothing is named by id: an entity by its name, a topic by its id (taxonomy and
relation ids are the same everywhere), a source by its feed URL, and an article by its
address (its canonical URL, or for a pasted page without one, the content hash Tidings
identifies it by), described once in ``articles``.

Importing the file into a signed-in reader's account (on this instance or another) finds
each thing again the same way. A saved or clipped article this instance does not have is
stored from the file, as a clipping; a followed feed it does not have is subscribed to
(web feeds only, as a reader may add them on the page). Events about articles this instance
does not have are left out, and so is anything else that cannot be found (each counted in
the :class:`ImportReport`). Importing the same file twice changes nothing the second time.

The OPML file lists the feeds a reader reads (every web feed of this instance they have not
muted), those they follow in a "Following" folder; importing it subscribes to the missing
ones and follows those in that folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidings.engine import Engine
from tidings.errors import InvalidInputError, NotFoundError, TidingsError
from tidings.ingest.feeds import canonicalize_url
from tidings.ingest.opml import parse_opml, write_opml
from tidings.readers import CLIPPINGS_SOURCE, event_problem
from tidings.types import (
    Article,
    ArticleDraft,
    DigestFrequency,
    EventKind,
    Interest,
    InterestKind,
    ReaderEvent,
    SourceKind,
    Stance,
)

FORMAT: Literal["tidings-reader"] = "tidings-reader"
VERSION: Literal[1] = 1
#: The OPML folder of the feeds a reader follows.
FOLLOWING_FOLDER = "Following"
#: Bounds on what one file may hold, far above any real reader's (a reader who opens a
#: page of 20 items ten times a day for ten years has 730,000 impressions; the bound is for
#: files made by hand, which must not hold the server for minutes).
MAX_INTERESTS = 10_000
MAX_ARTICLES = 200_000
MAX_EVENTS = 1_000_000
#: Events written per transaction on import.
EVENT_BATCH = 5_000
#: Feeds an import may subscribe to (a reader adds them one by one on the page).
MAX_NEW_SOURCES = 500

Text = Annotated[str, Field(max_length=2_000)]
LongText = Annotated[str, Field(max_length=2_000_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class FileArticle(_Strict):
    """An article the file names (saved, clipped, or in an event)."""

    title: Text | None = None
    url: Text | None = None
    canonical_url: Text | None = None
    published: datetime | None = None
    #: The source it came from (its name), for people reading the file.
    source: Text | None = None
    site_name: Text | None = None
    summary: LongText | None = None
    #: The whole text, for the reader's clippings only.
    body: LongText | None = None


class FileInterest(_Strict):
    kind: InterestKind
    stance: Stance
    #: What names it on any instance: an entity's name, a topic's id, a source's feed URL,
    #: a story's article (a key of ``articles``), an author or keyword as written.
    value: Text
    label: Text | None = None
    created: datetime | None = None


class FileEvent(_Strict):
    kind: EventKind
    #: A key of ``articles``.
    article: Text
    at: datetime
    value: float | None = None


class FileClipping(_Strict):
    article: Text
    added: datetime


class FileSettings(_Strict):
    exploration: float = Field(ge=0, le=0.5)
    diversity: float = Field(ge=0, le=1)
    email: Text | None = None
    digest: DigestFrequency = DigestFrequency.OFF


class FileReader(_Strict):
    name: Text
    created: datetime | None = None


class ReaderFile(_Strict):
    """Everything of one reader (the module's docstring)."""

    format: Literal["tidings-reader"] = FORMAT
    version: Literal[1] = VERSION
    exported: datetime
    reader: FileReader
    settings: FileSettings
    interests: Annotated[list[FileInterest], Field(max_length=MAX_INTERESTS)] = []
    #: The keys of saved articles, most recently saved first.
    saved: Annotated[list[Text], Field(max_length=MAX_ARTICLES)] = []
    clippings: Annotated[list[FileClipping], Field(max_length=MAX_ARTICLES)] = []
    events: Annotated[list[FileEvent], Field(max_length=MAX_EVENTS)] = []
    #: Every article named above, by key.
    articles: Annotated[dict[str, FileArticle], Field(max_length=MAX_ARTICLES)] = {}


@dataclass
class ImportReport:
    """What an import did."""

    follows: int = 0
    mutes: int = 0
    saved: int = 0
    clippings: int = 0
    events: int = 0
    #: Articles stored from the file because this instance did not have them.
    articles_added: int = 0
    sources_added: int = 0
    settings: bool = False
    #: What could not be found here, one line each ("entity: Deep Throat").
    skipped: list[str] = field(default_factory=list)


def article_key(article: Article) -> str:
    """How a file names an article: its canonical URL, else its address, else the id it is
    stored by (a pasted page's content hash). Pure."""
    return article.canonical_url or article.url or article.guid or f"sha256:{article.content_hash}"


def clipping_source(article: Article) -> str:
    """Where a reader's clipping came from, as a list shows it: the publisher's name the
    page gave, else the address's host, else "Pasted page". Pure."""
    if article.site_name:
        return article.site_name
    for url in (article.url, article.canonical_url):
        if (found := _web_url(url)) is not None:
            host = urlsplit(found).hostname or ""
            return host.removeprefix("www.")
    return "Pasted page"


def _web_url(text: str | None) -> str | None:
    if not text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme in ("http", "https") and parts.hostname else None


def parse_reader_file(data: bytes | str) -> ReaderFile:
    """Read an exported file. Raises InvalidInputError saying what is wrong with it."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"not a Tidings export: the file is not JSON ({e})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InvalidInputError(
            f'not a Tidings export: it has no "format": "{FORMAT}" (an OPML file is imported '
            "as sources)"
        )
    try:
        return ReaderFile.model_validate(raw)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"not a Tidings export: {where}: {first['msg']}") from None


class ReaderData:
    """Export and import of one reader's data, through the engine's own operations (this
    module sits above the engine, as the command line and the API do)."""

    def __init__(self, engine: Engine, *, clippings_source: str = CLIPPINGS_SOURCE) -> None:
        self.engine = engine
        self.storage = engine.storage
        #: The hand-kept source that readers' own articles are stored under.
        self.clippings_source = clippings_source

    # --- export --------------------------------------------------------------------------

    def export(self, reader: int | str) -> ReaderFile:
        engine, storage = self.engine, self.storage
        who = engine.readers.get_reader(reader)
        account = engine.accounts.account(who.id)
        articles: dict[str, FileArticle] = {}
        names = {h.source.id: h.source.title or h.source.url for h in engine.list_sources()}

        # What each article's entry holds: its address and title for an event, a saved one
        # its summary too (to be stored again where it is missing), a clipping its text.
        detail: dict[str, int] = {}

        def key_of(article: Article, level: int = 0) -> str:
            key = article_key(article)
            if detail.get(key, -1) < level:
                detail[key] = level
                articles[key] = FileArticle(
                    title=article.title,
                    url=article.url,
                    canonical_url=article.canonical_url,
                    published=article.published,
                    source=names.get(article.source_id),
                    site_name=article.site_name,
                    summary=article.summary if level >= 1 else None,
                    body=article.body if level >= 2 else None,
                )
            return key

        clippings = [
            FileClipping(article=key_of(a, 2), added=at)
            for a, at in storage.clipped_articles(who.id, limit=MAX_ARTICLES)
        ]
        saved = [key_of(a, 1) for a in storage.saved_articles(who.id, limit=MAX_ARTICLES)]
        history = storage.reader_events(who.id, limit=MAX_EVENTS)
        known = {a.id: a for a in self._articles([e.article_id for e in history])}
        events = [
            FileEvent(kind=e.kind, article=key_of(known[e.article_id]), at=e.at, value=e.value)
            for e in reversed(history)  # oldest first, as they happened
            if e.article_id in known
        ]
        interests = [self._portable(i, key_of) for i in engine.readers.interests(who.id)]
        return ReaderFile(
            exported=engine.now(),
            reader=FileReader(name=who.name, created=who.created),
            settings=FileSettings(
                exploration=who.exploration,
                diversity=who.diversity,
                email=account.email,
                digest=account.digest,
            ),
            interests=[i for i in interests if i is not None],
            saved=saved,
            clippings=clippings,
            events=events,
            articles=articles,
        )

    def _articles(self, ids: Sequence[int]) -> list[Article]:
        found = []
        for article_id in dict.fromkeys(ids):
            try:
                found.append(self.storage.get_article(article_id))
            except NotFoundError:
                continue
        return found

    def _portable(
        self, interest: Interest, key_of: Callable[[Article], str]
    ) -> FileInterest | None:
        """An interest as any instance can find it again."""
        value = interest.value
        try:
            if interest.kind is InterestKind.ENTITY:
                value = self.storage.get_entity(int(value)).name
            elif interest.kind is InterestKind.SOURCE:
                value = self.storage.get_source(int(value)).url
            elif interest.kind is InterestKind.STORY:
                story = self.storage.get_story(int(value))
                if story.representative_id is None:
                    return None
                value = key_of(self.storage.get_article(story.representative_id))
        except (NotFoundError, ValueError):
            return None
        return FileInterest(
            kind=interest.kind,
            stance=interest.stance,
            value=value,
            label=interest.label,
            created=interest.created,
        )

    def export_opml(self, reader: int | str) -> str:
        """The web feeds the reader reads (not muted), those they follow in a folder."""
        who = self.engine.readers.get_reader(reader)
        stances = {
            i.value: i.stance
            for i in self.engine.readers.interests(who.id)
            if i.kind is InterestKind.SOURCE
        }
        chosen = []
        for health in self.engine.list_sources():
            source = health.source
            stance = stances.get(str(source.id))
            if source.kind is not SourceKind.FEED or stance is Stance.MUTE:
                continue
            folder = (FOLLOWING_FOLDER,) if stance is Stance.FOLLOW else ()
            chosen.append(replace(source, tags=folder))
        return write_opml(chosen, title=f"Feeds {who.name} reads on Tidings")

    # --- import --------------------------------------------------------------------------

    def import_any(self, reader: int | str, data: bytes) -> ImportReport:
        """Import an exported file (JSON) or an OPML file of feeds, told apart by their first
        character. Raises InvalidInputError or OPMLError for a file that is neither."""
        if data.lstrip()[:1] == b"{":
            return self.import_file(reader, data)
        return self.import_opml(reader, data)

    def import_file(self, reader: int | str, data: bytes | str) -> ImportReport:
        """Import an exported file into the reader's account (the module's docstring).
        Raises InvalidInputError for a file that is not one."""
        return self.import_data(reader, parse_reader_file(data))

    def import_data(self, reader: int | str, data: ReaderFile) -> ImportReport:
        engine = self.engine
        who = engine.readers.get_reader(reader)
        report = ImportReport()
        wanted = set(data.saved) | {c.article for c in data.clippings}
        found = self._find(data.articles)
        for key in sorted(wanted - found.keys()):
            entry = data.articles.get(key)
            if entry is None:
                report.skipped.append(f"article: {key} (not described in the file)")
                continue
            try:
                found[key] = self._store(key, entry)
            except TidingsError as e:
                report.skipped.append(f"article: {entry.title or key} ({e})")
                continue
            report.articles_added += 1
        if report.articles_added and engine.settings.enrich:
            engine.enrich_safely()

        engine.readers.set_reader_settings(
            who.id, exploration=data.settings.exploration, diversity=data.settings.diversity
        )
        try:
            engine.accounts.set_account(
                who.id, email=data.settings.email, digest=data.settings.digest
            )
        except InvalidInputError as e:
            report.skipped.append(f"email settings ({e})")
        report.settings = True

        for interest in data.interests:
            self._import_interest(who.id, interest, found, report)

        for key in reversed(data.saved):  # oldest first, so the newest is saved last
            if key in found:
                engine.readers.save_article(who.id, found[key].id)
                report.saved += 1
        for clipping in data.clippings:
            if clipping.article in found:
                self.storage.add_clipping(who.id, found[clipping.article].id, at=clipping.added)
                report.clippings += 1

        report.events = self._import_events(who.id, data.events, found, report)
        return report

    def _find(self, entries: dict[str, FileArticle]) -> dict[str, Article]:
        """The articles of the file this instance has, by key."""
        by_url: dict[str, str] = {}
        others: list[str] = []
        for key, entry in entries.items():
            urls = {_web_url(u) for u in (entry.canonical_url, entry.url, key)} - {None}
            if not urls:
                others.append(key)
            for url in urls:
                assert url is not None
                by_url[canonicalize_url(url)] = key
                by_url.setdefault(url, key)
        found: dict[str, Article] = {}
        for url, article in self.storage.articles_by_address(list(by_url)).items():
            found.setdefault(by_url[url], article)
        if others:
            try:
                source = self.storage.get_source(f"manual:{self.clippings_source}")
            except NotFoundError:
                return found
            for article in self.storage.find_articles(source.id, guids=others):
                found[article.guid or ""] = article
        return found

    def _store(self, key: str, entry: FileArticle) -> Article:
        url = _web_url(entry.url) or _web_url(entry.canonical_url)
        draft = ArticleDraft(
            url=url,
            canonical_url=_web_url(entry.canonical_url) or url,
            # A pasted page had no address: it keeps the id it was stored by, so that the
            # next import of the same file finds it.
            guid=None if url else key,
            title=entry.title,
            published=entry.published,
            summary=entry.summary,
            body=entry.body,
            site_name=entry.site_name or entry.source,
        )
        return self.engine.ingestion.store_draft(draft, source_name=self.clippings_source)

    def _import_interest(
        self,
        reader_id: int,
        interest: FileInterest,
        found: dict[str, Article],
        report: ImportReport,
    ) -> None:
        engine = self.engine
        value = interest.value
        what = f"{interest.kind.value}: {interest.label or value}"
        try:
            if interest.kind is InterestKind.SOURCE:
                value = str(self._source_for(value, interest.label, report))
            elif interest.kind is InterestKind.STORY:
                article = found.get(value) or self._find({value: FileArticle(url=value)}).get(value)
                insight = engine.article_insight(article.id) if article else None
                if insight is None or insight.story is None:
                    report.skipped.append(what)
                    return
                value = str(insight.story.id)
            elif interest.label and " ".join(interest.label.split()).casefold() == value:
                value = interest.label  # an author or keyword, as the reader wrote it
            act = engine.readers.follow if interest.stance is Stance.FOLLOW else engine.readers.mute
            act(reader_id, interest.kind, value)
        except (NotFoundError, InvalidInputError):
            report.skipped.append(what)
            return
        if interest.stance is Stance.FOLLOW:
            report.follows += 1
        else:
            report.mutes += 1

    def _source_for(self, url: str, title: str | None, report: ImportReport) -> int:
        """The id of the source with this feed URL, subscribing to a web feed that is not
        here yet. Raises NotFoundError for one that cannot be added."""
        try:
            return self.engine.get_source(url).id
        except NotFoundError:
            if _web_url(url) is None or report.sources_added >= MAX_NEW_SOURCES:
                raise
        try:
            source = self.engine.add_source(url, title=title or None)
        except TidingsError as e:
            raise NotFoundError(str(e), resource=url) from e
        report.sources_added += 1
        return source.id

    def _import_events(
        self,
        reader_id: int,
        events: Sequence[FileEvent],
        found: dict[str, Article],
        report: ImportReport,
    ) -> int:
        missing = {e.article for e in events if e.article not in found}
        found.update(self._find({k: FileArticle(url=k) for k in missing if _web_url(k)}))
        known = {
            (e.kind, e.article_id, e.at)
            for e in self.storage.reader_events(reader_id, limit=MAX_EVENTS)
        }
        now = self.engine.now()
        todo = []
        left_out = 0
        for e in events:
            article = found.get(e.article)
            at = e.at if e.at.tzinfo is not None else e.at.replace(tzinfo=UTC)
            event = ReaderEvent(
                kind=e.kind, article_id=article.id if article else 0, at=at, value=e.value
            )
            if article is None or (e.kind, article.id, at) in known or event_problem(event, now):
                left_out += article is None
                continue
            known.add((e.kind, article.id, at))
            todo.append(event)
        for start in range(0, len(todo), EVENT_BATCH):
            self.engine.readers.record_events(reader_id, todo[start : start + EVENT_BATCH])
        if left_out:
            report.skipped.append(f"events: {left_out} about articles this Tidings does not have")
        return len(todo)

    def import_opml(self, reader: int | str, data: bytes) -> ImportReport:
        """Subscribe to the web feeds of an OPML file that are not here yet, and follow
        those in its "Following" folder. Raises OPMLError."""
        who = self.engine.readers.get_reader(reader)
        report = ImportReport()
        for entry in parse_opml(data):
            try:
                source_id = self._source_for(entry.url, entry.title, report)
            except NotFoundError as e:
                report.skipped.append(f"source: {entry.url} ({e})")
                continue
            if FOLLOWING_FOLDER in entry.tags:
                self.engine.readers.follow(who.id, InterestKind.SOURCE, str(source_id))
                report.follows += 1
        return report
