"""The HTTP API's accounts: sign-up and sign-in, sessions and CSRF, API tokens, settings,
private-feed URLs, operators, rate limits, and what every response carries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

import tidings.accounts
from tests.integration.test_enrich import MEETING, draft, store
from tidings.accounts import SESSION_LIFETIME
from tidings.api.app import create_app
from tidings.api.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from tidings.api.limits import AuthRateLimits, SlidingWindowLimiter
from tidings.config import load_settings
from tidings.engine import Engine, make_engine
from tidings.types import TokenKind

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its defaults takes most of a second here: these tests are about the API,
    so they hash with the cheapest parameters."""
    monkeypatch.setattr(tidings.accounts, "_HASHER", PasswordHasher(1, 8, 1))
    monkeypatch.setattr(tidings.accounts, "_DUMMY", None)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    settings = load_settings(
        env={"TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_ENRICH": "0", "TIDINGS_ADMINS": "root"},
        config_file=None,
    )
    with make_engine(settings) as engine:
        yield engine


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(engine)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def signed_in(app: FastAPI, name: str, password: str = PASSWORD) -> TestClient:
    """A browser signed up as ``name``: the session cookie kept, the CSRF header sent."""
    browser = TestClient(app)
    response = browser.post("/api/signup", json={"name": name, "password": password})
    assert response.status_code == 201, response.text
    browser.headers[CSRF_HEADER] = response.json()["csrf"]
    return browser


def with_token(app: FastAPI, name: str) -> TestClient:
    """A program holding an API token of a new reader ``name`` (and no cookie)."""
    browser = signed_in(app, name)
    secret = browser.post("/api/tokens", json={"name": "script"}).json()["secret"]
    program = TestClient(app)
    program.headers["Authorization"] = f"Bearer {secret}"
    return program


