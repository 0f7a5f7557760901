"""``records-gateway audit``: verify, checkpoint, prove, export the access log.

Each command is one short transaction against the configured database; problems are
one line on standard error and a non-zero exit status (2 for bad input or an
unreachable database, 1 when verification fails).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click


def _fail(message: str, status: int = 2) -> None:
    from gateway.cli import fail

    fail(message, status)


@contextmanager
def _log(*, signing: bool = False) -> Iterator[tuple[Any, Any, Any]]:
    """(the unit of work, the log's keys, the settings) for one command; ``signing``: see
    ``_keys``."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.cli import database_problem
    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.uow import UnitOfWork

    settings, log_keys, keys = _keys(signing=signing)
    _existing_database(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with UnitOfWork(make_session_factory(engine), keys) as uow:
            yield uow, log_keys, settings
    except SQLAlchemyError as exc:
        _fail(f"audit: the database cannot be read "
              f"({database_problem(exc, settings.database_url)}); is it migrated? "
              "(records-gateway db upgrade)")
    finally:
        engine.dispose()


def _existing_database(url: str) -> None:
    """A SQLite file that is not there is no log to read: say so, rather than let the
    driver make an empty database (and its lock file) and then find no tables in it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database \
            and not Path(parsed.database).is_file():
        _fail(f"audit: there is no database at {parsed.database} "
              "(records-gateway db upgrade makes one)")


def _keys(*, signing: bool = False) -> tuple[Any, Any, Any]:
    """(the settings, the log's signer and verifier keys, the key-encryption keys);
    with ``signing``, a configuration that cannot sign is refused."""
    from gateway.app import key_encryption_keys
    from gateway.audit_signing import SigningKeyError, audit_keys
    from gateway.cli import _settings
    from gateway.settings import SettingsError
    from gateway.store.crypto import CryptoError

    settings = _settings()
    try:
        log_keys = audit_keys(settings)
        if signing:
            log_keys.require_signer()
        return settings, log_keys, key_encryption_keys(settings)
    except (SigningKeyError, CryptoError, SettingsError) as exc:
        _fail(f"audit: {exc}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Seconds(click.FloatRange):
    """FloatRange lets NaN through (every comparison with it is false), and waiting NaN
    seconds does not wait: the checkpoint loop would spin."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value} is not in the range {self._describe_range()}.", param, ctx)
        return seconds


# An entry's seq: a 64-bit integer in the database.
SEQ = click.IntRange(0, 2**63 - 1)


@click.group()
def audit() -> None:
    """The tamper-evident access log: verify it, checkpoint it, prove and export entries."""


@audit.command("verify")
@click.option("--from-checkpoint", is_flag=True,
              help="Trust the entries the latest signed checkpoint covers (as far as the "
              "stored tree matches it) and read only the newer ones.")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False),
              help="Also hold the log to a checkpoint kept outside the database.")
@click.option("--workers", type=click.IntRange(1, 64), default=min(os.cpu_count() or 1, 4),
              show_default=True,
              help="Processes that read a long log (100,000 entries or more) side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(from_checkpoint: bool, checkpoint_file: str | None, workers: int,
           as_json: bool) -> None:
    """Verify the whole log where it is stored; name the first bad entry.

    Exit status 0 when it verifies, 1 when it does not, 2 for input it cannot use.
    """
    note = None
    if checkpoint_file is not None:
        note = _read_checkpoint(Path(checkpoint_file))
    with _log() as (uow, log_keys, settings):
        if note is None:  # the checkpointer's, if it keeps one on this machine
            note = _kept_checkpoint(settings)
        uow.read_snapshot()  # a long read: SQLite's writers must not wait for it
        report = uow.access_log.verify(log_keys.verifier_key, checkpoint_note=note,
                                       from_checkpoint=from_checkpoint, workers=workers)
    click.echo(json.dumps(report.as_dict()) if as_json else report.summary())
    sys.exit(0 if report.ok else 1)


def _read_checkpoint(path: Path) -> str:
    try:
        note = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"audit: cannot read {path} ({type(exc).__name__})")
    if not _shaped_as_checkpoint(note):
        _fail(f"audit: {path} is not a checkpoint (a signed note: origin, tree size, root "
              "hash, a blank line, signature lines)")
    return note


def _kept_checkpoint(settings: Any) -> str | None:
    """The last checkpoint the checkpointer signed, kept outside the database; None
    before its first."""
    path = settings.kept_checkpoint_file
    return _read_checkpoint(path) if path.exists() else None


def _keep_checkpoint(settings: Any, signer: Any, note: str) -> None:
    """Replace the kept checkpoint with ``note``, whole or not at all (written beside
    it, flushed to the disk, then renamed over it); only one this signer signed (the
    database's latest may be another key's, or forged)."""
    from audit.checkpoint import CheckpointError, parse_and_verify

    try:
        parse_and_verify(note, signer.verifier_key, origin=signer.origin)
    except CheckpointError:
        return
    path = settings.kept_checkpoint_file
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", encoding="utf-8") as out:
            out.write(note)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        _fail(f"audit: cannot keep the checkpoint in {path} ({type(exc).__name__}); set "
              "GATEWAY_AUDIT_CHECKPOINT_FILE to a file the checkpointer may write")


