"""Signed checkpoints of the access log, in the C2SP formats.

- c2sp.org/tlog-checkpoint: the note text is ``<origin>\\n<size>\\n<base64 root>\\n``
  plus optional non-empty extension lines;
- c2sp.org/signed-note: the text, a blank line, then one line per signature,
  ``— <key name> <base64(4-byte key ID || signature)>`` (U+2014 em dash);
  Ed25519 key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4];
- verifier keys as golang.org/x/mod/sumdb/note writes them:
  ``<name>+<8 hex digits of the key ID>+<base64(0x01 || public key)>``, and signer
  keys as ``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte seed)>``.

Being the common formats, a custodian can check our checkpoints with any signed-note
tool, and witnesses can cosign them later without a format change.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit._codec import b64decode, b64encode

ED25519 = 0x01  # signature type byte of c2sp.org/signed-note
KEY_ID_SIZE = 4
HASH_SIZE = 32
EM_DASH = "\u2014"
SIGNATURE_PREFIX = EM_DASH + " "
# The spec asks verifiers to accept at least 16; golang.org/x/mod allows 100.
MAX_SIGNATURES = 100
_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = 2**63 - 1
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


class CheckpointError(ValueError):
    """A note, checkpoint or key is malformed, or its signature does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head the log has signed: its origin, size and root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("the origin is one non-empty line")
        if type(self.size) is not int or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(f"bad tree size {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError("the root hash is 32 bytes")
        for line in self.extensions:
            if not line or "\n" in line:
                raise CheckpointError("extension lines are non-empty single lines")

    def body(self) -> str:
        """The checkpoint note text (what is signed)."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _check_name(name: object) -> str:
    if (not isinstance(name, str) or not name or "+" in name
            or any(c.isspace() or c < " " for c in name)):
        raise CheckpointError(f"bad key name {name!r}: non-empty, no spaces, no '+'")
    return name


def _raw_public(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte Ed25519 key ID of c2sp.org/signed-note."""
    _check_name(name)
    material = name.encode() + b"\n" + bytes([ED25519]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A trusted checkpoint signer: key name, key ID and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes  # 32 bytes, RFC 8032 encoding

    @classmethod
    def of(cls, name: str, key: Ed25519PublicKey | Ed25519PrivateKey) -> VerifierKey:
        raw = _raw_public(key)
        return cls(name, key_id(name, raw), raw)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``<name>+<hex key ID>+<base64(0x01 || key)>``."""
        # The base64 part may contain '+', so split at most twice.
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise CheckpointError("a verifier key is <name>+<key id>+<key>")
        name, hex_id, encoded = parts
        _check_name(name)
        if not _KEY_ID_HEX.fullmatch(hex_id):
            raise CheckpointError("the key ID of a verifier key is 8 lowercase hex digits")
        try:
            material = b64decode(encoded, what="the verifier key")
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        if len(material) != 1 + 32 or material[0] != ED25519:
            raise CheckpointError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        key = cls(name, bytes.fromhex(hex_id), material[1:])
        if key_id(name, key.public_key) != key.key_id:
            raise CheckpointError("the verifier key's ID does not match its name and key")
        return key

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64encode(bytes([ED25519]) + self.public_key)}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def generate_key() -> Ed25519PrivateKey:
    """A new checkpoint signing key."""
    return Ed25519PrivateKey.generate()


def verifier_key(name: str, key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The vkey text that auditors are given for ``key`` under ``name``."""
    return str(VerifierKey.of(name, key))


def encode_signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>``, for the custodian's vault."""
    kid = key_id(name, _raw_public(private_key)).hex()
    seed = private_key.private_bytes_raw()
    return f"PRIVATE+KEY+{name}+{kid}+{b64encode(bytes([ED25519]) + seed)}"


def parse_signer_key(text: str) -> tuple[str, Ed25519PrivateKey]:
    """Read a signer key written by ``encode_signer_key`` (or golang.org/x/mod/sumdb/note)."""
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise CheckpointError("a signer key is PRIVATE+KEY+<name>+<key id>+<key>")
    name, hex_id, encoded = parts[2:]
    _check_name(name)
    try:
        material = b64decode(encoded, what="the signer key")
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    if len(material) != 1 + 32 or material[0] != ED25519 or not _KEY_ID_HEX.fullmatch(hex_id):
        raise CheckpointError("only Ed25519 signer keys (type 0x01, 32-byte seed) are supported")
    private_key = Ed25519PrivateKey.from_private_bytes(material[1:])
    if key_id(name, _raw_public(private_key)).hex() != hex_id:
        raise CheckpointError("the signer key's ID does not match its name and key")
    return name, private_key


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise CheckpointError("a note's text ends in a newline")
    if any(c < " " and c != "\n" for c in text):
        raise CheckpointError("a note may not contain control characters other than newline")


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """``text``, a blank line, and one Ed25519 signature line (c2sp.org/signed-note)."""
    _check_note_text(text)
    kid = key_id(key_name, _raw_public(private_key))
    signature = private_key.sign(text.encode("utf-8"))
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {b64encode(kid + signature)}\n"


def open_note(note: str | bytes, key: VerifierKey | str) -> str:
    """The text of ``note`` if ``key`` signed it; CheckpointError otherwise.

    As c2sp.org/signed-note requires: signatures by other keys are ignored, a
    bad signature by ``key`` rejects the note, and so does none at all.
    """
    if isinstance(key, str):
        key = VerifierKey.parse(key)
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("a note is UTF-8") from None
    if any(c < " " and c != "\n" for c in note):
        raise CheckpointError("a note may not contain control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("no blank line before the signatures")
    text, signatures = note[:split + 1], note[split + 2:]
    if not signatures.endswith("\n"):
        raise CheckpointError("a note ends with signature lines, each ending in a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"more than {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    verified = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError("a signature line starts with an em dash and a space")
        name, space, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        if not space:
            raise CheckpointError("a signature line is '— <key name> <signature>'")
        _check_name(name)
        try:
            blob = b64decode(encoded, what="a signature")
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        if len(blob) <= KEY_ID_SIZE:
            raise CheckpointError("a signature is a key ID and the signature bytes")
        if name != key.name or blob[:KEY_ID_SIZE] != key.key_id:
            continue  # someone else's signature (a witness, a rotated key): ignored
        if not key.verify(blob[KEY_ID_SIZE:], message):
            raise CheckpointError(f"the signature by {key.name} does not verify")
        verified = True
    if not verified:
        raise CheckpointError(f"the note is not signed by {key.name}+{key.key_id.hex()}")
    return text


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint note text (already verified); CheckpointError if malformed."""
    _check_note_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash")
    origin, size, root, *extensions = lines
    if not _SIZE.fullmatch(size) or int(size) > _MAX_TREE_SIZE:
        raise CheckpointError(f"the tree size {size!r} is not a decimal without leading zeros")
    try:
        root_hash = b64decode(root, length=HASH_SIZE, what="the root hash")
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(origin: str, size: int, root: bytes, private_key: Ed25519PrivateKey,
                    key_name: str, extensions: tuple[str, ...] = ()) -> str:
    """The signed checkpoint note for the tree head (size, root) of log ``origin``."""
    return sign_note(Checkpoint(origin, size, root, extensions).body(), private_key, key_name)


def parse_and_verify(note: str | bytes, vkey: VerifierKey | str, *,
                     origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with ``vkey`` and read it; CheckpointError if either fails.

    Give ``origin`` to also require the checkpoint to be of that log.
    """
    checkpoint = parse_checkpoint(open_note(note, vkey))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is of {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
