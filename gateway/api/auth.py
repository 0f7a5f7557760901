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


# The scope every call to the API needs; writes need more (gateway.services.enrolment).
READ_SCOPE = "records:read"


class InsufficientScope(Exception):
    """A valid token the provider did not grant the API's scope (RFC 6750, 403)."""


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
    if READ_SCOPE not in claims.scopes:
        # A token the provider issued for another use (sign-in alone, say) is no key to
        # the records, whoever holds it.
        add_log_fields(token_refused="insufficient_scope")
        raise InsufficientScope()
    g.token_scopes = claims.scopes  # what the provider granted (the SIS write API checks it)
    return Caller(issuer=claims.issuer, subject=claims.subject,
                  scopes=frozenset(claims.scopes))
