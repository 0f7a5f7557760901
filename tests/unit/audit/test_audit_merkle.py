"""RFC 6962 / RFC 9162 hashing and proofs, against vectors and a brute-force reference."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    InMemoryTreeStore,
    MerkleTree,
    NodeId,
    ProofError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 test vectors of certificate-transparency and transparency-dev/merkle:
# ROOTS[i] is the root of the first i + 1 of these leaves.
h = bytes.fromhex
LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f")]
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]


# A reference written straight from the recursive definitions of RFC 9162 2.1,
# slicing lists and rehashing everything: slow, and obviously right.

def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = ref_split(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = ref_split(len(leaves))
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = ref_split(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], whole) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True)


def tree_of(leaves: Sequence[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


def test_the_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert MerkleTree().root() == EMPTY_ROOT
    assert root_of_leaf_hashes([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    a, b = b"a" * 32, b"b" * 32
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_rfc_6962_vectors(size: int) -> None:
    tree = tree_of(LEAVES[:size])
    assert tree.root() == ROOTS[size - 1]
    # The same heads, asked of a bigger tree for an older size.
    assert tree_of(LEAVES).root(size) == ROOTS[size - 1]


def test_inclusion_and_consistency_match_the_rfc_6962_vectors() -> None:
    tree = tree_of(LEAVES)
    assert tree.inclusion_proof(5, 8) == [h(x) for x in (
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]
    assert tree.inclusion_proof(2, 3) == [ROOTS[1]]
    assert tree.consistency_proof(6, 8) == [h(x) for x in (
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]
    assert tree.consistency_proof(2, 5) == [h(x) for x in (
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]
    verify_consistency(6, 8, tree.consistency_proof(6, 8), ROOTS[5], ROOTS[7])
    with pytest.raises(ProofError):
        verify_consistency(6, 8, tree.consistency_proof(6, 8), ROOTS[4], ROOTS[7])


SEVENTY = [b"entry %d" % i for i in range(70)]
BIG = tree_of(SEVENTY)


@pytest.mark.parametrize("n", range(1, 71))
def test_every_size_up_to_70_agrees_with_the_reference(n: int) -> None:
    leaves = SEVENTY[:n]
    root = ref_mth(leaves)
    own = tree_of(leaves)  # proofs at the current size
    assert own.root() == root == BIG.root(n) == root_of_leaf_hashes(map(leaf_hash, leaves))
    for m in range(n):
        path = ref_path(m, leaves)
        assert own.inclusion_proof(m) == path == BIG.inclusion_proof(m, n)
        verify_inclusion(m, n, leaf_hash(leaves[m]), path, root)
        assert len(path) <= math.ceil(math.log2(n))
    for m in range(1, n):
        proof = ref_proof(m, leaves)
        assert own.consistency_proof(m) == proof == BIG.consistency_proof(m, n)
        verify_consistency(m, n, proof, ref_mth(leaves[:m]), root)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 70])
def test_every_wrong_inclusion_claim_is_rejected(n: int) -> None:
    leaves = SEVENTY[:n]
    root = ref_mth(leaves)
    # (A wrong tree size is not among these: the size is what the signed checkpoint
    # vouches for, and a proof can be valid for more than one size.)
    for m in range(n):
        proof = BIG.inclusion_proof(m, n)
        leaf = leaf_hash(leaves[m])
        bad_claims = [
            (m, n, leaf_hash(b"forged"), proof, root),
            (m, n, leaf, proof, leaf_hash(b"other root")),
            (m, n, leaf, proof + [root], root),
            (m, n, leaf, [p[:-1] + bytes([p[-1] ^ 1]) for p in proof], root) if proof else None,
            (m, n, leaf, proof[:-1], root) if proof else None,
            ((m + 1) % n, n, leaf, proof, root) if n > 1 else None,
        ]
        for claim in filter(None, bad_claims):
            with pytest.raises(ProofError):
                verify_inclusion(*claim)
    with pytest.raises(ProofError):
        verify_inclusion(n, n, leaf_hash(b"x"), [], root)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 9, 31, 70])
def test_every_wrong_consistency_claim_is_rejected(n: int) -> None:
    leaves = SEVENTY[:n]
    root = ref_mth(leaves)
    for m in range(1, n):
        proof = BIG.consistency_proof(m, n)
        old = ref_mth(leaves[:m])
        for claim in [
            (m, n, proof, leaf_hash(b"x"), root),
            (m, n, proof, old, leaf_hash(b"x")),
            (m, n, proof[:-1], old, root),
            (m, n, proof + [root], old, root),
            (m, n, [], old, root),
            (m, n, [proof[0][:-1] + bytes([proof[0][-1] ^ 1])] + proof[1:], old, root),
        ]:
            with pytest.raises(ProofError):
                verify_consistency(*claim)


def test_consistency_at_the_edges() -> None:
    root = BIG.root(10)
    assert BIG.consistency_proof(10, 10) == [] and BIG.consistency_proof(0, 10) == []
    verify_consistency(10, 10, [], root, root)
    verify_consistency(0, 10, [], EMPTY_ROOT, root)
    for bad in [(10, 10, [], root, BIG.root(9)), (10, 10, [root], root, root),
                (11, 10, [], root, root), (0, 10, [root], EMPTY_ROOT, root)]:
        with pytest.raises(ProofError):
            verify_consistency(*bad)
    with pytest.raises(ProofError):
        BIG.consistency_proof(11, 10)
    with pytest.raises(ProofError):
        BIG.consistency_proof(3, 71)
    with pytest.raises(ProofError):
        BIG.inclusion_proof(10, 10)
    with pytest.raises(ProofError):
        root_from_inclusion_proof(0, 0, leaf_hash(b""), [])


leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@settings(max_examples=200, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_generated_trees_agree_with_the_reference(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    extra = data.draw(st.lists(st.binary(max_size=8), max_size=20), label="later leaves")
    tree = tree_of(leaves + extra)  # proofs for an older size come from the store
    root = ref_mth(leaves)
    assert tree.root(n) == root
    m = data.draw(st.integers(0, n - 1), label="leaf")
    path = tree.inclusion_proof(m, n)
    assert path == ref_path(m, leaves)
    verify_inclusion(m, n, leaf_hash(leaves[m]), path, root)
    old = data.draw(st.integers(1, n), label="old size")
    proof = tree.consistency_proof(old, n)
    assert proof == ref_proof(old, leaves)
    verify_consistency(old, n, proof, ref_mth(leaves[:old]), root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="element to break")
        broken = list(proof)
        broken[i] = bytes([broken[i][0] ^ 0x80]) + broken[i][1:]
        with pytest.raises(ProofError):
            verify_consistency(old, n, broken, ref_mth(leaves[:old]), root)
    if path:
        with pytest.raises(ProofError):
            verify_inclusion(m, n, leaf_hash(leaves[m] + b"!"), path, root)


def test_a_tree_reopened_on_its_store_carries_on() -> None:
    store = InMemoryTreeStore()
    first = MerkleTree(store)
    first.extend(SEVENTY[:37])
    again = MerkleTree(store)  # loads only the right edge, O(log n) nodes
    assert again.size == 37 and again.root() == ref_mth(SEVENTY[:37])
    again.extend(SEVENTY[37:])
    assert again.root() == BIG.root()
    assert again.inclusion_proof(36) == BIG.inclusion_proof(36)
    assert again.leaf_hash(69) == leaf_hash(SEVENTY[69])


def test_extend_in_one_write_is_the_same_as_appending_one_by_one() -> None:
    tree = MerkleTree()
    assert tree.extend([]) == 0
    assert tree.extend(SEVENTY[:5]) == 0
    assert tree.extend(SEVENTY[5:]) == 5
    assert tree.root() == BIG.root()
    assert tree.store.get([NodeId(6, 0)]) == BIG.store.get([NodeId(6, 0)])


class RefusingStore(InMemoryTreeStore):
    def add(self, size: int, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        raise OSError("the database went away")


def test_a_failed_store_write_leaves_the_tree_as_it_was() -> None:
    store = RefusingStore()
    tree = MerkleTree(store)
    with pytest.raises(OSError):
        tree.append(b"lost")
    assert tree.size == 0 and tree.root() == EMPTY_ROOT
    with pytest.raises(ValueError):
        MerkleTree().extend_hashes([b"short"])


def test_the_memory_store_only_appends_in_order() -> None:
    store = InMemoryTreeStore()
    with pytest.raises(ValueError):
        store.add(1, [(NodeId(0, 1), b"\x00" * 32)])
    with pytest.raises(ValueError):
        store.add(2, [(NodeId(0, 0), b"\x00" * 32)])
    with pytest.raises(KeyError):
        store.get([NodeId(0, 0)])
    assert store.size() == 0
