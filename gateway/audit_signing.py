"""The access log's checkpoint signer and verifier key, from the settings.

The signing key file holds one signed-note signer key
(``PRIVATE+KEY+<name>+<id>+<base64>``, audit/checkpoint.py), the form
golang.org/x/mod/sumdb/note and other tlog tools use. Outside production, a development
key is made in the data directory on first use, atomically, so that several workers
starting at once end up with the same key.

A process that only verifies (the web tier: integrity status, proofs) can be given the
public verifier key alone (``<name>+<id>+<base64>``); then only the checkpointer
(deploy/audit) holds the private key, and a compromised web process cannot sign a
checkpoint over a rewritten log.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audit.checkpoint import (
    CheckpointError,
    VerifierKey,
    encode_signer_key,
    generate_key,
    parse_signer_key,
)
from gateway.settings import Settings, make_data_dir
from gateway.store.access_log import LogSigner

DEVELOPMENT_KEY = "development-audit-signing-key"


class SigningKeyError(ValueError):
    """The signing key cannot be read; the message names the file, never the key."""


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The checkpoint signer (None where only the verifier key is configured) and the
    verifier key that checkpoints and proofs are checked with."""

    signer: LogSigner | None
    verifier_key: str

    def require_signer(self) -> LogSigner:
        if self.signer is None:
            raise SigningKeyError("signing a checkpoint needs GATEWAY_AUDIT_SIGNING_KEY_FILE; "
                                  "only the verifier key is configured here")
        return self.signer


def audit_keys(settings: Settings) -> AuditKeys:
    """The configured keys; SigningKeyError if a file cannot be read, or if a verifier
    key given beside the signing key is not its public half."""
    verifier = None
    if settings.audit_verifier_key_file is not None:
        verifier = _verifier_key(settings.audit_verifier_key_file)
        if settings.audit_signing_key_file is None:
            return AuditKeys(None, verifier)
    signer = log_signer(settings)
    if verifier is not None and verifier != signer.verifier_key:
        raise SigningKeyError(f"{settings.audit_verifier_key_file}: not the verifier key of "
                              f"the signing key in {settings.audit_signing_key_file}")
    return AuditKeys(signer, signer.verifier_key)


def _key_text(path: Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"{path}: cannot read the {what} ({type(exc).__name__})"
                              ) from None


def _verifier_key(path: Path) -> str:
    text = _key_text(path, "verifier key")
    try:
        return str(VerifierKey.parse(text))
    except CheckpointError as exc:
        raise SigningKeyError(f"{path}: not a verifier key: {exc}") from None


def log_signer(settings: Settings) -> LogSigner:
    path = settings.audit_signing_key_file
    if path is None:
        if settings.environment == "production":
            raise SigningKeyError("production needs GATEWAY_AUDIT_SIGNING_KEY_FILE")
        path = settings.data_dir / DEVELOPMENT_KEY
        if not path.exists():
            make_data_dir(settings)
            _make_development_key(path, settings.audit_origin)
    text = _key_text(path, "signing key")
    try:
        name, private_key = parse_signer_key(text)
    except CheckpointError as exc:
        raise SigningKeyError(f"{path}: not a signer key: {exc}") from None
    return LogSigner(origin=settings.audit_origin, key_name=name, private_key=private_key)


def key_name_for(origin: str) -> str:
    """A signed-note key name for the log (no spaces, no '+')."""
    return re.sub(r"[\s+]", "-", origin)


def _make_development_key(path: Path, origin: str) -> None:
    # As gateway.app.key_encryption_keys(): write aside, then link into place, which
    # fails if another process got there first (its key is then the key).
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(encode_signer_key(key_name_for(origin), generate_key()) + "\n")
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
