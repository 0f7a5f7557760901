"""The offline verifier of the access log: what an auditor runs on an export.

    python -m audit.verify ENTRIES.jsonl [--checkpoint CP.txt --key VKEY.txt]
    python -m audit.verify --proof PROOF.json --key VKEY.txt

No content key is needed: the tree commits to the sealed form, so a log whose
students' keys were destroyed verifies all the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit._codec import b64decode, b64encode, load_json
from audit.checkpoint import Checkpoint, CheckpointError, VerifierKey, parse_and_verify
from audit.events import EntryError, StoredEntry
from audit.merkle import EMPTY_ROOT, ProofError, RightEdge, leaf_hash, verify_inclusion

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# How far back an entry's prev_hash is looked for, to tell insertions apart from changes.
_WINDOW = 1024


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What the verifier found, in plain words."""

    ok: bool
    size: int  # entries read, or the tree size a proof is against
    root: bytes | None  # root over the entries as read; None if one could not be read
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoint: Checkpoint | None = None
    entry_seq: int | None = None  # for a proof bundle: the entry it proves

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entry_seq": self.entry_seq,
            "size": self.size,
            "root": None if self.root is None else b64encode(self.root),
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "checkpoint": None if self.checkpoint is None else {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": b64encode(self.checkpoint.root_hash),
            },
        }

    def summary(self) -> str:
        """One line for a person."""
        if not self.ok:
            where = "" if self.first_bad_seq is None else f" at seq {self.first_bad_seq}"
            return f"FAILED{where}: {self.problem}"
        root = "none" if self.root is None else b64encode(self.root)
        if self.entry_seq is not None and self.checkpoint is not None:
            return (f"ok: entry {self.entry_seq} is in the log of {self.checkpoint.origin} "
                    f"at size {self.size}, root {root}")
        line = f"ok: {self.size} entries, root {root}"
        if self.checkpoint is None:
            return line + " (no checkpoint: consistent, but not shown authentic)"
        cp = self.checkpoint
        line += f"; matches the checkpoint of {cp.origin} at size {cp.size}"
        if self.size > cp.size:
            line += f"; entries {cp.size}..{self.size - 1} are not covered by it yet"
        return line


