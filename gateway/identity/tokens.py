"""Validation of the bearer access tokens (RFC 9068 JWTs) that callers present.

``AccessTokenValidator`` finds the issuer's keys through OpenID discovery, caches them, and
checks a token's header, signature and claims. It raises ``InvalidToken`` (reason code ->
HTTP 401) or ``IdentityProviderUnavailable`` (-> HTTP 503). No Flask here.

Order of checks, cheapest and most dangerous first: size and shape; ``alg`` in the
allow-list (``none`` and HMAC can never be allowed); ``typ``; key lookup by ``kid`` (one
rate-limited JWKS re-fetch when the ``kid`` is unknown); signature; claims.

A token that passed every check is remembered (by its SHA-256) so that its next uses skip
the signature check: only while it is unexpired by the same rules and only while the key
set it was verified with is still the current, unexpired one. Refusals are never cached.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, Protocol, overload

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import JWKRegistry, Key

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

#: Asymmetric JWS algorithms a validator may be configured with. ``none`` and HS* never.
SUPPORTED_ALGS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
})
MAX_TOKEN_LENGTH = 16 * 1024
_ACCEPTED_TYPES = frozenset({"at+jwt", "jwt"})  # after removing "application/"


class Reason(StrEnum):
    """Why a token was refused: for logs and metrics, not for the caller's eyes."""

    MISSING = "missing"                  # no bearer token at all
    MALFORMED = "malformed"              # not a compact JWS, bad base64/JSON, too large
    UNSUPPORTED_ALG = "unsupported_alg"  # alg not in the allow-list (none, HS256, ...)
    UNSUPPORTED_TYPE = "unsupported_type"  # typ neither at+jwt nor JWT
    UNKNOWN_KEY = "unknown_key"          # no key with that kid (after one re-fetch)
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"      # nbf in the future
    ISSUED_IN_FUTURE = "issued_in_future"  # iat in the future
    MISSING_CLAIM = "missing_claim"
    INVALID_CLAIM = "invalid_claim"


class IdentityError(Exception):
    """Base of the identity errors."""


