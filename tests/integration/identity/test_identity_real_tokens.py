"""The validator against tokens issued by the real development provider."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from gateway.identity import (
    AccessTokenValidator,
    IdentityProviderUnavailable,
    InvalidToken,
    Reason,
    TokenClaims,
)
from gateway.identity.devidp import start_dev_provider

pytestmark = pytest.mark.idp


def test_client_credentials_token_is_accepted_and_claims_mapped(dev_idp, client_token,
                                                                make_validator, peek):
    token = client_token("sis-aeries", "records:read records:write")
    header, raw = peek(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"

    claims = make_validator(dev_idp.issuer).validator.validate(token)

    assert isinstance(claims, TokenClaims)
    assert claims.subject == "sis-aeries"
    assert claims.client_id == "sis-aeries"
    assert claims.scopes == frozenset({"records:read", "records:write"})
    assert claims.issuer == dev_idp.issuer
    assert claims.audience == ("records-gateway",)
    assert claims.expires_at == datetime.fromtimestamp(raw["exp"], UTC)
    assert 590 <= raw["exp"] - raw["iat"] <= 600
    assert claims.raw["jti"] == raw["jti"]
    with pytest.raises(TypeError):
        claims.raw["sub"] = "someone else"  # type: ignore[index]
    with pytest.raises(AttributeError):
        claims.subject = "someone else"  # type: ignore[misc]


def test_keys_are_fetched_once_for_many_tokens(dev_idp, client_token, make_validator):
    made = make_validator(dev_idp.issuer)
    for client in ("sis-aeries", "sis-powerschool", "sis-aeries"):
        made.validator.validate(client_token(client, "records:read"))
    assert made.http.count("/.well-known/openid-configuration") == 1
    assert made.http.count("/jwks") == 1


@pytest.mark.parametrize(("client", "alg", "scope"), [
    ("sis-powerschool", "ES256", "records:read"),
    ("research-edpolicy-lab", "EdDSA", "research:read"),
])
def test_other_allowed_algorithms(dev_idp, client_token, make_validator, peek,
                                  client, alg, scope):
    token = client_token(client, scope)
    assert peek(token)[0]["alg"] == alg
    claims = make_validator(dev_idp.issuer).validator.validate(token)
    assert claims.client_id == client and claims.scopes == {scope}


def test_algorithm_outside_the_allow_list_is_refused_before_any_fetch(
        dev_idp, client_token, make_validator, peek):
    token = client_token("legacy-ps256", "records:read")
    assert peek(token)[0]["alg"] == "PS256"
    made = make_validator(dev_idp.issuer)
    with pytest.raises(InvalidToken) as caught:
        made.validator.validate(token)
    assert caught.value.reason is Reason.UNSUPPORTED_ALG
    assert made.http.urls == []
    # ... and accepted where the deployment allows it.
    wider = make_validator(dev_idp.issuer, allowed_algs=("RS256", "PS256")).validator
    assert wider.validate(token).client_id == "legacy-ps256"


def test_token_for_another_audience_is_refused(dev_idp, client_token, make_validator, peek):
    token = client_token("other-service-client", "other:read")
    assert peek(token)[1]["aud"] == "other-district-service"
    with pytest.raises(InvalidToken) as caught:
        make_validator(dev_idp.issuer).validator.validate(token)
    assert caught.value.reason is Reason.WRONG_AUDIENCE
    # The same token is good for the service it was meant for.
    other = make_validator(dev_idp.issuer, audience="other-district-service").validator
    assert other.validate(token).scopes == {"other:read"}


def test_scopes_outside_the_client_registration_are_not_issued(dev_idp):
    response = requests.post(f"{dev_idp.issuer}/token", timeout=10,
                             auth=("research-edpolicy-lab", "secret-research-edpolicy-lab"),
                             data={"grant_type": "client_credentials", "scope": "records:read"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_expired_token_from_a_short_ttl_client_is_refused(dev_idp, client_token,
                                                          make_validator, peek):
    token = client_token("short-lived", "records:read")
    exp = peek(token)[1]["exp"]
    assert exp - peek(token)[1]["iat"] == 1
    strict = make_validator(dev_idp.issuer, leeway=0).validator
    lenient = make_validator(dev_idp.issuer, leeway=30).validator
    while time.time() < exp:  # at most about a second
        time.sleep(0.05)
    with pytest.raises(InvalidToken) as caught:
        strict.validate(token)
    assert caught.value.reason is Reason.EXPIRED
    assert lenient.validate(token).subject == "short-lived"  # within the leeway


def test_expiry_of_a_real_token_with_a_clock(dev_idp, client_token, make_validator,
                                             fake_clock, peek):
    token = client_token("sis-aeries", "records:read")
    exp = peek(token)[1]["exp"]
    made = make_validator(dev_idp.issuer, leeway=10, clock=fake_clock)
    fake_clock.now = exp + 9
    assert made.validator.validate(token).subject == "sis-aeries"
    fake_clock.now = exp + 10
    with pytest.raises(InvalidToken) as caught:
        made.validator.validate(token)
    assert caught.value.reason is Reason.EXPIRED


def test_id_token_is_not_an_access_token(code_flow, dev_idp, make_validator, peek):
    tokens = code_flow("parent.johnson", "openid profile records:read").tokens
    assert "typ" not in peek(tokens["id_token"])[0]
    with pytest.raises(InvalidToken) as caught:
        make_validator(dev_idp.issuer).validator.validate(tokens["id_token"])
    assert caught.value.reason is Reason.UNSUPPORTED_TYPE


def test_alg_none_and_hmac_are_refused_before_any_key_lookup(dev_idp, client_token,
                                                             make_validator, peek, craft):
    real = client_token("sis-aeries", "records:read")
    header, claims = peek(real)
    public_pem = requests.get(f"{dev_idp.issuer}/jwks", timeout=10).json()["keys"][0]
    made = make_validator(dev_idp.issuer)
    forged = [
        craft.unsigned({**header, "alg": "none"}, claims),
        craft.unsigned({**header, "alg": "None"}, claims),
        craft.unsigned({**header, "alg": "none"}, claims, signature=b"x"),
        # Key confusion: the provider's public RSA key used as an HMAC secret.
        craft.hmac({**header, "alg": "HS256"}, claims, public_pem["n"].encode()),
        craft.hmac({**header, "alg": "HS512"}, claims, b"secret-sis-aeries"),
        craft.unsigned({k: v for k, v in header.items() if k != "alg"}, claims, b"sig"),
    ]
    for token in forged:
        with pytest.raises(InvalidToken) as caught:
            made.validator.validate(token)
        assert caught.value.reason is Reason.UNSUPPORTED_ALG, token
    assert made.http.urls == []  # refused before discovery, JWKS or any key


def test_tampered_real_token_has_a_bad_signature(dev_idp, client_token, make_validator,
                                                 peek, craft):
    token = client_token("sis-aeries", "records:read")
    header_segment, _, signature = token.split(".")
    claims = {**peek(token)[1], "scope": "records:read records:write"}
    payload_segment = craft.unsigned({}, claims).split(".")[1]
    tampered = f"{header_segment}.{payload_segment}.{signature}"
    with pytest.raises(InvalidToken) as caught:
        make_validator(dev_idp.issuer).validator.validate(tampered)
    assert caught.value.reason is Reason.BAD_SIGNATURE


def test_unknown_kid_triggers_one_rate_limited_jwks_refetch(dev_idp, client_token,
                                                            make_validator, fake_clock,
                                                            peek, craft):
    made = make_validator(dev_idp.issuer, clock=fake_clock, refresh_min_interval=30)
    real = client_token("sis-aeries", "records:read")
    made.validator.validate(real)
    assert made.http.count("/jwks") == 1

    def forged(kid: str) -> str:
        key = craft.key("RS256", kid=kid)
        return craft.sign(craft.claims(dev_idp.issuer, now=fake_clock.now), key)

    # Keys fetched a moment ago: an unknown kid is refused without a re-fetch.
    with pytest.raises(InvalidToken) as caught:
        made.validator.validate(forged("kid-0"))
    assert caught.value.reason is Reason.UNKNOWN_KEY
    assert made.http.count("/jwks") == 1

    fake_clock.advance(31)
    with pytest.raises(InvalidToken) as caught:
        made.validator.validate(forged("kid-1"))
    assert caught.value.reason is Reason.UNKNOWN_KEY
    assert made.http.count("/jwks") == 2  # exactly one re-fetch

    for n in range(50):  # a flood of random kids
        with pytest.raises(InvalidToken):
            made.validator.validate(forged(f"flood-{n}"))
    assert made.http.count("/jwks") == 2
    assert made.validator.validate(real).subject == "sis-aeries"  # known kid: no fetch
    assert made.http.count("/jwks") == 2
    assert made.http.count("/.well-known/openid-configuration") == 2


def test_provider_down_gives_identity_provider_unavailable(idp_config_path, make_validator,
                                                           fake_clock):
    with start_dev_provider(idp_config_path) as idp:  # a provider of its own, to stop
        issuer = idp.issuer
        response = requests.post(f"{issuer}/token", timeout=10,
                                 auth=("sis-aeries", "secret-sis-aeries"),
                                 data={"grant_type": "client_credentials",
                                       "scope": "records:read"})
        token = response.json()["access_token"]
        warm = make_validator(issuer, clock=fake_clock, jwks_ttl=600)
        assert warm.validator.validate(token).subject == "sis-aeries"
    assert not idp.running and idp.process.returncode == 0

    # No keys yet: unavailable (503), not a refusal of the token (401).
    cold = make_validator(issuer, timeout=2)
    with pytest.raises(IdentityProviderUnavailable):
        cold.validator.validate(token)
    # Cached keys serve until their TTL ...
    assert warm.validator.validate(token).subject == "sis-aeries"
    # ... then the provider is needed again.
    fake_clock.advance(601)
    with pytest.raises(IdentityProviderUnavailable):
        warm.validator.validate(token)


def test_discovery_naming_another_issuer_is_unavailable(dev_idp, client_token,
                                                        make_validator):
    token = client_token("sis-aeries", "records:read")
    made = make_validator(dev_idp.issuer + "/")  # not the provider's exact issuer string
    with pytest.raises(IdentityProviderUnavailable, match="names issuer"):
        made.validator.validate(token)
    assert made.http.count("/jwks") == 0


def test_default_http_session(dev_idp, client_token):
    validator = AccessTokenValidator(dev_idp.issuer, "records-gateway")
    try:
        assert validator.validate(client_token("sis-aeries")).scopes == frozenset()
    finally:
        validator.close()
