"""Bearer-token authentication for the API: who is asking, per the OpenID provider."""

from __future__ import annotations

from flask import g, request

from gateway.identity import IdentityProviderUnavailable, InvalidToken, bearer_token
from gateway.logs import add_log_fields
from gateway.services import find
from gateway.services.access import Caller


class Unauthenticated(Exception):
    def __init__(self, detail: str, error: str = "invalid_token") -> None:
        super().__init__(detail)
        self.detail, self.error = detail, error


class ProviderUnavailable(Exception):
    pass


def current_caller() -> Caller:
    """The caller of this request, from its access token (RFC 6750 bearer)."""
    validator = find().tokens
    if validator is None:
        raise Unauthenticated("The gateway has no OpenID provider configured.",
                              error="invalid_request")
    try:
        claims = validator.validate(bearer_token(request.headers.get("Authorization")))
    except InvalidToken as exc:
        add_log_fields(token_refused=exc.reason.value)  # the reason is for our logs only
        raise Unauthenticated("The access token is missing, invalid or expired.") from None
    except IdentityProviderUnavailable:
        raise ProviderUnavailable() from None
    g.token_scopes = claims.scopes  # what the provider granted (the SIS write API checks it)
    return Caller(issuer=claims.issuer, subject=claims.subject)
