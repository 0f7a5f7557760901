"""A verified token is remembered, but never past its expiry or its issuer's key set."""

from __future__ import annotations

import pytest

from gateway.identity import InvalidToken, Reason


def _issuer_with_key(fake_issuer, craft, kid: str):
    key = craft.key("RS256", kid=kid)
    fake_issuer.jwks = {"keys": [craft.public_jwk(key)]}
    return key


def test_a_remembered_token_still_expires(fake_issuer, craft, make_validator, fake_clock):
    key = _issuer_with_key(fake_issuer, craft, "k1")
    claims = craft.claims(fake_issuer.issuer, now=fake_clock.now)
    token = craft.sign(claims, key)
    validator = make_validator(fake_issuer.issuer, clock=fake_clock, leeway=10).validator

    assert validator.validate(token).subject == "sis-aeries"
    assert validator.cached_tokens == 1
    fake_clock.now = claims["exp"] + 9
    assert validator.validate(token).subject == "sis-aeries"  # within the leeway
    fake_clock.now = claims["exp"] + 10
    with pytest.raises(InvalidToken) as caught:
        validator.validate(token)
    assert caught.value.reason is Reason.EXPIRED
    assert validator.cached_tokens == 0
    with pytest.raises(InvalidToken) as caught:  # and so it stays
        validator.validate(token)
    assert caught.value.reason is Reason.EXPIRED


def test_a_key_the_issuer_withdrew_is_not_trusted_from_memory(fake_issuer, craft,
                                                              make_validator, fake_clock):
    old = _issuer_with_key(fake_issuer, craft, "old")
    token = craft.sign(craft.claims(fake_issuer.issuer, now=fake_clock.now,
                                    exp=int(fake_clock.now) + 3600), old)
    made = make_validator(fake_issuer.issuer, clock=fake_clock, jwks_ttl=600)
    assert made.validator.validate(token).subject == "sis-aeries"
    assert made.validator.validate(token).subject == "sis-aeries"
    assert made.http.count("/jwks") == 1

    _issuer_with_key(fake_issuer, craft, "new")  # the issuer rotates: "old" withdrawn
    fake_clock.advance(601)  # the key set the token was verified with is now stale
    with pytest.raises(InvalidToken) as caught:
        made.validator.validate(token)
    assert caught.value.reason is Reason.UNKNOWN_KEY
    assert made.http.count("/jwks") == 2


def test_an_altered_copy_of_a_remembered_token_is_checked_in_full(fake_issuer, craft,
                                                                  make_validator,
                                                                  fake_clock):
    key = _issuer_with_key(fake_issuer, craft, "k1")
    token = craft.sign(craft.claims(fake_issuer.issuer, now=fake_clock.now), key)
    validator = make_validator(fake_issuer.issuer, clock=fake_clock).validator
    validator.validate(token)

    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken) as caught:
        validator.validate(f"{header}.{payload}.{flipped}")
    assert caught.value.reason is Reason.BAD_SIGNATURE
    assert validator.validate(token).subject == "sis-aeries"


def test_memory_is_bounded_and_can_be_turned_off(fake_issuer, craft, make_validator,
                                                 fake_clock):
    key = _issuer_with_key(fake_issuer, craft, "k1")
    tokens = [craft.sign(craft.claims(fake_issuer.issuer, now=fake_clock.now,
                                      sub=f"client-{n}"), key) for n in range(5)]
    small = make_validator(fake_issuer.issuer, clock=fake_clock,
                           verified_cache_size=2).validator
    none = make_validator(fake_issuer.issuer, clock=fake_clock,
                          verified_cache_size=0).validator
    for n, token in enumerate(tokens):
        assert small.validate(token).subject == f"client-{n}"
        assert none.validate(token).subject == f"client-{n}"
    assert small.cached_tokens == 2
    assert none.cached_tokens == 0
    assert [small.validate(t).subject for t in tokens] == [f"client-{n}" for n in range(5)]


def test_a_refused_token_is_not_remembered(fake_issuer, craft, make_validator, fake_clock):
    key = _issuer_with_key(fake_issuer, craft, "k1")
    early = craft.sign(craft.claims(fake_issuer.issuer, now=fake_clock.now,
                                    nbf=int(fake_clock.now) + 120), key)
    validator = make_validator(fake_issuer.issuer, clock=fake_clock, leeway=30).validator
    with pytest.raises(InvalidToken) as caught:
        validator.validate(early)
    assert caught.value.reason is Reason.NOT_YET_VALID
    assert validator.cached_tokens == 0
    fake_clock.advance(120)
    assert validator.validate(early).subject == "sis-aeries"


def test_a_negative_cache_size_is_refused(fake_issuer, make_validator):
    with pytest.raises(ValueError, match="verified_cache_size"):
        make_validator(fake_issuer.issuer, verified_cache_size=-1)
