"""Sessions and browser-facing security of the portal: the session secret, the cookie's
flags, and the headers every page carries (a Content-Security-Policy without inline
scripts, no framing, no caching of pages that show a family's data)."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, current_app

from gateway.settings import Settings, make_data_dir

SESSION_COOKIE_NAME = "records_gateway_session"  # distinct: cookies ignore ports
SESSION_LIFETIME = timedelta(hours=8)


def session_secret(settings: Settings) -> str:
    """The configured secret; outside production (where settings require one), a secret
    made on first use in the data directory, so every worker signs with the same one."""
    if settings.secret_key:
        return settings.secret_key
    if settings.environment == "production":  # settings.check refuses this already
        raise RuntimeError("production needs GATEWAY_SECRET_KEY")
    path = settings.data_dir / "development-session-secret.txt"
    if not path.exists():
        make_data_dir(settings)
        # Written aside then linked into place: a worker that loses the race reads the
        # winner's secret (as for the development key-encryption key).
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    secret = Path(path).read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds no usable session secret; delete it")
    return secret


def configure_sessions(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=session_secret(settings),
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # sent on the provider's redirect back, not on posts
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        PORTAL_CSP=content_security_policy(settings.oidc_issuer),
    )


def content_security_policy(issuer: str) -> str:
    """No inline script or style, nothing from elsewhere; forms post here, and sign-out
    continues to the OpenID provider (browsers check redirects after a form too)."""
    form_action = "'self'"
    if issuer:
        parts = urlsplit(issuer)
        form_action += f" {parts.scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        f"form-action {form_action}",
        "frame-ancestors 'none'",
    ])


def add_page_headers(response: Response) -> Response:
    """After every portal response (the policy is the app's: it names its issuer)."""
    response.headers["Content-Security-Policy"] = current_app.config["PORTAL_CSP"]
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response
