"""C2SP signed notes and checkpoints: formats, key IDs, and what must be rejected."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    encode_signer_key,
    generate_key,
    key_id,
    open_note,
    parse_and_verify,
    parse_checkpoint,
    parse_signer_key,
    sign_checkpoint,
    sign_note,
    verifier_key,
)

ORIGIN = "records.example-usd.k12.ca.us/access-log"
ROOT = hashlib.sha256(b"a root").digest()

# The example of golang.org/x/mod/sumdb/note (also in the C2SP signed-note tests).
# Ed25519 is deterministic, so signing this text with this key must give this note.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgY" \
                    "N1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_we_write_exactly_what_the_go_reference_writes() -> None:
    name, key = parse_signer_key(GO_SIGNER)
    assert name == "PeterNeumann"
    assert verifier_key(name, key) == GO_VERIFIER
    assert encode_signer_key(name, key) == GO_SIGNER
    assert sign_note(GO_TEXT, key, name) == GO_NOTE
    assert open_note(GO_NOTE, GO_VERIFIER) == GO_TEXT
    with pytest.raises(CheckpointError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), GO_VERIFIER)


def test_the_key_id_is_computed_as_the_spec_says() -> None:
    key = generate_key()
    public = raw(key)
    # c2sp.org/signed-note: SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    by_hand = hashlib.sha256(ORIGIN.encode() + b"\x0a" + b"\x01" + public).digest()[:4]
    assert key_id(ORIGIN, public) == by_hand
    vkey = verifier_key(ORIGIN, key)
    name, hex_id, material = vkey.split("+", 2)
    assert (name, hex_id) == (ORIGIN, by_hand.hex())
    assert base64.b64decode(material) == b"\x01" + public
    _, _, signature = sign_note("hello\n", key, ORIGIN).rstrip("\n").rpartition(" ")
    assert base64.b64decode(signature)[:4] == by_hand
    # And on the Go vector, whose ID is public.
    go_public = base64.b64decode(GO_VERIFIER.split("+", 2)[2])[1:]
    assert key_id("PeterNeumann", go_public).hex() == "c74f20a3"


def test_a_checkpoint_signs_and_verifies() -> None:
    key = generate_key()
    note = sign_checkpoint(ORIGIN, 12345, ROOT, key, ORIGIN)
    body, _, signature_line = note.partition("\n\n")
    assert body + "\n" == f"{ORIGIN}\n12345\n{base64.b64encode(ROOT).decode()}\n"
    assert re.fullmatch("\u2014 " + re.escape(ORIGIN) + r" [A-Za-z0-9+/]{91}=\n", signature_line)
    checkpoint = parse_and_verify(note, verifier_key(ORIGIN, key))
    assert checkpoint == Checkpoint(ORIGIN, 12345, ROOT)
    assert parse_and_verify(note.encode(), VerifierKey.of(ORIGIN, key), origin=ORIGIN) == checkpoint
    with pytest.raises(CheckpointError):
        parse_and_verify(note, verifier_key(ORIGIN, key), origin="another.example/log")


def test_extension_lines_are_signed_and_kept() -> None:
    key = generate_key()
    note = sign_checkpoint(ORIGIN, 0, ROOT, key, ORIGIN, extensions=("policy ar5125-2013",))
    assert parse_and_verify(note, verifier_key(ORIGIN, key)).extensions == ("policy ar5125-2013",)
    with pytest.raises(CheckpointError):
        parse_and_verify(note.replace("2013", "2014"), verifier_key(ORIGIN, key))


def test_the_wrong_key_is_rejected() -> None:
    key, other = generate_key(), generate_key()
    note = sign_checkpoint(ORIGIN, 10, ROOT, key, ORIGIN)
    with pytest.raises(CheckpointError, match="not signed by"):
        parse_and_verify(note, verifier_key(ORIGIN, other))
    with pytest.raises(CheckpointError, match="not signed by"):
        parse_and_verify(note, verifier_key("another.example/log", key))
    # Same name and ID as the signer but another key: the signature is checked and fails.
    impostor = VerifierKey(ORIGIN, key_id(ORIGIN, raw(key)), raw(other))
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_and_verify(note, impostor)


@pytest.mark.parametrize("tamper", [
    lambda n: n.replace("\n10\n", "\n11\n", 1),
    lambda n: n.replace("\n10\n", "\n010\n", 1),
    lambda n: n.replace(ORIGIN, ORIGIN + "x", 1),
    lambda n: n.replace(base64.b64encode(ROOT).decode(), base64.b64encode(ROOT[::-1]).decode()),
    lambda n: n.replace("\n\n", "\nextension\n\n", 1),
    lambda n: "x" + n,
])
def test_a_tampered_body_is_rejected(tamper) -> None:
    key = generate_key()
    note = sign_checkpoint(ORIGIN, 10, ROOT, key, ORIGIN)
    with pytest.raises(CheckpointError):
        parse_and_verify(tamper(note), verifier_key(ORIGIN, key))


def test_signatures_by_other_keys_are_ignored() -> None:
    log_key, witness = generate_key(), generate_key()
    note = sign_checkpoint(ORIGIN, 10, ROOT, log_key, ORIGIN)
    cosigned = note + sign_note(note.partition("\n\n")[0] + "\n", witness,
                                "witness.example").partition("\n\n")[2]
    assert parse_and_verify(cosigned, verifier_key(ORIGIN, log_key)).size == 10
    assert parse_and_verify(cosigned, verifier_key("witness.example", witness)).size == 10
    with pytest.raises(CheckpointError, match="not signed by"):
        parse_and_verify(cosigned, verifier_key("third.example", generate_key()))


@pytest.mark.parametrize("body", [
    f"{ORIGIN}\n10\n", f"\n10\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n 10\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n１０\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n10\n{base64.b64encode(ROOT[:31]).decode()}\n",
    f"{ORIGIN}\n10\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
    f"{ORIGIN}\n{2**63}\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n10\n{base64.b64encode(ROOT).decode()}",
])
def test_malformed_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)


@pytest.mark.parametrize("note", [
    GO_TEXT,  # no signatures
    GO_NOTE.replace("\n\n", "\n"),
    GO_NOTE.rstrip("\n"),
    GO_NOTE.replace("\u2014 ", "- "),
    GO_NOTE.replace("PeterNeumann x08", "PeterNeumannx08"),
    GO_NOTE.replace("x08go", "x08g!"),
    GO_NOTE.replace("problem,", "problem,\r"),
    GO_NOTE + "\u2014 PeterNeumann AAAA\n",  # too short to hold a key ID and signature
    GO_TEXT + "\n" + "\u2014 other.example AAAAAAA=\n" * 101,
])
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(CheckpointError):
        open_note(note, GO_VERIFIER)
    with pytest.raises(CheckpointError):
        open_note(b"\xff" + GO_NOTE.encode(), GO_VERIFIER)


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong ID
    "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # name changed
    "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
    "PeterNeumann+c74f20a3",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "",
])
def test_malformed_verifier_keys_are_rejected(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        VerifierKey.parse(vkey)


def test_a_verifier_key_round_trips() -> None:
    key = VerifierKey.parse(GO_VERIFIER)
    assert str(key) == GO_VERIFIER and key.key_id.hex() == "c74f20a3"
    with pytest.raises(CheckpointError):
        parse_signer_key(GO_SIGNER.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(CheckpointError):
        parse_signer_key(GO_VERIFIER)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname"])
def test_key_names_are_one_word_without_plus(name: str) -> None:
    with pytest.raises(CheckpointError):
        sign_note("text\n", generate_key(), name)


def test_only_well_formed_text_is_signed() -> None:
    with pytest.raises(CheckpointError):
        sign_note("no final newline", generate_key(), ORIGIN)
    with pytest.raises(CheckpointError):
        sign_note("bell\a\n", generate_key(), ORIGIN)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))
