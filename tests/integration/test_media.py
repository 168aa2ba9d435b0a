"""The media proxy through the real app: a real loopback server serves pictures (and things
that are not), and the app fetches them through the safe fetcher; what it refuses, it
refuses before or instead of serving a byte."""

from __future__ import annotations

import base64
import ipaddress
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.loopback import LoopbackServer
from tidings.api.app import create_app
from tidings.api.middleware import CONTENT_SECURITY_POLICY
from tidings.api.routes.media import media_proxy
from tidings.config import FetchSettings, Settings, load_settings
from tidings.deliver.media import (
    MAX_IMAGE_BYTES,
    SECRET_FILE,
    SECRET_VARIABLE,
    BadSignatureError,
    MediaSigner,
    media_secret,
    proxied_html,
    sniff_image,
)
from tidings.deliver.sanitize import clean_html
from tidings.engine import Engine, make_engine
from tidings.errors import ConfigError

pytestmark = pytest.mark.integration

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


def png(width: int = 2, height: int = 1) -> bytes:
    """A real, valid PNG (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make(tmp_path: Path, *, allow_loopback: bool) -> Iterator[tuple[Engine, FastAPI]]:
    fetch = FetchSettings(allowed_networks=LOOPBACK if allow_loopback else (), attempts=1)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path, fetch=fetch
    )
    with make_engine(settings) as engine:
        yield engine, create_app(engine)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    for _, found in make(tmp_path, allow_loopback=True):
        yield found


@pytest.fixture
def strict_app(tmp_path: Path) -> Iterator[FastAPI]:
    """An app whose operator allows no private networks (the default)."""
    for _, found in make(tmp_path, allow_loopback=False):
        yield found


def proxied(app: FastAPI, url: str) -> str:
    found = media_proxy(app).signer.url(url)
    assert found is not None and found.startswith("/media/")
    return found


def test_a_picture_is_served_from_this_site_with_cache_headers(
    app: FastAPI, loopback: LoopbackServer
) -> None:
    picture = png()
    loopback.serve("/lead.png", picture, content_type="image/png")
    address = proxied(app, loopback.url("/lead.png"))
    # The page's address names neither the publisher nor the picture in the clear.
    assert "127.0.0.1" not in address and "lead.png" not in address
    with TestClient(app) as client:
        first = client.get(address)
        assert first.status_code == 200, first.text
        assert first.content == picture
        assert first.headers["content-type"] == "image/png"
        assert "max-age=604800" in first.headers["cache-control"]
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert first.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in first.headers["content-security-policy"]
        # The publisher saw the server, not the reader: our user agent, no referrer, no
        # cookies, an Accept for pictures.
        (seen,) = loopback.requests("/lead.png")
        assert seen.headers["user-agent"].startswith("Tidings/")
        assert "referer" not in seen.headers and "cookie" not in seen.headers
        assert seen.headers["accept"].startswith("image/")

        # Asked again, it comes from the proxy's memory; a browser's revalidation gets 304.
        again = client.get(address)
        assert again.status_code == 200 and again.content == picture
        unchanged = client.get(address, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and not unchanged.content
        assert loopback.hits("/lead.png") == 1


def test_the_served_type_is_what_the_bytes_are(app: FastAPI, loopback: LoopbackServer) -> None:
    # A publisher that calls its PNG a JPEG: the browser is told the truth.
    loopback.serve("/mislabelled.jpg", png(), content_type="image/jpeg")
    with TestClient(app) as client:
        found = client.get(proxied(app, loopback.url("/mislabelled.jpg")))
    assert found.status_code == 200 and found.headers["content-type"] == "image/png"


def test_an_address_this_server_did_not_sign_is_refused_unfetched(
    app: FastAPI, loopback: LoopbackServer
) -> None:
    loopback.serve("/lead.png", png(), content_type="image/png")
    good = proxied(app, loopback.url("/lead.png"))
    _, _, signature, encoded = good.split("/")
    other = base64.urlsafe_b64encode(loopback.url("/other.png").encode()).rstrip(b"=").decode()
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    stranger = MediaSigner(b"another server's secret, 32 bytes").url(loopback.url("/lead.png"))
    assert stranger is not None
    with TestClient(app) as client:
        for path in (
            f"/media/{signature}/{other}",  # a signature for another URL
            f"/media/{forged_signature}/{encoded}",  # an edited signature
            stranger,  # signed with another secret
            f"/media/{signature}/not-base64!",
        ):
            refused = client.get(path)
            assert refused.status_code in (403, 404, 422), (path, refused.status_code)
            assert refused.headers["cache-control"] == "no-store" or refused.status_code != 403
        assert client.get(f"/media/{signature}/{other}").status_code == 403
        assert "not made by this server" in client.get(stranger).text
    assert loopback.hits("/lead.png") == 0 and loopback.hits("/other.png") == 0


def test_a_private_address_is_refused_unless_the_operator_allows_it(
    strict_app: FastAPI, loopback: LoopbackServer
) -> None:
    loopback.serve("/lead.png", png(), content_type="image/png")
    with TestClient(strict_app) as client:
        refused = client.get(proxied(strict_app, loopback.url("/lead.png")))
    assert refused.status_code == 403
    assert "not allowed" in refused.text
    assert loopback.hits("/lead.png") == 0


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html><body>Not a picture</body></html>", "text/html", "not a picture"),
        (b"<html><body>Not a picture</body></html>", "image/png", "sent no JPEG"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
            "sent no JPEG",
        ),
        (png(), "", "not a picture"),
    ],
    ids=["html", "html-called-png", "svg", "no-type"],
)
def test_what_is_not_a_picture_is_refused(
    app: FastAPI, loopback: LoopbackServer, body: bytes, content_type: str, message: str
) -> None:
    loopback.serve("/thing", body, content_type=content_type)
    with TestClient(app) as client:
        refused = client.get(proxied(app, loopback.url("/thing")))
    assert refused.status_code == 502
    assert message in refused.text
    assert refused.headers["content-type"].startswith("text/plain")
    assert body not in refused.content


def test_an_oversized_picture_is_refused_and_not_fetched_again_at_once(
    app: FastAPI, loopback: LoopbackServer
) -> None:
    huge = png() + b"\x00" * MAX_IMAGE_BYTES
    loopback.serve("/huge.png", huge, content_type="image/png", chunked=True)
    loopback.endless("/declared.png", content_length=10 * MAX_IMAGE_BYTES)
    with TestClient(app) as client:
        for path in ("/huge.png", "/declared.png"):
            address = proxied(app, loopback.url(path))
            refused = client.get(address)
            assert refused.status_code == 502, refused.text
            assert "larger than 5 MiB" in refused.text
            # Remembered: a page full of one broken picture does not fetch it again.
            assert client.get(address).status_code == 502
            assert loopback.hits(path) == 1


def test_a_publisher_error_is_a_bad_gateway(app: FastAPI, loopback: LoopbackServer) -> None:
    loopback.status("/gone.png", 404)
    with TestClient(app) as client:
        refused = client.get(proxied(app, loopback.url("/gone.png")))
    assert refused.status_code == 502 and "404" in refused.text


def test_the_pages_may_load_pictures_from_this_site_only(app: FastAPI) -> None:
    with TestClient(app) as client:
        policy = client.get("/signin").headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "img-src 'self';" in policy


def test_signing_refuses_what_is_not_a_web_address() -> None:
    signer = MediaSigner(b"x" * 32)
    for url in (None, "", "javascript:alert(1)", "data:image/png;base64,AAAA", "/relative.png",
                "file:///etc/passwd", "https://" + "a" * 3000 + ".example/x.png",
                "https://ex ample.org/x.png"):  # fmt: skip
        assert signer.url(url) is None, url
    address = signer.url("https://news.example/pic.jpg?w=300")
    assert address is not None
    _, _, signature, encoded = address.split("/")
    assert signer.verify(signature, encoded) == "https://news.example/pic.jpg?w=300"
    with pytest.raises(BadSignatureError):
        MediaSigner(b"y" * 32).verify(signature, encoded)


def test_sniffing_knows_the_served_formats() -> None:
    assert sniff_image(png()) == "image/png"
    assert sniff_image(b"\xff\xd8\xff\xe0" + b"\x00" * 20) == "image/jpeg"
    assert sniff_image(b"GIF89a" + b"\x00" * 10) == "image/gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"\x00\x00\x00\x1cftypavif\x00\x00") == "image/avif"
    assert sniff_image(b"<svg/>") is None and sniff_image(b"") is None


def test_article_html_pictures_are_proxied_and_nothing_else_changes() -> None:
    signer = MediaSigner(b"z" * 32)
    raw = (
        '<p>Text <a href="https://news.example/more">more</a></p>'
        '<figure><img src="/pics/a.jpg" alt="A" onerror="alert(1)"><figcaption>A</figcaption>'
        '</figure><img src="javascript:alert(1)"><img src="https://cdn.example/b.png">'
    )
    clean = clean_html(raw, base_url="https://news.example/story")
    out = proxied_html(clean, signer)
    a = signer.url("https://news.example/pics/a.jpg")
    b = signer.url("https://cdn.example/b.png")
    assert f'src="{a}"' in out and f'src="{b}"' in out
    assert "cdn.example/b.png" not in out and "news.example/pics" not in out
    assert "onerror" not in out and "javascript" not in out
    assert 'href="https://news.example/more"' in out and "noreferrer" in out
    assert proxied_html("<p>No pictures</p>", signer) == "<p>No pictures</p>"


def test_the_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = media_secret(tmp_path)
    assert media_secret(tmp_path) == first and len(first) >= 32
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o077 == 0
    assert media_secret(tmp_path, "s" * 40) == b"s" * 40
    with pytest.raises(ValueError, match="at least 32"):
        media_secret(tmp_path, "short")


def test_the_secret_is_a_setting_with_its_variable(tmp_path: Path) -> None:
    given = "k" * 40
    settings = load_settings({SECRET_VARIABLE: given, "TIDINGS_DATA_DIR": str(tmp_path)})
    assert settings.media_secret is not None
    assert settings.media_secret.get_secret_value() == given
    assert given not in repr(settings)
    with make_engine(settings) as engine:
        signer = media_proxy(create_app(engine)).signer
        # Signed with the configured secret: another process with the same one agrees.
        assert signer.url("https://a.example/p.png") == MediaSigner(given.encode()).url(
            "https://a.example/p.png"
        )
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(
        ConfigError, match=f"{SECRET_VARIABLE} = \\(hidden\\): expected at least 32"
    ):
        load_settings({SECRET_VARIABLE: "too-short-to-be-a-secret"})


def test_a_data_directory_that_cannot_be_written_still_gives_a_secret(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    # Not even root can make a folder inside a file.
    first = media_secret(blocked / "data")
    assert len(first) >= 32 and media_secret(blocked / "data") != first
