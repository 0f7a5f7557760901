"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and storage.

The math (hashes, proof verification) is a set of functions on bytes. Where the
hashes live is a ``TreeStore``: it keeps the hash of every *complete* subtree,
node (level, index) covering leaves [index * 2**level, (index + 1) * 2**level).
Complete subtrees never change in an append-only log, so a store only ever
appends; any tree head or proof for any size is a fold of O(log n) of them.

``MerkleTree`` keeps the right edge of the tree (the complete subtrees whose
sizes are the binary digits of the tree size) in memory, so an append costs one
leaf hash and on average one node hash, and never reads the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 2.1.1: MTH({}) = HASH()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A proof does not verify, or was asked for sizes that do not exist."""


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeId(NamedTuple):
    level: int  # 0 for a leaf; a node at level L covers 2**L leaves
    index: int


class TreeStore(Protocol):
    """Where the hashes of complete subtrees live (memory here, a database later).

    ``add`` must be all-or-nothing: after it, ``size()`` is the new size and every
    node it was given is readable; if it fails, neither. It must also refuse a
    node that is not the next one at its level: that is how a second writer
    working from a stale right edge is stopped (the log has one writer at a time).
    """

    def size(self) -> int:
        """How many leaves the stored tree has."""
        ...

    def get(self, ids: Sequence[NodeId]) -> list[bytes]:
        """The hashes of the given complete subtrees, in order (one round trip)."""
        ...

    def add(self, size: int, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        """Grow the tree to ``size`` leaves, recording the subtrees that completed."""
        ...


class InMemoryTreeStore:
    """A TreeStore in one bytearray per level: 32 bytes a node, ~64 bytes a leaf."""

    def __init__(self) -> None:
        self._levels: list[bytearray] = []
        self._size = 0

    def size(self) -> int:
        return self._size

    def get(self, ids: Sequence[NodeId]) -> list[bytes]:
        out = []
        for level, index in ids:
            if level >= len(self._levels) or (index + 1) * HASH_SIZE > len(self._levels[level]):
                raise KeyError(NodeId(level, index))
            start = index * HASH_SIZE
            out.append(bytes(self._levels[level][start:start + HASH_SIZE]))
        return out

    def add(self, size: int, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        # Check everything before writing anything: all or nothing.
        lengths = [len(level) // HASH_SIZE for level in self._levels]
        for (level, index), digest in nodes:
            while level >= len(lengths):
                lengths.append(0)
            if index != lengths[level] or len(digest) != HASH_SIZE:
                raise ValueError(f"node {(level, index)} is not the next one at its level")
            lengths[level] += 1
        if size < self._size or (lengths[0] if lengths else 0) != size:
            raise ValueError("size does not match the leaves added")
        for (level, _), digest in nodes:
            while level >= len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += digest
        self._size = size


def _range_nodes(begin: int, end: int) -> list[NodeId]:
    """The complete subtrees whose right fold is MTH(D[begin:end]), largest first.

    Valid for the ranges RFC 9162 proofs use, where ``begin`` is a multiple of
    the largest subtree; that is what makes each piece a stored node.
    """
    nodes = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        nodes.append(NodeId(level, begin >> level))
        begin += 1 << level
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive complete subtrees, largest first: fold from the right."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for digest in reversed(hashes[:-1]):
        acc = node_hash(digest, acc)
    return acc


def root_of_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes in one pass and O(log n) memory."""
    edge = RightEdge()
    for digest in hashes:  # O(log n) memory, whatever n is
        edge.push(digest)
    return edge.root()


class RightEdge:
    """The right edge of a tree: one complete subtree per binary digit of its size.

    Enough to append and to compute the current root; what a streaming verifier keeps.
    """

    __slots__ = ("levels", "hashes")

    def __init__(self) -> None:
        self.levels: list[int] = []
        self.hashes: list[bytes] = []

    def push(self, digest: bytes, completed: list[tuple[NodeId, bytes]] | None = None,
             index: int = 0) -> None:
        level = 0
        levels, hashes = self.levels, self.hashes
        while levels and levels[-1] == level:
            levels.pop()
            digest = node_hash(hashes.pop(), digest)
            level += 1
            if completed is not None:
                completed.append((NodeId(level, index >> level), digest))
        levels.append(level)
        hashes.append(digest)

    def root(self) -> bytes:
        return _fold(self.hashes)


