"""Sign-in and sign-out of people: OpenID Connect authorization code with PKCE (S256),
through authlib's Flask client, against the same provider as the API."""

from __future__ import annotations

import requests
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from gateway.portal import i18n
from gateway.portal.web import (
    begin_session,
    error_page,
    local_path,
    portal_blueprint,
    signed_in,
)
from gateway.services import find
from gateway.services.access import AccessError, Caller
from gateway.settings import Settings

log = structlog.get_logger("gateway.portal")
bp = portal_blueprint(Blueprint("auth", __name__, url_prefix="/auth"))
CLIENT = "gateway"
ID_TOKEN_KEY = "id_token"


def register_client(oauth: OAuth, settings: Settings) -> None:
    oauth.register(
        CLIENT,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/")
        + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid", "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic", "timeout": 10},
    )


def _client():
    oauth: OAuth | None = current_app.extensions.get("authlib.integrations.flask_client")
    return oauth.create_client(CLIENT) if oauth is not None else None


@bp.get("/login")
def login():
    client = _client()
    if client is None:
        return error_page(503, _("Sign-in is not available"), _(
            "The district has not configured sign-in for this site."))
    session["next"] = local_path(request.args.get("next")) or url_for("portal.students")
    try:
        return client.authorize_redirect(url_for("auth.callback", _external=True))
    except requests.RequestException:
        return _provider_down()


@bp.get("/callback")
def callback():
    client = _client()
    if client is None:
        return redirect(url_for("portal.home"))
    try:
        token = client.authorize_access_token()
    except OAuthError as exc:
        log.info("sign_in_refused", error=exc.error)
        return error_page(400, _("Sign-in did not complete"), _(
            "The sign-in was cancelled or had expired. Please sign in again."))
    except requests.RequestException:
        return _provider_down()
    claims = token.get("userinfo") or {}
    if not claims.get("iss") or not claims.get("sub"):
        return error_page(400, _("Sign-in did not complete"), _(
            "The sign-in was cancelled or had expired. Please sign in again."))
    target = session.get("next") or url_for("portal.students")
    language = session.get(i18n.SESSION_KEY)
    session.clear()  # nothing from before the sign-in carries over, but the language
    session.permanent = True
    begin_session(Caller(issuer=claims["iss"], subject=claims["sub"]))
    session[ID_TOKEN_KEY] = token.get("id_token")
    language = _settle_language(signed_in(), language)
    if language:
        session[i18n.SESSION_KEY] = language
    return redirect(target)


def _settle_language(caller: Caller | None, chosen: str | None) -> str | None:
    """A language chosen before signing in goes onto the account; otherwise the one the
    account keeps (if any) becomes the session's."""
    if caller is None:
        return chosen
    try:
        if chosen in i18n.LANGUAGES:
            find().portal.remember_language(caller, chosen)
            return chosen
        kept = find().portal.account(caller).preferred_language
    except AccessError:  # not registered: the page that follows says so
        return chosen
    return kept if kept in i18n.LANGUAGES else None


@bp.post("/logout")
def logout():
    """Clear the session here, then end the session at the provider when it offers to."""
    id_token = session.get(ID_TOKEN_KEY)
    language = session.get(i18n.SESSION_KEY)
    caller = signed_in()
    if caller is not None:
        find().portal.sign_out(caller)  # a copy of this session's cookie is over too
    session.clear()
    if language:
        session[i18n.SESSION_KEY] = language
    client = _client()
    if client is not None and id_token:
        try:
            metadata = client.load_server_metadata()
        except requests.RequestException:
            metadata = {}
        if metadata.get("end_session_endpoint"):
            return client.logout_redirect(
                post_logout_redirect_uri=url_for("auth.logged_out", _external=True),
                id_token_hint=id_token)
    flash(_("You have signed out."))
    return redirect(url_for("portal.home"))


@bp.get("/logged-out")
def logged_out():
    client = _client()
    if client is not None and request.args.get("state"):
        try:
            client.validate_logout_response()
        except OAuthError:
            pass  # signed out here either way; the state only guards the message
    flash(_("You have signed out."))
    return redirect(url_for("portal.home"))


def _provider_down():
    return error_page(503, _("Sign-in is not available"), _(
        "The district's sign-in service cannot be reached. Please try again later."))
