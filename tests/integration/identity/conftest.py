"""Fixtures for the identity tests: the real development provider (Node.js oidc-provider,
started once per session on a free 127.0.0.1 port), tokens from it, validators that count
their fetches, and a small local issuer whose keys the tests control."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from gateway.identity import AccessTokenValidator
from gateway.identity.devidp import DevProvider, DevProviderError, start_dev_provider

HERE = Path(__file__).resolve().parent
TEST_CONFIG = HERE / "idp-test-config.json"
AUDIENCE = "records-gateway"
WEB_CLIENT = "records-gateway-web"
REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"


def secret_for(client_id: str) -> str:
    return f"secret-{client_id}"  # the convention of idp-test-config.json


@pytest.fixture(scope="session")
def idp_config_path() -> Path:
    return TEST_CONFIG


@pytest.fixture(scope="session")
def dev_idp() -> Iterator[DevProvider]:
    """The development provider with the test config; stopped at the end, always."""
    try:
        provider = start_dev_provider(TEST_CONFIG, "127.0.0.1", 0, timeout=60)
    except DevProviderError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield provider
    finally:
        provider.stop()


class CountingHttp:
    """A requests.Session that records the URLs it GETs."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.urls: list[str] = []

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        self.urls.append(url)
        return self.session.get(url, **kwargs)

    def count(self, suffix: str) -> int:
        return sum(1 for url in self.urls if url.endswith(suffix))

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(time.time())


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Made:
    validator: AccessTokenValidator
    http: CountingHttp


@pytest.fixture
def make_validator() -> Iterator[Callable[..., Made]]:
    """make_validator(issuer, **kwargs) -> Made(validator, http); closed afterwards."""
    made: list[Made] = []

    def make(issuer: str, audience: str = AUDIENCE, **kwargs: Any) -> Made:
        http = CountingHttp()
        item = Made(AccessTokenValidator(issuer, audience, http=http, **kwargs), http)
        made.append(item)
        return item

    yield make
    for item in made:
        item.validator.close()
        item.http.close()


@pytest.fixture(scope="session")
def client_token(dev_idp: DevProvider) -> Iterator[Callable[..., str]]:
    """client_token(client_id, scope=None, **form) -> a client-credentials access token."""
    session = requests.Session()

    def get(client_id: str, scope: str | None = None, **form: str) -> str:
        data = {"grant_type": "client_credentials", **form}
        if scope:
            data["scope"] = scope
        response = session.post(f"{dev_idp.issuer}/token", data=data, timeout=10,
                                auth=(client_id, secret_for(client_id)))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        return body["access_token"]

    yield get
    session.close()


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def only_form(html: str) -> dict[str, Any]:
    parser = _Forms()
    parser.feed(html)
    assert len(parser.forms) == 1, html[:500]
    return parser.forms[0]


@dataclass
class CodeFlowResult:
    tokens: dict[str, Any]
    pages: list[str] = field(default_factory=list)  # "login", "consent" as seen


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def code_flow(dev_idp: DevProvider) -> Iterator[Callable[..., CodeFlowResult]]:
    """Authorization code + PKCE as a browser would do it with the devInteractions pages:
    code_flow(login, scope="openid profile records:read") -> CodeFlowResult."""
    session = requests.Session()

    def run(login: str, scope: str = "openid profile records:read") -> CodeFlowResult:
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        response = session.get(f"{dev_idp.issuer}/auth", timeout=10, params={
            "client_id": WEB_CLIENT, "response_type": "code", "redirect_uri": REDIRECT_URI,
            "scope": scope, "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256"})
        result = CodeFlowResult(tokens={})
        for _ in range(10):  # login page, consent page, redirects; bounded
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(REDIRECT_URI):
                    break
                response = session.get(location, timeout=10, allow_redirects=False)
                continue
            assert response.status_code == 200, response.text[:500]
            form = only_form(response.text)
            fields = dict(form["fields"])
            result.pages.append(fields.get("prompt", "?"))
            if fields.get("prompt") == "login":
                fields.update(login=login, password="any password at all")
            response = session.post(urljoin(response.url, form["action"]), data=fields,
                                    timeout=10, allow_redirects=False)
        else:
            raise AssertionError("the code flow did not reach the redirect URI")
        query = parse_qs(urlsplit(location).query)
        assert query.get("state") == [state], location
        assert query.get("iss") == [dev_idp.issuer], location
        assert "code" in query, location
        exchange = session.post(f"{dev_idp.issuer}/token", timeout=10,
                                auth=(WEB_CLIENT, secret_for(WEB_CLIENT)), data={
                                    "grant_type": "authorization_code",
                                    "code": query["code"][0], "redirect_uri": REDIRECT_URI,
                                    "code_verifier": verifier})
        assert exchange.status_code == 200, exchange.text
        result.tokens = exchange.json()
        return result

    yield run
    session.close()


class FakeIssuer:
    """An issuer on 127.0.0.1 that serves discovery and a JWKS the test controls."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.discovery_issuer: str | None = None  # None: the real one
        self.status = 200
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.hits.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {"issuer": owner.discovery_issuer or owner.issuer,
                                 "jwks_uri": f"{owner.issuer}/jwks"}
                elif self.path == "/jwks":
                    body = owner.jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def fake_issuer() -> Iterator[FakeIssuer]:
    issuer = FakeIssuer()
    try:
        yield issuer
    finally:
        issuer.stop()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


class Craft:
    """Tokens made by the tests, signed with the tests' own keys (or not at all)."""

    def key(self, alg: str = "RS256", kid: str | None = None) -> Any:
        params = {"kid": kid or f"test-{secrets.token_hex(4)}", "alg": alg, "use": "sig"}
        if alg.startswith(("RS", "PS")):
            return RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]
        if alg == "ES256":
            return ECKey.generate_key("P-256", parameters=params)  # type: ignore[arg-type]
        raise ValueError(alg)

    def public_jwk(self, key: Any) -> dict[str, Any]:
        return key.as_dict(private=False)

    def claims(self, issuer: str, now: float | None = None, **overrides: Any) -> dict[str, Any]:
        now = int(time.time() if now is None else now)
        claims = {"iss": issuer, "sub": "sis-aeries", "aud": AUDIENCE, "iat": now,
                  "exp": now + 300, "client_id": "sis-aeries", "scope": "records:read",
                  "jti": secrets.token_hex(8)}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], key: Any, **header: Any) -> str:
        full = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt", **header}
        full = {k: v for k, v in full.items() if v is not None}
        return jwt.encode(full, claims, key, algorithms=[full["alg"]])

    def unsigned(self, header: dict[str, Any], claims: dict[str, Any],
                 signature: bytes = b"") -> str:
        return f"{b64json(header)}.{b64json(claims)}.{b64(signature)}"

    def hmac(self, header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                  "HS512": hashlib.sha512}[header["alg"]]
        signing_input = f"{b64json(header)}.{b64json(claims)}"
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        return f"{signing_input}.{b64(mac)}"

    def import_jwk(self, jwk: dict[str, Any]) -> Any:
        return JWKRegistry.import_key(jwk)


@pytest.fixture(scope="session")
def craft() -> Craft:
    return Craft()


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token, unverified (for looking at the provider's tokens)."""
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(header))),
            json.loads(base64.urlsafe_b64decode(pad(payload))))


@pytest.fixture(scope="session")
def peek() -> Callable[[str], tuple[dict[str, Any], dict[str, Any]]]:
    return unverified