class InvalidToken(IdentityError):
    """The token is refused (HTTP 401). ``reason`` is a ``Reason``."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class IdentityProviderUnavailable(IdentityError):
    """Discovery or the JWKS could not be fetched or made no sense (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The checked claims of an access token."""

    subject: str
    client_id: str | None
    scopes: frozenset[str]
    issuer: str
    audience: tuple[str, ...]
    expires_at: datetime
    raw: Mapping[str, Any]


class HttpGetter(Protocol):
    """What the validator needs of ``requests.Session``."""

    def get(self, url: str, *, timeout: float, headers: Mapping[str, str]) -> Any: ...


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header value, or ``InvalidToken``."""
    if not authorization or not authorization.strip():
        raise InvalidToken(Reason.MISSING, "no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken(Reason.MALFORMED, "not a Bearer authorization")
    return token


@dataclass(frozen=True, slots=True)
class _KeyCache:
    keys: Mapping[str | None, tuple[Key, ...]]  # by kid (None: keys without a kid)
    fetched_at: float


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token that passed every check, with what its reuse must check again."""

    claims: TokenClaims
    exp: float
    nbf: float | None
    iat: float
    keys: _KeyCache  # the key set it was verified with


class AccessTokenValidator:
    """Validates the issuer's access tokens for one audience (this resource server).

    ``http`` is a ``requests.Session``-like object (one is made if not given);
    ``leeway`` seconds of clock skew are tolerated for exp, nbf and iat. Keys are kept
    ``jwks_ttl`` seconds; an unknown ``kid`` triggers at most one re-fetch per
    ``refresh_min_interval`` seconds; after a failed fetch, no new attempt is made for
    ``failure_backoff`` seconds. Up to ``verified_cache_size`` verified tokens are kept
    (least recently used dropped first; 0: none). Thread-safe.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        allowed_algs: Iterable[str] = ("RS256", "ES256", "EdDSA"),
        http: HttpGetter | None = None,
        leeway: float = 30.0,
        *,
        jwks_ttl: float = 600.0,
        refresh_min_interval: float = 30.0,
        failure_backoff: float = 5.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        verified_cache_size: int = 1024,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        algs = tuple(dict.fromkeys(allowed_algs))
        refused = [a for a in algs if a not in SUPPORTED_ALGS]
        if refused or not algs:
            raise ValueError(f"allowed_algs must be among {sorted(SUPPORTED_ALGS)}; got {refused}")
        if leeway < 0 or leeway > 300:
            raise ValueError("leeway must be between 0 and 300 seconds")
        if verified_cache_size < 0:
            raise ValueError("verified_cache_size must be 0 or more")
        self.issuer = issuer
        self.audience = audience
        self.allowed_algs = frozenset(algs)
        self.leeway = leeway
        self.jwks_ttl = jwks_ttl
        self.refresh_min_interval = refresh_min_interval
        self.failure_backoff = failure_backoff
        self.timeout = timeout
        self._clock = clock
        if http is None:
            import requests

            http = requests.Session()
            self._owns_http = True
        else:
            self._owns_http = False
        self._http = http
        self._registry = _registry(self.allowed_algs)
        self._lock = threading.Lock()
        self._cache: _KeyCache | None = None
        self._last_attempt: float | None = None
        self._last_failure: tuple[float, str] | None = None
        self.jwks_fetches = 0  # successful JWKS fetches, for tests and metrics
        self.verified_cache_size = verified_cache_size
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()
        self._verified_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP session if the validator made it."""
        if self._owns_http:
            self._http.close()  # type: ignore[attr-defined]

    # -- validation -------------------------------------------------------------------

    def validate(self, token: str) -> TokenClaims:
        """Check ``token`` and return its claims, or raise ``InvalidToken``."""
        if not isinstance(token, str) or not token:
            raise InvalidToken(Reason.MISSING, "empty token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken(Reason.MALFORMED, "token too large")
        digest = hashlib.sha256(token.encode()).digest() if self.verified_cache_size else b""
        if digest:
            claims = self._reuse(digest)
            if claims is not None:
                return claims
        header = _unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.allowed_algs:
            raise InvalidToken(Reason.UNSUPPORTED_ALG, f"alg {alg!r} is not allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or _media_type(typ) not in _ACCEPTED_TYPES:
            raise InvalidToken(Reason.UNSUPPORTED_TYPE, f"typ {typ!r} is not at+jwt or JWT")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken(Reason.MALFORMED, "kid is not a string")

        key, keys = self._key_for(kid, alg)
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[alg],
                                               registry=self._registry)
        except BadSignatureError:
            raise InvalidToken(Reason.BAD_SIGNATURE, "signature does not verify") from None
        except JoseError as err:  # key/alg mismatch, crit header, sizes ...
            raise InvalidToken(Reason.MALFORMED, err.__class__.__name__) from None
        try:
            claims = json.loads(verified.payload or b"")
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken(Reason.MALFORMED, "payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidToken(Reason.MALFORMED, "payload is not a JSON object")
        checked = self._check_claims(claims)
        if digest:
            self._remember(digest, _Verified(
                checked, exp=_numeric_date(claims, "exp", required=True),
                nbf=_numeric_date(claims, "nbf", required=False),
                iat=_numeric_date(claims, "iat", required=True), keys=keys))
        return checked

    # -- verified tokens ----------------------------------------------------------------

    @property
    def cached_tokens(self) -> int:
        """How many verified tokens are remembered now (for tests and metrics)."""
        return len(self._verified)

    def _reuse(self, digest: bytes) -> TokenClaims | None:
        """The claims of a token verified before, if that verification still stands."""
        with self._verified_lock:
            entry = self._verified.get(digest)
            if entry is None:
                return None
            # Verified with a key set that was since re-fetched or has gone stale: check
            # again, against the current keys (a key the issuer withdrew is then refused).
            cache = self._cache
            if entry.keys is not cache or self._clock() - cache.fetched_at >= self.jwks_ttl:
                del self._verified[digest]
                return None
            self._verified.move_to_end(digest)
        try:
            self._check_times(entry.exp, entry.nbf, entry.iat, self._clock())
        except InvalidToken:
            with self._verified_lock:
                self._verified.pop(digest, None)
            raise
        return entry.claims

    def _remember(self, digest: bytes, entry: _Verified) -> None:
        with self._verified_lock:
            self._verified[digest] = entry
            self._verified.move_to_end(digest)
            while len(self._verified) > self.verified_cache_size:
                self._verified.popitem(last=False)

    def _check_times(self, exp: float, nbf: float | None, iat: float, now: float) -> None:
        if exp <= now - self.leeway:
            raise InvalidToken(Reason.EXPIRED, f"expired at {exp}")
        if nbf is not None and nbf > now + self.leeway:
            raise InvalidToken(Reason.NOT_YET_VALID, f"nbf {nbf}")
        if iat > now + self.leeway:
            raise InvalidToken(Reason.ISSUED_IN_FUTURE, f"iat {iat}")

    def _check_claims(self, claims: dict[str, Any]) -> TokenClaims:
        now = self._clock()
        iss = claims.get("iss")
        if iss is None:
            raise InvalidToken(Reason.MISSING_CLAIM, "iss")
        if iss != self.issuer:
            raise InvalidToken(Reason.WRONG_ISSUER, f"iss {iss!r}")
        aud = claims.get("aud")
        if aud is None:
            raise InvalidToken(Reason.MISSING_CLAIM, "aud")
        audiences = (aud,) if isinstance(aud, str) else aud
        if (not isinstance(audiences, list | tuple)
                or not all(isinstance(a, str) for a in audiences)):
            raise InvalidToken(Reason.INVALID_CLAIM, "aud")
        if self.audience not in audiences:
            raise InvalidToken(Reason.WRONG_AUDIENCE, f"aud {aud!r}")
        exp = _numeric_date(claims, "exp", required=True)
        iat = _numeric_date(claims, "iat", required=True)
        nbf = _numeric_date(claims, "nbf", required=False)
        self._check_times(exp, nbf, iat, now)
        if exp <= iat:
            raise InvalidToken(Reason.INVALID_CLAIM, "exp is not after iat")
        sub = claims.get("sub")
        if sub is None:
            raise InvalidToken(Reason.MISSING_CLAIM, "sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken(Reason.INVALID_CLAIM, "sub")
        client_id = claims.get("client_id", claims.get("azp"))
        if client_id is not None and not isinstance(client_id, str):
            raise InvalidToken(Reason.INVALID_CLAIM, "client_id")
        return TokenClaims(
            subject=sub,
            client_id=client_id,
            scopes=_scopes(claims),
            issuer=iss,
            audience=tuple(audiences),
            expires_at=datetime.fromtimestamp(exp, UTC),
            raw=MappingProxyType(copy.deepcopy(claims)),
        )

    # -- keys -------------------------------------------------------------------------

    def _key_for(self, kid: str | None, alg: str) -> tuple[Key, _KeyCache]:
        """The key for ``kid`` and ``alg``, and the key set it was found in."""
        cache = self._current_keys()
        key = _pick(cache, kid, alg)
        if key is None and self._may_refresh_for_unknown_kid():
            cache = self._refresh(cache, forced=True)
            key = _pick(cache, kid, alg)
        if key is None:
            raise InvalidToken(Reason.UNKNOWN_KEY, f"no {alg} key with kid {kid!r}")
        return key, cache

    def _current_keys(self) -> _KeyCache:
        cache = self._cache
        if cache is not None and self._clock() - cache.fetched_at < self.jwks_ttl:
            return cache
        return self._refresh(cache, forced=False)

    def _may_refresh_for_unknown_kid(self) -> bool:
        last = self._last_attempt
        return last is None or self._clock() - last >= self.refresh_min_interval

    def _refresh(self, seen: _KeyCache | None, *, forced: bool) -> _KeyCache:
        with self._lock:
            current = self._cache
            if current is not seen and current is not None:
                return current  # another thread refreshed while we waited
            now = self._clock()
            if forced and self._last_attempt is not None \
                    and now - self._last_attempt < self.refresh_min_interval:
                if current is not None:
                    return current
            failure = self._last_failure
            if failure is not None and now - failure[0] < self.failure_backoff:
                raise IdentityProviderUnavailable(
                    f"{failure[1]} (not retried for {self.failure_backoff:g} s)")
            self._last_attempt = now
            try:
                keys = self._fetch_keys()
            except IdentityProviderUnavailable as err:
                self._last_failure = (now, str(err))
                raise
            self._last_failure = None
            self._cache = _KeyCache(keys, now)
            self.jwks_fetches += 1
            return self._cache

    def _fetch_keys(self) -> Mapping[str | None, tuple[Key, ...]]:
        discovery_url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(discovery_url)
        if document.get("issuer") != self.issuer:
            raise IdentityProviderUnavailable(
                f"discovery at {discovery_url} names issuer {document.get('issuer')!r}, "
                f"not {self.issuer!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IdentityProviderUnavailable(f"discovery at {discovery_url} has no jwks_uri")
        jwks = self._get_json(jwks_uri)
        entries = jwks.get("keys")
        if not isinstance(entries, list):
            raise IdentityProviderUnavailable(f"{jwks_uri} is not a JWK set")
        by_kid: dict[str | None, list[Key]] = {}
        for entry in entries:
            key = _import_public_key(entry)
            if key is not None:
                by_kid.setdefault(entry.get("kid"), []).append(key)
        return MappingProxyType({kid: tuple(keys) for kid, keys in by_kid.items()})

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, timeout=self.timeout,
                                      headers={"Accept": "application/json"})
            status = response.status_code
            body = response.json() if status == 200 else None
        except Exception as err:  # connection refused, timeout, bad JSON ...
            raise IdentityProviderUnavailable(
                f"cannot fetch {url}: {err.__class__.__name__}") from err
        if status != 200:
            raise IdentityProviderUnavailable(f"cannot fetch {url}: HTTP {status}")
        if not isinstance(body, dict):
            raise IdentityProviderUnavailable(f"{url} did not return a JSON object")
        return body


def _registry(algs: frozenset[str]) -> jws.JWSRegistry:
    """A JWS registry for exactly ``algs``. joserfc warns on every use of ``EdDSA``
    (RFC 9864 deprecates the name for being polymorphic); both of its curves are sound,
    so it is allowed here quietly when configured, rather than filtering warnings."""
    registry = jws.JWSRegistry(algorithms=algs, strict_check_header=False)
    if "EdDSA" in algs:
        quiet = copy.copy(jws.JWSRegistry.algorithms["EdDSA"])
        quiet.security_warning = None
        registry.algorithms = {**jws.JWSRegistry.algorithms, "EdDSA": quiet}
    return registry


def _unverified_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken(Reason.MALFORMED, "not a compact JWS (three parts)")
    try:
        segment = parts[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken(Reason.MALFORMED, "header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise InvalidToken(Reason.MALFORMED, "header is not a JSON object")
    return header


def _media_type(typ: str) -> str:
    typ = typ.strip().lower()
    return typ.removeprefix("application/")


def _import_public_key(entry: Any) -> Key | None:
    """A signature-verification key from a JWKS entry, or None to skip the entry."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    if entry.get("kty") not in ("RSA", "EC", "OKP"):
        return None  # never oct: a shared secret has no place in a public JWKS
    try:
        return JWKRegistry.import_key(entry)
    except (JoseError, ValueError, TypeError):
        return None


def _pick(cache: _KeyCache, kid: str | None, alg: str) -> Key | None:
    if kid is None:
        candidates = [k for keys in cache.keys.values() for k in keys if _fits(k, alg)]
        return candidates[0] if len(candidates) == 1 else None
    for key in cache.keys.get(kid, ()):
        if _fits(key, alg):
            return key
    return None


_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _fits(key: Key, alg: str) -> bool:
    if key.alg is not None and key.alg != alg:
        return False
    return key.key_type == _KTY.get(alg[:2])


@overload
def _numeric_date(claims: Mapping[str, Any], name: str, *, required: Literal[True]) -> float: ...
@overload
def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None: ...
def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidToken(Reason.MISSING_CLAIM, name)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(Reason.INVALID_CLAIM, f"{name} is not a NumericDate")
    return float(value)


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", claims.get("scp"))
    if scope is None:
        return frozenset()
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list) and all(isinstance(s, str) for s in scope):
        return frozenset(scope)
    raise InvalidToken(Reason.INVALID_CLAIM, "scope")