def _shaped_as_checkpoint(note: str) -> bool:
    """Whether ``note`` has a checkpoint's form, signed or not: a file that is none is
    bad input (exit 2), while a checkpoint that fails to verify is tampering (exit 1)."""
    from audit.checkpoint import SIGNATURE_PREFIX, CheckpointError, parse_checkpoint

    text, blank, signatures = note.rpartition("\n\n")
    if not blank or not signatures.startswith(SIGNATURE_PREFIX):
        return False
    try:
        parse_checkpoint(text + "\n")
    except CheckpointError:
        return False
    return True


@audit.command("checkpoint")
@click.option("--every", type=_Seconds(0.05, 3600), default=None,
              help="Keep running, checkpointing every this many seconds whenever the log "
              "grew (deploy/systemd/records-gateway-checkpoint.service).")
def checkpoint(every: float | None) -> None:
    """Sign a checkpoint of the log as it is now and print it (the latest one again if
    no entry was added since: cheap enough to run every second)."""
    from gateway.store.access_log import CheckpointRefused

    if every is not None:
        _checkpoint_forever(every)
        return
    with _log(signing=True) as (uow, log_keys, settings):
        kept = _kept_checkpoint(settings)
        try:
            signed = uow.access_log.checkpoint(log_keys.signer, _now(), kept_note=kept)
        except CheckpointRefused as exc:
            _fail(f"audit: not signing: {exc}", 1)
        uow.commit()
    if signed.note != kept:
        _keep_checkpoint(settings, log_keys.signer, signed.note)
    click.echo(signed.note, nl=False)


def checkpoint_loop(unit_of_work: Callable[[], object], signer: object, every: float,
                    stop: threading.Event, clock: Callable[[], datetime] = _now, *,
                    kept: str | None = None, keep: Callable[[str], None] | None = None
                    ) -> int:
    """Checkpoint every ``every`` seconds until ``stop`` is set; the checkpoints signed.

    At a fixed rate (ticks ``every`` apart, whatever signing took), so an entry waits at
    most ``every`` plus one signing for a checkpoint that covers it. ``kept`` is the last
    checkpoint signed, kept outside the database; each new one goes to ``keep``. A log
    that does not extend them raises CheckpointRefused.
    """
    import time

    from sqlalchemy.exc import SQLAlchemyError

    signed = 0
    last = -1
    tick = time.monotonic()
    while not stop.is_set():
        try:
            with unit_of_work() as uow:
                cp = uow.access_log.checkpoint(signer, clock(), kept_note=kept)
                uow.commit()
        except SQLAlchemyError as exc:
            # The database may come back: say so once a round and keep going.
            click.echo(f"records-gateway: audit: no checkpoint ({type(exc).__name__})",
                       err=True)
        else:
            if keep is not None and cp.note != kept:
                keep(cp.note)
                kept = cp.note
            if cp.size != last:
                signed, last = signed + 1, cp.size
        tick += every
        now = time.monotonic()
        if tick < now:  # fell behind (a slow database): start counting again from now
            tick = now
        stop.wait(tick - now)
    return signed


def _checkpoint_forever(every: float) -> None:
    import signal

    from gateway.store.access_log import CheckpointRefused
    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.uow import UnitOfWork

    settings, log_keys, keys = _keys(signing=True)
    signer = log_keys.signer
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        checkpoint_loop(lambda: UnitOfWork(sessions, keys), signer, every, stop,
                        kept=_kept_checkpoint(settings),
                        keep=lambda note: _keep_checkpoint(settings, signer, note))
    except CheckpointRefused as exc:
        _fail(f"audit: not signing: {exc}", 1)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


@audit.command("prove")
@click.argument("seq", type=SEQ)
def prove(seq: int) -> None:
    """Print entry SEQ's inclusion proof bundle (JSON) against a signed checkpoint.

    Check it without the gateway: python -m audit.verify --proof PROOF.json --key VKEY.txt
    """
    from gateway.store.access_log import AccessLogError

    with _log() as (uow, log_keys, _settings):
        if seq >= uow.access_log.head().size:
            _fail(f"audit: there is no entry {seq}")
        latest = uow.access_log.latest_checkpoint()
        if latest is None or latest.size <= seq:
            if log_keys.signer is None:
                _fail(f"audit: no signed checkpoint covers entry {seq} yet, and only the "
                      "verifier key is configured here: wait for the checkpointer")
            latest = uow.access_log.checkpoint(log_keys.signer, _now())
            uow.commit()
        try:
            bundle = uow.access_log.proof_bundle(seq, latest)
        except AccessLogError as exc:
            _fail(f"audit: {exc}")
    click.echo(json.dumps(bundle, indent=2))


@audit.command("export")
@click.option("--from", "start", default=0, type=SEQ, show_default=True,
              help="The first entry to export.")
def export(start: int) -> None:
    """Write the entries as JSON lines (their canonical form), in seq order.

    The output is what python -m audit.verify ENTRIES.jsonl checks.
    """
    out = sys.stdout.buffer
    with _log() as (uow, _log_keys, _settings):
        for line in uow.access_log.export_lines(start):
            out.write(line)
    out.flush()


@audit.command("public-key")
def public_key() -> None:
    """Print the verifier key auditors check checkpoints and proofs with."""
    with _log() as (_uow, log_keys, _settings):
        click.echo(log_keys.verifier_key)
