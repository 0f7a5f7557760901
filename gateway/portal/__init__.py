"""The parent portal and the custodian's console: server-rendered pages (Jinja) over the
same services, engine and store as the API, in English and Spanish.

``init_app`` sets up sessions (a signed cookie: HttpOnly, SameSite=Lax, Secure behind
TLS), CSRF protection of every form (Flask-WTF), the Content-Security-Policy of every
page, the languages (Flask-Babel) and, when a client is configured, sign-in with the
district's OpenID provider (authorization code + PKCE).
"""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from gateway.portal import (
    auth,
    consents,
    console,
    console_log,
    i18n,
    pages,
    requests,
    rights,
    student_log,
)
from gateway.portal.security import configure_sessions
from gateway.portal.web import signed_in
from gateway.settings import Settings

BLUEPRINTS = (pages.bp, auth.bp, console.bp, requests.bp, consents.bp, rights.bp,
              student_log.bp, console_log.bp)


def init_app(app: Flask, settings: Settings) -> None:
    configure_sessions(app, settings)
    # Forms are checked by the portal's own blueprints only: the API takes bearer
    # tokens, never cookies, so it has no CSRF to guard against.
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False,
                      BABEL_TRANSLATION_DIRECTORIES=str(i18n.compiled_translations()))
    CSRFProtect(app)
    Babel(app, locale_selector=i18n.select_locale)
    if settings.oidc_issuer and settings.oidc_client_id:
        auth.register_client(OAuth(app), settings)

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.context_processor
    def portal_globals() -> dict[str, object]:
        if request.blueprint not in {bp.name for bp in BLUEPRINTS}:
            return {}
        return {"languages": i18n.LANGUAGES, "current_language": i18n.select_locale(),
                "signed_in": signed_in() is not None}
