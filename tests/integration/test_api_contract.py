"""A contract test of the HTTP API against its own OpenAPI schema (schemathesis): for any
input the schema allows, and much it does not, the API answers without a server error,
both to anonymous callers and to a reader with an API token."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings

import tidings.accounts
from tests.integration.test_enrich import MEETING, QUAKE, draft, store
from tidings.api.app import create_app
from tidings.config import load_settings
from tidings.engine import Engine, make_engine
from tidings.errors import AuthenticationError, ReaderNotFoundError
from tidings.types import TokenKind

pytestmark = pytest.mark.integration

#: Examples per operation and caller: 36 operations twice, under a minute in all
#: (``TIDINGS_CONTRACT_EXAMPLES=200`` for a deeper run).
EXAMPLES = int(os.environ.get("TIDINGS_CONTRACT_EXAMPLES", "15"))


#: The app under test. Built at import, because schemathesis reads the schema when the
#: tests are collected (the schema does not depend on the data); the engine it serves is
#: set by the ``contract`` fixture before any request.
APP = create_app(cast(Engine, None))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


class Contract:
    """A reader's API token, renewed when a generated request happens to revoke it (or to
    delete the reader: ``DELETE /api/me``, after which the reader signs up again)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.secret = ""
        self.renew()

    def renew(self) -> None:
        try:
            self.engine.readers.get_reader("contract")
        except ReaderNotFoundError:
            self.engine.accounts.sign_up("contract", "a long enough password")
        _, self.secret = self.engine.accounts.create_token("contract", "schemathesis")

    def headers(self) -> dict[str, str]:
        try:
            self.engine.accounts.reader_for_token(self.secret, TokenKind.API)
        except AuthenticationError:
            self.renew()
        return {"Authorization": f"Bearer {self.secret}"}


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    tmp: Path = tmp_path_factory.mktemp("contract")
    env = {"TIDINGS_DATA_DIR": str(tmp), "TIDINGS_ENRICH": "0", "TIDINGS_ADMINS": "contract"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tidings.accounts, "_HASHER", PasswordHasher(1, 8, 1))
        patch.setattr(tidings.accounts, "_DUMMY", None)
        with make_engine(load_settings(env=env, config_file=None)) as engine:
            store(engine, "https://wire.example/feed", [draft("m", *MEETING, 0)])
            store(engine, "https://paper.example/feed", [draft("q", *QUAKE, 1)])
            APP.state.engine = engine
            yield Contract(engine)


contract_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def assert_no_server_error(response: Any, case: Any) -> None:
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400 and (case.formatted_path.startswith(("/api/", "/feeds/"))):
        body = response.json()
        assert set(body) == {"error", "message"}, body


@schema.parametrize()
@contract_settings
def test_no_server_error_for_anyone(case: Any, contract: Contract) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.cookies = {}
    assert_no_server_error(case.call(), case)


@schema.parametrize()
@contract_settings
def test_no_server_error_for_a_reader(case: Any, contract: Contract) -> None:
    case.cookies = {}
    assert_no_server_error(case.call(headers=contract.headers()), case)


def test_the_schema_is_what_the_contract_runs_on() -> None:
    paths = APP.openapi()["paths"]
    assert "/api/feed" in paths and "/feeds/{secret}.atom" in paths
