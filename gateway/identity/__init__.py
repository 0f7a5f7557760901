"""Identity: validation of OpenID Connect access tokens (``tokens``) and, for tests and
demos, the development OpenID provider (``devidp``, imported on its own)."""

from gateway.identity.tokens import (
    SUPPORTED_ALGS,
    AccessTokenValidator,
    IdentityError,
    IdentityProviderUnavailable,
    InvalidToken,
    Reason,
    TokenClaims,
    bearer_token,
)

__all__ = [
    "SUPPORTED_ALGS",
    "AccessTokenValidator",
    "IdentityError",
    "IdentityProviderUnavailable",
    "InvalidToken",
    "Reason",
    "TokenClaims",
    "bearer_token",
]