class MerkleTree:
    """An append-only RFC 9162 tree over a TreeStore: appends, tree heads, proofs."""

    def __init__(self, store: TreeStore | None = None) -> None:
        self.store: TreeStore = store if store is not None else InMemoryTreeStore()
        self._size = self.store.size()
        self._edge = RightEdge()
        ids = _range_nodes(0, self._size)
        for node, digest in zip(ids, self.store.get(ids)):
            self._edge.levels.append(node.level)
            self._edge.hashes.append(digest)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> int:
        """Add one leaf (its bytes, not its hash); return its index."""
        return self.extend_hashes([leaf_hash(leaf)])

    def extend(self, leaves: Iterable[bytes]) -> int:
        """Add leaves in one store write; return the index of the first."""
        return self.extend_hashes([leaf_hash(leaf) for leaf in leaves])

    def extend_hashes(self, hashes: Sequence[bytes]) -> int:
        """Add leaves given by their leaf hashes; return the index of the first."""
        first = self._size
        if not hashes:
            return first
        levels, edge_hashes = list(self._edge.levels), list(self._edge.hashes)
        completed: list[tuple[NodeId, bytes]] = []
        try:
            for index, digest in enumerate(hashes, start=first):
                if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
                    raise ValueError("a leaf hash is 32 bytes")
                completed.append((NodeId(0, index), digest))
                self._edge.push(digest, completed, index)
            self.store.add(first + len(hashes), completed)
        except BaseException:
            # Nothing was stored: the in-memory edge must not run ahead of the store.
            self._edge.levels, self._edge.hashes = levels, edge_hashes
            raise
        self._size = first + len(hashes)
        return first

    def leaf_hash(self, index: int) -> bytes:
        """The stored leaf hash of leaf ``index``."""
        if not 0 <= index < self._size:
            raise IndexError(f"no leaf {index} in a tree of {self._size}")
        return self.store.get([NodeId(0, index)])[0]

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]), the tree head at any size up to the current one."""
        size = self._check_size(size)
        if size == self._size:
            return self._edge.root()
        return _fold(self.store.get(_range_nodes(0, size)))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 2.1.3.1, leaf to root."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"no leaf {index} in a tree of size {size}")
        ranges = []
        begin, end = 0, size
        while end - begin > 1:
            k = _split(end - begin)
            if index < begin + k:
                ranges.append((begin + k, end))
                end = begin + k
            else:
                ranges.append((begin, begin + k))
                begin += k
        ranges.reverse()  # found root-down; the proof lists siblings leaf-up
        return self._range_hashes(ranges)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 9162 2.1.4.1; empty if a size is 0 or equal."""
        size = self._check_size(size)
        if not 0 <= old_size <= size:
            raise ProofError(f"no consistency proof from size {old_size} to {size}")
        if old_size in (0, size):
            return []
        ranges = []
        begin, end, whole = 0, size, True
        while True:
            if old_size == end:  # SUBPROOF(m, D[m], b): {} if b, else {MTH(D[m])}
                if not whole:
                    ranges.append((begin, end))
                break
            k = _split(end - begin)
            if old_size <= begin + k:
                ranges.append((begin + k, end))
                end = begin + k
            else:
                ranges.append((begin, begin + k))
                begin += k
                whole = False
        ranges.reverse()
        return self._range_hashes(ranges)

    def _range_hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        # One store read for the whole proof: a database answers it in one query.
        pieces = [_range_nodes(b, e) for b, e in ranges]
        flat = [node for piece in pieces for node in piece]
        hashes = iter(self.store.get(flat))
        return [_fold([next(hashes) for _ in piece]) for piece in pieces]

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ProofError(f"the tree has {self._size} leaves, not {size}")
        return size


def _lsb(n: int) -> int:
    return n & 1


def root_from_inclusion_proof(index: int, size: int, leaf: bytes,
                              proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 2.1.3.2, steps 1-5 less the compare)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        _check_hash(p)
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if _lsb(fn) or fn == sn:
            r = node_hash(p, r)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that leaf hash ``leaf`` is leaf ``index`` of tree ``root``; ProofError if not."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(old_size: int, size: int, proof: Sequence[bytes], old_root: bytes,
                       root: bytes) -> None:
    """Check that tree ``old_root`` is a prefix of tree ``root`` (RFC 9162 2.1.4.2).

    RFC 9162 covers 0 < old_size < size. Beyond it: equal sizes need an empty
    proof and equal roots; an empty old tree is a prefix of anything.
    """
    if not 0 <= old_size <= size:
        raise ProofError(f"cannot go from size {old_size} to {size}")
    for p in proof:
        _check_hash(p)
    if old_size == size:
        if proof or old_root != root:
            raise ProofError("equal sizes need equal roots and an empty proof")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree is empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if _lsb(fn) or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != root:
        raise ProofError("the consistency proof does not lead to the new root")


def _check_hash(value: object) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError("every proof element is a 32-byte hash")
