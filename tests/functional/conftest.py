"""The gateway over HTTP: the Flask test client, a migrated database on each backend
(rolled back after every test), and real tokens from the real development provider."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from gateway import create_app
from gateway.identity.devidp import DevProvider, DevProviderError, start_dev_provider
from gateway.policy.facts import RequesterCategory
from gateway.settings import load_settings
from tests.integration.store.fixtures import *  # noqa: F403

AUDIENCE = "records-gateway"
# Noon in California on the day the public cases are asked.
CASE_DAY_NOON = datetime(2026, 3, 2, 20, 0, tzinfo=timezone.utc)


# The SIS write API (issue 3): an SIS integration's client, and the scope the district's
# provider grants to SIS integrations only.
SIS_CLIENT = "client-sis-integration"
WRITE_SCOPE = "records:write"


def client_id_for(category: RequesterCategory) -> str:
    return f"client-{category.value.replace('_', '-')}"


@pytest.fixture(scope="session")
def gateway_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProvider]:
    """The development provider with one confidential client per requester category."""
    config = {
        "host": "127.0.0.1", "port": 0, "signing_algs": ["RS256"],
        "resources": [{"indicator": "urn:records-gateway:api", "audience": AUDIENCE,
                       "scopes": ["records:read", WRITE_SCOPE], "access_token_ttl": 600,
                       "alg": "RS256"}],
        # Every client may ask for the write scope, so that tests can show it is the
        # requester's category, not the token alone, that lets a client write.
        "clients": [{"client_id": client_id, "client_secret": "s3cret",
                     "token_endpoint_auth_method": "client_secret_basic",
                     "grant_types": ["client_credentials"], "response_types": [],
                     "redirect_uris": [], "scope": f"records:read {WRITE_SCOPE}"}
                    for client_id in [*map(client_id_for, RequesterCategory), SIS_CLIENT]],
        "users": [],
    }
    path = tmp_path_factory.mktemp("idp") / "config.json"
    path.write_text(json.dumps(config))
    try:
        provider = start_dev_provider(path, "127.0.0.1", 0, timeout=60)
    except DevProviderError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="session")
def token_for(gateway_idp: DevProvider) -> Iterator[Callable[[RequesterCategory], str]]:
    """A client-credentials access token for the client of a requester category."""
    session = requests.Session()
    cache: dict[RequesterCategory, str] = {}

    def get(category: RequesterCategory) -> str:
        if category not in cache:
            response = session.post(f"{gateway_idp.issuer}/token", timeout=10,
                                    auth=(client_id_for(category), "s3cret"),
                                    data={"grant_type": "client_credentials",
                                          "scope": "records:read"})
            assert response.status_code == 200, response.text
            cache[category] = response.json()["access_token"]
        return cache[category]

    yield get
    session.close()


@pytest.fixture(scope="session")
def write_token_for(gateway_idp: DevProvider) -> Iterator[Callable[[str], str]]:
    """A client-credentials token with the write scope, for a client id."""
    session = requests.Session()
    cache: dict[str, str] = {}

    def get(client_id: str) -> str:
        if client_id not in cache:
            response = session.post(f"{gateway_idp.issuer}/token", timeout=10,
                                    auth=(client_id, "s3cret"),
                                    data={"grant_type": "client_credentials",
                                          "scope": f"records:read {WRITE_SCOPE}"})
            assert response.status_code == 200, response.text
            cache[client_id] = response.json()["access_token"]
        return cache[client_id]

    yield get
    session.close()


@pytest.fixture
def app(database_url, session_factory, keys, gateway_idp: DevProvider,
        tmp_path: Path) -> Iterator[Flask]:
    settings = load_settings(environ={}, overrides={
        "database_url": str(database_url), "oidc_issuer": gateway_idp.issuer,
        "oidc_audience": AUDIENCE, "data_dir": tmp_path, "environment": "test"})
    app = create_app(settings=settings)
    services = app.extensions["gateway"]
    # The test's own connection, whose commits are savepoints rolled back afterwards.
    services.sessions = session_factory
    services.keys = keys
    services.clock = lambda: CASE_DAY_NOON
    yield app
    services.database.dispose()
    if services.tokens is not None:
        services.tokens.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