def assert_error(response: Any, status: int, key: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"]
    if key is not None:
        assert body["error"] == key
    return body


def test_sign_up_sets_a_safe_session_cookie(client: TestClient, engine: Engine) -> None:
    response = client.post(
        "/api/signup", json={"name": "ana", "password": PASSWORD, "email": "ana@example.org"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["reader"]["name"] == "ana" and body["csrf"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=tds_")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={int(SESSION_LIFETIME.total_seconds())}" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure (next test)
    me = client.get("/api/me").json()
    assert me["reader"]["name"] == "ana" and me["account"]["email"] == "ana@example.org"
    assert me["csrf"] == body["csrf"] and me["admin"] is False
    assert engine.accounts.authenticate("ana", PASSWORD).name == "ana"


def test_cookie_is_secure_over_https(app: FastAPI) -> None:
    client = TestClient(app, base_url="https://tidings.example")
    response = client.post("/api/signup", json={"name": "ana", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("body", "status", "key"),
    [
        ({"name": "ana", "password": "short"}, 422, "invalid_input"),
        ({"name": "has space", "password": PASSWORD}, 422, "invalid_input"),
        ({"name": "bo", "password": PASSWORD, "email": "nope"}, 422, "invalid_input"),
        ({"name": "bo"}, 422, "invalid"),
        ({"name": "bo", "password": PASSWORD, "admin": True}, 422, "invalid"),
        ({"name": "taken", "password": PASSWORD}, 409, "reader_exists"),
    ],
)
def test_bad_sign_ups_are_clear_4xx(
    client: TestClient, body: dict[str, object], status: int, key: str
) -> None:
    client.post("/api/signup", json={"name": "taken", "password": PASSWORD})
    fresh = TestClient(client.app)
    assert_error(fresh.post("/api/signup", json=body), status, key)


def test_login_and_logout(app: FastAPI, engine: Engine) -> None:
    engine.accounts.sign_up("ana", PASSWORD)
    browser = TestClient(app)
    assert_error(browser.get("/api/me"), 401, "authentication")
    wrong = browser.post("/api/login", json={"name": "ana", "password": "wrong password"})
    assert_error(wrong, 401, "authentication")
    unknown = browser.post("/api/login", json={"name": "nobody", "password": PASSWORD})
    assert unknown.json() == wrong.json()  # says nothing about which names exist
    response = browser.post("/api/login", json={"name": "ana", "password": PASSWORD})
    assert response.status_code == 200
    session = browser.cookies[SESSION_COOKIE]
    assert response.json()["csrf"] == csrf_token(session)
    assert browser.get("/api/me").json()["reader"]["name"] == "ana"
    # Signing out needs the CSRF header too: another site must not sign the reader out.
    assert_error(browser.post("/api/logout"), 403, "csrf")
    out = browser.post("/api/logout", headers={CSRF_HEADER: response.json()["csrf"]})
    assert out.status_code == 204
    assert SESSION_COOKIE not in browser.cookies
    # The session is over on the server, not just forgotten by the browser.
    stale = TestClient(app, cookies={SESSION_COOKIE: session})
    assert_error(stale.get("/api/me"), 401)


def test_csrf_is_required_for_cookie_changes_only(app: FastAPI) -> None:
    browser = signed_in(app, "ana")
    csrf = browser.headers.pop(CSRF_HEADER)
    change = {"exploration": 0.2}
    assert_error(browser.patch("/api/me", json=change), 403, "csrf")
    assert_error(browser.patch("/api/me", json=change, headers={CSRF_HEADER: "x" * 40}), 403)
    assert browser.patch("/api/me", json=change, headers={CSRF_HEADER: csrf}).status_code == 200
    assert browser.get("/api/me").status_code == 200  # reading needs no token
    # A program with an API token needs no CSRF token (a browser never sends that header).
    program = with_token(app, "bo")
    assert program.patch("/api/me", json=change).status_code == 200


def test_settings_change_and_validation(app: FastAPI) -> None:
    browser = signed_in(app, "ana")
    body = browser.patch(
        "/api/me",
        json={"exploration": 0.3, "diversity": 0.9, "email": "a@example.org", "digest": "daily"},
    ).json()
    assert body["reader"]["exploration"] == 0.3 and body["reader"]["diversity"] == 0.9
    assert body["account"] == {
        "email": "a@example.org",
        "has_password": True,
        "digest": "daily",
        "digest_last_sent": None,
    }
    # Only what is sent changes; an empty email removes the address.
    body = browser.patch("/api/me", json={"email": ""}).json()
    assert body["account"]["email"] is None and body["account"]["digest"] == "daily"
    assert body["reader"]["exploration"] == 0.3
    for bad in ({"exploration": 0.9}, {"diversity": -1}, {"digest": "hourly"}, {"x": 1}):
        assert_error(browser.patch("/api/me", json=bad), 422)
    assert_error(browser.patch("/api/me", json={"email": "nope"}), 422, "invalid_input")


def test_password_change_ends_other_sessions(app: FastAPI, engine: Engine) -> None:
    browser = signed_in(app, "ana")
    other = TestClient(app)
    other.post("/api/login", json={"name": "ana", "password": PASSWORD})
    assert other.get("/api/me").status_code == 200
    new = "a new long password"
    wrong = browser.put("/api/me/password", json={"current": "not it at all", "password": new})
    assert_error(wrong, 403, "forbidden")
    response = browser.put("/api/me/password", json={"current": PASSWORD, "password": new})
    assert response.status_code == 200
    # This browser got a new session (and CSRF token); the other one is signed out.
    browser.headers[CSRF_HEADER] = response.json()["csrf"]
    assert browser.get("/api/me").status_code == 200
    assert_error(other.get("/api/me"), 401)
    assert engine.accounts.authenticate("ana", new).name == "ana"


def test_api_tokens(app: FastAPI, engine: Engine) -> None:
    browser = signed_in(app, "ana")
    made = browser.post("/api/tokens", json={"name": "my script"})
    assert made.status_code == 201
    token = made.json()
    assert token["secret"].startswith("tda_") and token["name"] == "my script"
    listed = browser.get("/api/tokens").json()
    assert [t["id"] for t in listed] == [token["id"]]
    assert "secret" not in listed[0]  # shown once only
    program = TestClient(app, headers={"Authorization": f"Bearer {token['secret']}"})
    assert program.get("/api/me").json()["reader"]["name"] == "ana"
    assert program.get("/api/me").json()["csrf"] is None
    assert browser.delete(f"/api/tokens/{token['id']}").status_code == 204
    assert_error(program.get("/api/me"), 401, "authentication")
    assert_error(browser.delete("/api/tokens/999999"), 404, "token_not_found")
    assert_error(browser.post("/api/tokens", json={"name": ""}), 422)
    # A wrong token is an error, not an anonymous call.
    bad = TestClient(app, headers={"Authorization": "Bearer tda_nope"})
    assert_error(bad.get("/api/interests"), 401)
    assert all(t.revoked for t in engine.accounts.list_tokens("ana", kind=TokenKind.API))


def test_private_feed_urls_are_secret_and_replaceable(app: FastAPI, engine: Engine) -> None:
    ids = store(engine, "https://wire.example/feed", [draft("m", *MEETING, 0)])
    assert ids
    browser = signed_in(app, "ana")
    made = browser.post("/api/me/private-feed")
    assert made.status_code == 201
    urls = made.json()
    assert urls["atom_url"].startswith("http://testserver/feeds/tdf_")
    assert urls["atom_url"].endswith(".atom") and urls["json_url"].endswith(".json")
    reader = TestClient(app)  # a feed reader: no cookie, no token
    atom = reader.get(urls["atom_url"])
    assert atom.status_code == 200
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert "private" in atom.headers["cache-control"]
    assert atom.text.startswith("<?xml") and "Tidings: ana" in atom.text
    feed = reader.get(urls["json_url"])
    assert feed.headers["content-type"].startswith("application/feed+json")
    assert feed.json()["version"] == "https://jsonfeed.org/version/1.1"
    # New URLs: the old ones stop working, with a 404 that names no one.
    renewed = browser.post("/api/me/private-feed").json()
    gone = assert_error(reader.get(urls["atom_url"]), 404, "not_found")
    assert "ana" not in gone["message"]
    assert reader.get(renewed["json_url"]).status_code == 200
    assert browser.delete("/api/me/private-feed").status_code == 204
    assert_error(reader.get(renewed["json_url"]), 404)
    assert_error(reader.get("/feeds/nonsense.atom"), 404)
    # A session or API secret is not a feed secret.
    session = browser.cookies[SESSION_COOKIE]
    assert_error(reader.get(f"/feeds/{session}.atom"), 404)


def test_sources_added_by_readers_removed_by_operators(app: FastAPI, engine: Engine) -> None:
    anonymous = TestClient(app)
    new = {"url": "https://news.example/feed.xml", "title": "News", "tags": ["world"]}
    assert_error(anonymous.post("/api/sources", json=new), 401)
    ana = signed_in(app, "ana")
    added = ana.post("/api/sources", json=new)
    assert added.status_code == 201
    source = added.json()
    assert source["title"] == "News" and source["tags"] == ["world"] and source["kind"] == "feed"
    assert_error(ana.post("/api/sources", json=new), 409, "source_exists")
    for url in ("/etc/passwd", "file:///etc/", "ftp://x.example/f", "not a url"):
        assert_error(ana.post("/api/sources", json={"url": url}), 422, "invalid_url")
    assert [s["id"] for s in anonymous.get("/api/sources").json()] == [source["id"]]
    assert_error(ana.delete(f"/api/sources/{source['id']}"), 403, "forbidden")
    root = signed_in(app, "root")
    assert root.get("/api/me").json()["admin"] is True
    assert_error(root.delete("/api/sources/999999"), 404, "source_not_found")
    assert root.delete(f"/api/sources/{source['id']}").status_code == 204
    assert anonymous.get("/api/sources").json() == []


def test_the_eleventh_login_in_a_minute_is_refused(app: FastAPI, engine: Engine) -> None:
    engine.accounts.sign_up("ana", PASSWORD)
    browser = TestClient(app)
    for _ in range(10):
        response = browser.post("/api/login", json={"name": "ana", "password": "wrong guess"})
        assert response.status_code == 401
    refused = browser.post("/api/login", json={"name": "ana", "password": PASSWORD})
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Counted per name as well: another address guessing the same name is refused too.
    limits: AuthRateLimits = app.state.auth_limits
    limits.by_address.clear()
    assert_error(browser.post("/api/login", json={"name": "ana", "password": PASSWORD}), 429)
    # Sign-ups are limited apart from logins.
    assert browser.post("/api/signup", json={"name": "bo", "password": PASSWORD}).status_code == 201


def test_sign_ups_are_rate_limited(app: FastAPI) -> None:
    app.state.auth_limits = AuthRateLimits(limit=2)
    browser = TestClient(app)
    for name in ("a1", "a2"):
        assert browser.post("/api/signup", json={"name": name, "password": PASSWORD}).is_success
    third = browser.post("/api/signup", json={"name": "a3", "password": PASSWORD})
    assert_error(third, 429, "rate_limited")


def test_sliding_window_forgets_old_attempts() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(2, 60.0, clock=lambda: now[0], max_keys=2)
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert limiter.hit("a") == pytest.approx(60.0)
    now[0] = 30.0
    assert limiter.hit("a") == pytest.approx(30.0)
    now[0] = 60.5
    assert limiter.hit("a") == 0
    # Bounded memory: the least recently used key is forgotten first.
    limiter.hit("b")
    limiter.hit("c")
    assert set(limiter._hits) == {"b", "c"}


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for response in (
        client.get("/api/health"),
        client.get("/api/nowhere"),
        client.post("/api/login", content=b"{"),
    ):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "base-uri 'none'" in csp and "form-action 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert "camera=()" in headers["permissions-policy"]


def test_errors_keep_one_shape(client: TestClient) -> None:
    assert_error(client.get("/api/nowhere"), 404, "not_found")
    assert_error(client.get("/feeds/x/y"), 404, "not_found")
    method = assert_error(client.delete("/api/health"), 405, "method_not_allowed")
    assert method["message"]
    assert_error(client.post("/api/login", content=b"{not json"), 422, "invalid")
    assert_error(client.post("/api/login", json=[1, 2]), 422, "invalid")
    assert_error(client.get("/api/articles/99999999999999999999999"), 422, "invalid")
    # The JSON listing at / is gone: the reader's pages take it.
    assert client.get("/").headers.get("content-type", "").startswith("application/json") is False


def test_large_bodies_are_refused(client: TestClient) -> None:
    huge = b'{"name": "' + b"a" * (1024 * 1024 + 10) + b'", "password": "x"}'
    declared = client.post("/api/login", content=huge, headers={"content-type": "application/json"})
    assert_error(declared, 413, "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield huge[: len(huge) // 2]
        yield huge[len(huge) // 2 :]

    streamed = client.post(
        "/api/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(streamed, 413, "too_large")


def test_openapi_documents_routes_and_security(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": schemes["session"]["description"],
    }
    assert schemes["token"]["scheme"] == "bearer"
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
    feed = schema["paths"]["/api/feed"]["get"]
    assert {"session": []} in feed["security"] and {"token": []} in feed["security"]
    assert feed["responses"]["200"]["content"]["application/json"]["schema"]
    assert "/" not in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_pages_keep_their_own_error_pages(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the reader's pages install HTML error handlers, API paths keep the JSON shape."""
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse

    import tidings.web

    def install(app: FastAPI) -> None:
        async def page_error(_: Request, exc: Exception) -> HTMLResponse:
            assert isinstance(exc, HTTPException)
            return HTMLResponse("<h1>Not here</h1>", status_code=exc.status_code)

        app.add_exception_handler(HTTPException, page_error)

    monkeypatch.setattr(tidings.web, "install", install)
    client = TestClient(create_app(engine))
    assert client.get("/nowhere").text == "<h1>Not here</h1>"
    assert_error(client.get("/api/nowhere"), 404, "not_found")


def test_operators_are_named_in_the_environment_or_the_file(tmp_path: Path) -> None:
    assert load_settings(env={"TIDINGS_ADMINS": " ana, bo ,"}, config_file=None).admins == (
        "ana",
        "bo",
    )
    toml = tmp_path / "tidings.toml"
    toml.write_text('admins = ["root"]\n')
    assert load_settings(env={}, config_file=toml).admins == ("root",)
    assert load_settings(env={}, config_file=None).admins == ()