class _Finding:
    """The first problem found; later ones only follow from it."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.problem: str | None = None

    def __bool__(self) -> bool:
        return self.problem is not None

    def note(self, seq: int | None, problem: str) -> None:
        if not self:
            self.seq, self.problem = seq, problem


def verify_log(lines: Iterable[str | bytes],
               checkpoint: Checkpoint | None = None) -> VerificationReport:
    """Check an exported access log, entries in seq order, one JSON object a line.

    Recomputes every leaf and the root; checks seqs run 0, 1, 2... and that each
    entry's prev_hash is the leaf hash of the one before; with a (verified)
    checkpoint, that the log holds at least its entries and that they hash to its
    root. Reports the first entry that is not what the log committed to.
    """
    found = _Finding()
    edge = RightEdge()
    readable = True  # every line so far could be read and hashed
    prefix_root = EMPTY_ROOT if checkpoint is not None and checkpoint.size == 0 else None
    position = 0
    prev_leaf: bytes | None = None  # leaf hash of the entry at position - 1
    pending: int | None = None  # a broken link before this position, awaiting the next entry
    recent: deque[bytes] = deque(maxlen=_WINDOW)  # leaf hashes of the entries just read

    def resolve(at: int, confirmed: bool) -> None:
        # The link before entry `at` broke. If the next entry vouches for entry `at`,
        # the entry before the break is what changed; otherwise entry `at` is
        # (inserted, changed, or standing where a deleted entry was).
        if confirmed:
            found.note(at - 1, f"entry {at - 1} is not what entry {at} recorded for it "
                       f"(prev_hash): it was changed")
        else:
            found.note(at, f"entry {at} does not fit between its neighbours: it was "
                       f"inserted or changed, or the entry before it was deleted")

    for raw in lines:
        if not raw.strip():
            continue  # blank lines carry no entry
        i = position
        position += 1
        try:
            stored = StoredEntry.from_json_line(raw)
            current = leaf_hash(stored.leaf())
        except EntryError as exc:
            if pending is not None:
                resolve(pending, confirmed=False)
            found.note(i, f"entry {i} cannot be read: {exc}")
            readable, prev_leaf, pending = False, None, None
            recent.clear()
            continue

        if pending is not None:
            resolve(pending, confirmed=stored.seq == i and stored.prev_hash == prev_leaf)
            pending = None

        if not found:
            if stored.seq > i:
                found.note(i, f"entry {i} is missing: the entry in its place says seq "
                           f"{stored.seq} (deleted, or entries out of order)")
            elif stored.seq < i:
                if stored.seq == i - 1:
                    found.note(i - 1, f"two entries say seq {i - 1}: one was inserted")
                else:
                    found.note(i, f"the entry at position {i} says seq {stored.seq}: "
                               f"entries out of order, or one inserted")
            elif i > 0 and prev_leaf is not None and stored.prev_hash != prev_leaf:
                earlier = _position_of(stored.prev_hash, recent, i)
                if earlier is not None:
                    # Entry i follows an earlier entry: the ones between are extra.
                    found.note(earlier + 1, f"entries {earlier + 1} and {i} both follow entry "
                               f"{earlier}: entries {earlier + 1}..{i - 1} were inserted")
                else:
                    pending = i

        recent.append(current)
        if readable:
            edge.push(current)
            if checkpoint is not None and position == checkpoint.size:
                prefix_root = edge.root()
        prev_leaf = current

    if pending is not None:
        # No entry after the break to ask: a change before it is the likelier.
        found.note(pending - 1, f"entry {pending - 1} is not what entry {pending} "
                   f"recorded for it (prev_hash): it was changed, or entry {pending} added")

    size = position
    if checkpoint is not None:
        _check_against(checkpoint, size, prefix_root, found)
    return VerificationReport(ok=not found, size=size, root=edge.root() if readable else None,
                              first_bad_seq=found.seq, problem=found.problem,
                              checkpoint=checkpoint)


def _position_of(digest: bytes | None, recent: deque[bytes], position: int) -> int | None:
    """Which entry before the last one read (at ``position - 1``) has leaf hash ``digest``."""
    for back, leaf in enumerate(reversed(recent)):
        if back and leaf == digest:
            return position - 1 - back
    return None


def _check_against(checkpoint: Checkpoint, size: int, prefix_root: bytes | None,
                   found: _Finding) -> None:
    signed = checkpoint.size
    if found.seq is not None and found.seq < min(size, signed):
        return  # an earlier problem explains whatever the checkpoint would say
    if size < signed:
        found.seq, found.problem = None, None  # the first missing entry comes first
        found.note(size, f"the log is truncated: the checkpoint signed {signed} entries, "
                   f"the export has {size} (entries {size}..{signed - 1} are missing)")
    elif prefix_root is not None and prefix_root != checkpoint.root_hash:
        found.seq, found.problem = None, None
        if signed == 0:
            found.note(None, "the checkpoint is of the empty log but its root is not "
                       "the empty tree's")
        else:
            # Every link up to here held, so the last signed entry certainly changed;
            # earlier ones may have been rewritten together with their prev_hash chain.
            found.note(signed - 1, f"the first {signed} entries do not hash to the signed "
                       f"root: entry {signed - 1} was changed, or entries were rewritten "
                       f"up to it along with their hash chain")


class BundleError(ValueError):
    """A proof bundle is not of the expected shape."""


BUNDLE_FIELDS = ("entry", "leaf_index", "tree_size", "proof", "checkpoint")


def proof_bundle(entry: StoredEntry, tree_size: int, proof: Sequence[bytes],
                 checkpoint_note: str) -> dict[str, Any]:
    """What the custodian hands out to show one entry is in the signed log."""
    return {
        "entry": entry.to_json(),
        "leaf_index": entry.seq,
        "tree_size": tree_size,
        "proof": [b64encode(p) for p in proof],
        "checkpoint": checkpoint_note,
    }


def _index(bundle: Mapping[str, Any], name: str) -> int:
    value = bundle[name]
    if type(value) is not int or value < 0:
        raise BundleError(f"{name} must be a non-negative integer")
    return value


def verify_proof_bundle(bundle: object, vkey: VerifierKey | str) -> VerificationReport:
    """Check that a bundle's entry is leaf ``leaf_index`` of the signed checkpoint.

    BundleError if the bundle is not of the right shape; otherwise a report.
    """
    if not isinstance(bundle, Mapping) or set(bundle) != set(BUNDLE_FIELDS):
        raise BundleError(f"a proof bundle is an object with {', '.join(BUNDLE_FIELDS)}")
    index, size = _index(bundle, "leaf_index"), _index(bundle, "tree_size")
    if not isinstance(bundle["checkpoint"], str):
        raise BundleError("checkpoint must be the signed note text")
    if not isinstance(bundle["proof"], list):
        raise BundleError("proof must be a list of base64 hashes")
    try:
        proof = [b64decode(p, length=32, what="a proof hash") for p in bundle["proof"]]
    except ValueError as exc:
        raise BundleError(str(exc)) from None

    def failed(problem: str, cp: Checkpoint | None = None) -> VerificationReport:
        return VerificationReport(False, size, cp.root_hash if cp else None, index, problem, cp,
                                  entry_seq=index)

    try:
        cp = parse_and_verify(bundle["checkpoint"], vkey)
    except CheckpointError as exc:
        return failed(f"the checkpoint does not verify: {exc}")
    if cp.size != size:
        return failed(f"the proof is for size {size}, the checkpoint is of size {cp.size}", cp)
    try:
        entry = StoredEntry.from_json(bundle["entry"])
    except EntryError as exc:
        return failed(f"the entry cannot be read: {exc}", cp)
    if entry.seq != index:
        return failed(f"the entry says seq {entry.seq}, the proof is for leaf {index}", cp)
    try:
        verify_inclusion(index, size, leaf_hash(entry.leaf()), proof, cp.root_hash)
    except ProofError as exc:
        return failed(f"the entry is not in the signed log: {exc}", cp)
    return VerificationReport(True, size, cp.root_hash, None, None, cp, entry_seq=index)


# The command line.

class _BadInput(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, not argparse's usage block: auditors grep these.
        raise _BadInput(message)


def _read(path: str, what: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise _BadInput(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadInput(f"the {what} is not UTF-8 text") from None


def _key(path: str) -> VerifierKey:
    try:
        return VerifierKey.parse(_text(_read(path, "key file"), "key file").strip())
    except CheckpointError as exc:
        raise _BadInput(f"the key in {path} is not a verifier key: {exc}") from None


def _run(args: argparse.Namespace) -> tuple[VerificationReport | None, str | None]:
    """A report, or (None, problem) when a verified checkpoint could not be had."""
    if args.proof is not None:
        key = _key(args.key)
        try:
            bundle = load_json(_text(_read(args.proof, "proof file"), "proof file"))
            return verify_proof_bundle(bundle, key), None
        except (BundleError, ValueError) as exc:
            raise _BadInput(f"{args.proof} is not a proof bundle: {exc}") from None
    checkpoint = None
    if args.checkpoint is not None:
        key = _key(args.key)
        note = _text(_read(args.checkpoint, "checkpoint"), "checkpoint")
        try:
            checkpoint = parse_and_verify(note, key, origin=args.origin)
        except CheckpointError as exc:
            return None, f"the checkpoint does not verify with {key.name}: {exc}"
    if args.entries == "-":
        return verify_log(sys.stdin.buffer, checkpoint), None
    try:
        with open(args.entries, "rb") as f:
            return verify_log(f, checkpoint), None
    except OSError as exc:
        raise _BadInput(f"cannot read entries {args.entries}: {exc.strerror or exc}") from None


def _one_line(message: str, limit: int = 400) -> str:
    # Messages may quote the input: keep them to one readable line whatever it held.
    message = " ".join(message.split())
    return message if len(message) <= limit else message[:limit - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m audit.verify",
        description="Verify an exported access log, or one entry's inclusion proof.",
        epilog="Exit status: 0 verified, 1 verification failed, 2 bad input.")
    parser.add_argument("entries", nargs="?", metavar="ENTRIES.jsonl",
                        help="the exported entries, in seq order ('-' for standard input)")
    parser.add_argument("--checkpoint", metavar="CP.txt", help="a signed checkpoint note")
    parser.add_argument("--key", metavar="VKEY.txt", help="the log's verifier key (vkey)")
    parser.add_argument("--origin", help="require the checkpoint to be of this log")
    parser.add_argument("--proof", metavar="PROOF.json", help="an inclusion proof bundle")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    try:
        args = parser.parse_args(argv)
        if (args.entries is None) == (args.proof is None):
            parser.error("give either ENTRIES.jsonl or --proof PROOF.json")
        if args.proof is not None and (args.checkpoint or args.origin):
            parser.error("--proof carries its own checkpoint")
        if (args.proof is not None or args.checkpoint is not None) and args.key is None:
            parser.error("--key VKEY.txt is needed to trust a checkpoint")
        if args.key is not None and args.proof is None and args.checkpoint is None:
            parser.error("--key is used with --checkpoint or --proof")
        if args.origin is not None and args.checkpoint is None:
            parser.error("--origin is used with --checkpoint")
        report, problem = _run(args)
    except _BadInput as exc:
        print(_one_line(f"{parser.prog}: error: {exc}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - an auditor gets a line, never a traceback
        print(_one_line(f"{parser.prog}: error: unexpected {type(exc).__name__}: {exc}"),
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if report is None:
        if args.json:
            print(json.dumps({"ok": False, "problem": problem}))
        else:
            print(_one_line(f"FAILED: {problem}"))
        return EXIT_FAILED
    print(json.dumps(report.as_dict()) if args.json else _one_line(report.summary(), 2000))
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
