"""The portal's pages through the Flask test client: what holds before anyone signs in
(headers, cookies, CSRF, languages, sign-in failures), and its set-up (the session
secret, the Spanish catalogue). The signed-in pages are in tests/browser."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask

from gateway import create_app
from gateway.portal import i18n
from gateway.settings import SettingsError, load_settings

PORTAL = Path(__file__).resolve().parents[2] / "gateway" / "portal"


@pytest.fixture
def make_app(tmp_path: Path):
    def make(**overrides: Any) -> Flask:
        settings = load_settings(environ={}, overrides={
            "data_dir": tmp_path, "environment": "test",
            "database_url": f"sqlite:///{tmp_path / 'portal.db'}", **overrides})
        return create_app(settings=settings)
    return make


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def test_pages_carry_a_strict_content_security_policy(make_app) -> None:
    response = make_app(oidc_issuer="https://login.district.example").test_client().get("/")

    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = dict(part.split(" ", 1) for part in
               response.headers["Content-Security-Policy"].split("; "))
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    # Sign-out continues from a form to the provider, which browsers check too.
    assert csp["form-action"] == "'self' https://login.district.example"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in response.get_data(as_text=True)


def test_the_api_keeps_its_own_headers_and_problem_details(make_app) -> None:
    response = make_app().test_client().get("/v1/nothing-here")

    assert response.mimetype == "application/problem+json"
    assert "Content-Security-Policy" not in response.headers


def test_the_session_cookie_is_httponly_lax_and_secure_behind_tls(make_app) -> None:
    plain = make_app().test_client().get("/").headers["Set-Cookie"]
    behind_tls = make_app(session_cookie_secure=True).test_client().get("/")

    assert plain.startswith("records_gateway_session=")
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert "; Secure" in behind_tls.headers["Set-Cookie"]


def test_a_page_for_signed_in_people_sends_others_to_sign_in(make_app) -> None:
    client = make_app().test_client()

    for path in ("/students", "/console/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/auth/login?next={path}"


def test_a_form_without_its_token_is_refused_with_a_page(make_app) -> None:
    client = make_app().test_client()
    client.get("/")

    response = client.post("/language", data={"language": "es"})

    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "The form could not be accepted" in response.get_data(as_text=True)
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_the_chosen_language_wins_over_the_browsers(make_app) -> None:
    client = make_app().test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))

    client.post("/language", data={"language": "es", "csrf_token": token, "next": "/notice"})

    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert 'lang="es"' in page and "Iniciar sesión" in page


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "/\t/evil.example",
                                    "/\n/evil.example", "https://evil.example/"])
def test_a_redirect_after_a_form_stays_on_this_site(make_app, target: str) -> None:
    # A browser drops a tab or a line break and reads a backslash as a slash.
    client = make_app().test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post("/language", data={"language": "es", "csrf_token": token,
                                              "next": target})

    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_an_unknown_language_is_not_kept(make_app) -> None:
    client = make_app().test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))

    client.post("/language", data={"language": "fr", "csrf_token": token})

    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_sign_in_without_a_configured_client_says_so(make_app) -> None:
    response = make_app().test_client().get("/auth/login")

    assert response.status_code == 503
    assert "Sign-in is not available" in response.get_data(as_text=True)


def test_sign_in_with_the_provider_down_is_a_page_not_a_500(make_app) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(oidc_issuer=f"http://127.0.0.1:{port}", oidc_client_id="web",
                   oidc_client_secret="secret")

    response = app.test_client().get("/auth/login")

    assert response.status_code == 503
    assert "cannot be reached" in response.get_data(as_text=True)


def test_a_callback_that_no_sign_in_started_is_refused(make_app) -> None:
    app = make_app(oidc_issuer="http://127.0.0.1:9", oidc_client_id="web",
                   oidc_client_secret="secret")

    response = app.test_client().get("/auth/callback?code=stolen&state=made-up")

    assert response.status_code == 400
    assert "Sign-in did not complete" in response.get_data(as_text=True)


def test_signing_out_without_a_session_goes_home(make_app) -> None:
    client = make_app().test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post("/auth/logout", data={"csrf_token": token})

    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_development_session_secret_is_made_once_and_shared(make_app,
                                                                tmp_path: Path) -> None:
    first, second = make_app(), make_app()

    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "development-session-secret.txt").read_text().strip() \
        == first.secret_key
    assert make_app(secret_key="s" * 40).secret_key == "s" * 40


def test_settings_of_the_portal_are_checked() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_OIDC_CLIENT_SECRET"):
        load_settings(environ={"GATEWAY_OIDC_CLIENT_ID": "web"})
    with pytest.raises(SettingsError, match="GATEWAY_SESSION_COOKIE_SECURE"):
        load_settings(environ={"GATEWAY_SESSION_COOKIE_SECURE": "perhaps"})
    assert load_settings(environ={"GATEWAY_SESSION_COOKIE_SECURE": "true"}).secure_cookies
    assert not load_settings(environ={}).secure_cookies
    secret = load_settings(environ={"GATEWAY_OIDC_CLIENT_ID": "web",
                                    "GATEWAY_OIDC_CLIENT_SECRET": "hush-hush"})
    assert "hush-hush" not in repr(secret)


def test_every_message_of_the_portal_has_a_spanish_translation() -> None:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None}
    wanted = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(PORTAL), method_map, keywords=keywords)}
    with (PORTAL / "translations" / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        spanish = {m.id: m.string for m in read_po(f) if m.id}

    assert len(wanted) > 50
    assert sorted(wanted - spanish.keys()) == []
    assert sorted(m for m in wanted if not spanish[m]) == []


def test_the_catalogue_is_compiled_from_the_po_files(tmp_path: Path) -> None:
    compiled = i18n.compiled_translations()

    assert (compiled / "es" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
    assert i18n.compiled_translations() == compiled  # by content: compiled once
