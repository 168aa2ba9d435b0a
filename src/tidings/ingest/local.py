"""Feed files and folders on the local disk: a source kind of their own (``file://`` URLs).

A local source is one feed file or a folder of them, read recursively. Instead of an HTTP
ETag, a read returns a *signature*: a digest of the relative path, size and modification time
of every file considered. Passing it back as ``previous_signature`` makes an unchanged source
cost a directory walk and nothing more.

A file that is not a feed (or too large, or unreadable) gives one error line and never stops
the others; only a missing or unreadable top-level path raises.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tidings.errors import FeedParseError, FetchError, InvalidURLError
from tidings.ingest.feeds import ParsedFeed, parse_feed

__all__ = ["LocalRead", "is_sidecar", "path_from_url", "read_local", "url_from_path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRead:
    """What one read of a local source found."""

    #: Digest of (relative path, size, mtime_ns) of every file considered; stands in for an
    #: ETag. Equal signatures mean nothing changed.
    signature: str
    #: True when ``signature`` equals the previous one; then nothing was parsed.
    not_modified: bool
    #: One parsed feed per file that could be read as one, in path order.
    feeds: tuple[ParsedFeed, ...]
    #: One line per file that could not be read as a feed: ``"name: reason"``.
    errors: tuple[str, ...]


# Expected-output files that test suites keep next to sample feeds: feed-rs writes
# ``x.xml.serde.json``, lemon24/reader ``full.rss.py``; others use ``.expected.json``.
_SIDECAR_SUFFIXES = (".serde.json", ".expected.json", ".expected", ".py", ".pyc")


def is_sidecar(name: str) -> bool:
    """Whether a file name marks an expected-output file kept beside sample feeds."""
    return name.lower().endswith(_SIDECAR_SUFFIXES)


def path_from_url(url: str) -> Path:
    """The absolute path behind a ``file://`` URL or a plain (possibly relative, ``~``) path.

    Raises InvalidURLError for other schemes, ``file://`` URLs naming another host, and
    strings that cannot be a path.
    """
    text = url.strip()
    if not text:
        raise InvalidURLError("empty path", resource=url)
    if "\x00" in text:
        raise InvalidURLError("a path cannot contain NUL characters", resource=url)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidURLError(
                f"file URL names another host ({parts.netloc}); only local files can be read",
                resource=url,
            )
        raw = unquote(parts.path)
        if not raw.startswith("/"):
            raise InvalidURLError("file URL without an absolute path", resource=url)
        if "\x00" in raw:
            raise InvalidURLError("a path cannot contain NUL characters", resource=url)
        return Path(raw).resolve()
    if len(scheme) > 1:  # one letter would be a Windows drive ("C:\\feeds")
        raise InvalidURLError(f"not a local file URL or path ({scheme}:)", resource=url)
    return Path(text).expanduser().resolve()


def url_from_path(path: Path) -> str:
    """The absolute ``file://`` URL of a path."""
    return path.expanduser().resolve().as_uri()


def read_local(
    url: str,
    *,
    previous_signature: str | None = None,
    max_file_bytes: int = 10 * 1024 * 1024,
) -> LocalRead:
    """Read a local feed file, or every feed file under a folder.

    A folder is walked recursively in sorted order, skipping hidden files and folders and
    expected-output sidecars (:func:`is_sidecar`). Files over ``max_file_bytes`` are not
    read (an error line says so). When reading a folder, each entry's guid is prefixed with
    the file's relative path and ``#`` (``world/bbc.xml#https://…``), so two files that share
    guids stay distinct; entries without a guid get one from their link.

    Raises InvalidURLError for a bad URL and FetchError when the path does not exist or
    cannot be listed.
    """
    root = path_from_url(url)
    try:
        root_stat = root.stat()
    except FileNotFoundError as e:
        raise FetchError(f"no such file or folder: {root}", resource=url) from e
    except OSError as e:
        raise FetchError(f"cannot read {root}: {e.strerror}", resource=url) from e

    is_folder = stat.S_ISDIR(root_stat.st_mode)
    listing_errors: list[str] = []
    files = _list_files(root, url, listing_errors) if is_folder else [(root.name, root)]
    signature, problems = _signature(files, max_file_bytes)
    if previous_signature is not None and signature == previous_signature:
        return LocalRead(signature=signature, not_modified=True, feeds=(), errors=())

    feeds = []
    errors = listing_errors
    for relative, path in files:
        problem = problems.get(relative)
        if problem is not None:
            errors.append(f"{relative}: {problem}")
            continue
        try:
            with path.open("rb") as f:
                content = f.read(max_file_bytes + 1)
        except OSError as e:
            errors.append(f"{relative}: cannot read ({e.strerror})")
            continue
        if len(content) > max_file_bytes:  # grew since stat
            errors.append(f"{relative}: {_too_large(len(content), max_file_bytes)}")
            continue
        try:
            feed = parse_feed(content, url=url_from_path(path))
        except FeedParseError as e:
            errors.append(f"{relative}: {e.message}")
            continue
        feeds.append(_prefix_guids(feed, relative) if is_folder else feed)
    return LocalRead(
        signature=signature, not_modified=False, feeds=tuple(feeds), errors=tuple(errors)
    )


def _list_files(root: Path, url: str, errors: list[str]) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of the candidate files under ``root``, sorted.

    A subfolder that cannot be listed adds an error line; the top folder raises FetchError.
    """
    found: list[tuple[str, Path]] = []

    def fail(error: OSError) -> None:
        folder = Path(error.filename or root)
        if folder == root:
            raise FetchError(f"cannot list {root}: {error.strerror}", resource=url) from error
        errors.append(f"{folder.relative_to(root).as_posix()}/: cannot list ({error.strerror})")

    # followlinks=False: a symlink loop cannot trap the walk; linked files are still read.
    for folder, dirnames, filenames in os.walk(root, onerror=fail, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(folder)
        for name in filenames:
            if name.startswith(".") or is_sidecar(name):
                continue
            path = base / name
            found.append((path.relative_to(root).as_posix(), path))
    found.sort(key=lambda item: item[0])
    return found


def _signature(files: list[tuple[str, Path]], max_file_bytes: int) -> tuple[str, dict[str, str]]:
    """The digest over every file's (path, size, mtime), and why some files cannot be read.

    Stat comes before any read, so a file changed while being read shows up as changed at
    the next poll rather than being missed.
    """
    digest = hashlib.sha256(f"tidings-local-v1\0{max_file_bytes}\n".encode())
    problems: dict[str, str] = {}
    for relative, path in files:
        try:
            st = path.stat()
        except OSError as e:
            digest.update(f"{relative}\0unreadable\n".encode("utf-8", "surrogateescape"))
            problems[relative] = f"cannot read ({e.strerror})"
            continue
        digest.update(
            f"{relative}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape")
        )
        if not stat.S_ISREG(st.st_mode):
            problems[relative] = "not a regular file"  # reading a FIFO would block
        elif st.st_size > max_file_bytes:
            problems[relative] = _too_large(st.st_size, max_file_bytes)
    return digest.hexdigest(), problems


def _too_large(size: int, limit: int) -> str:
    return f"too large ({size:,} bytes; the limit is {limit:,})"


def _prefix_guids(feed: ParsedFeed, relative: str) -> ParsedFeed:
    articles = tuple(
        replace(article, guid=f"{relative}#{article.guid or article.url}")
        if article.guid or article.url
        else article
        for article in feed.articles
    )
    return replace(feed, articles=articles)
