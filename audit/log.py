"""An append-only access log in memory: stored entries, their tree, checkpoints, proofs.

The shape the database-backed log follows: ``append`` seals the entry, chains it
to the one before and adds its leaf; the rest only reads.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint import sign_checkpoint
from audit.events import Entry, EntryError, StoredEntry
from audit.merkle import MerkleTree, TreeStore
from audit.sealing import store_entry
from audit.verify import proof_bundle


class AccessLog:
    """The access log of one origin (e.g. ``records.example-usd.k12.ca.us/access-log``)."""

    def __init__(self, origin: str, store: TreeStore | None = None) -> None:
        self.origin = origin
        self.tree = MerkleTree(store)
        if self.tree.size:
            raise ValueError("an in-memory AccessLog starts empty; its entries live only here")
        self.entries: list[StoredEntry] = []

    @property
    def next_seq(self) -> int:
        return len(self.entries)

    def append(self, entry: Entry, key: bytes | None) -> StoredEntry:
        """Seal ``entry`` under the student's content key and add it (key None: no student)."""
        if entry.seq != self.next_seq:
            raise EntryError(f"the next entry is seq {self.next_seq}, not {entry.seq}")
        prev = self.tree.leaf_hash(entry.seq - 1) if entry.seq else None
        stored = store_entry(entry, key, prev)
        self.tree.append(stored.leaf())
        self.entries.append(stored)
        return stored

    def checkpoint(self, private_key: Ed25519PrivateKey, key_name: str | None = None,
                   size: int | None = None) -> str:
        """A signed checkpoint of the log at ``size`` (now, by default)."""
        size = self.tree.size if size is None else size
        return sign_checkpoint(self.origin, size, self.tree.root(size), private_key,
                               key_name or self.origin)

    def export_lines(self) -> Iterator[str]:
        """The export: one canonical JSON line per entry, in seq order."""
        for stored in self.entries:
            yield stored.leaf().decode("utf-8") + "\n"

    def proof_bundle(self, seq: int, checkpoint_note: str, size: int) -> dict[str, object]:
        """Entry ``seq`` with its inclusion proof against the checkpoint of ``size``."""
        proof = self.tree.inclusion_proof(seq, size)
        return proof_bundle(self.entries[seq], size, proof, checkpoint_note)
