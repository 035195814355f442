"""Merkle trees as RFC 6962 (Certificate Transparency) defines them, and RFC 9162's proofs.

Pure functions over 32-byte SHA-256 hashes, no I/O:

- ``leaf_hash(d) = SHA-256(0x00 || d)`` and ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
- the root of ``n > 1`` leaves splits them at ``k``, the largest power of two smaller than ``n``:
  ``MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))``; the root of no leaves is SHA-256("");
- ``Frontier``: the "right edge" of a growing tree (the roots of its perfect subtrees, at most
  log2(n) + 1 hashes), so appending a leaf and computing the root cost O(log n);
- ``MerkleTree``: a tree over a list of leaf hashes that answers inclusion and consistency
  proofs (RFC 6962 section 2.1.1 and 2.1.2) for any size up to its own;
- ``verify_inclusion`` and ``verify_consistency``: RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: e3b0c442...b855."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The roots of the perfect subtrees a tree of ``size`` leaves is made of, largest first:
    one per bit set in ``size``. Enough to append leaves and compute the root."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} hashes")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash."""
        self.hashes.append(leaf)
        self.size += 1
        size = self.size
        while not size & 1:  # one merge per trailing zero bit of the new size
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)
            size >>= 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for subtree in reversed(self.hashes[:-1]):
            root = node_hash(subtree, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)


class MerkleTree:
    """A tree over ``leaves`` (leaf hashes). The hashes of its perfect, aligned subtrees are
    computed once (n - 1 node hashes); then roots and proofs for any size up to ``len(leaves)``
    cost O(log^2 n)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def _mth(self, low: int, high: int) -> bytes:
        """The root of leaves[low:high]; ``low`` is aligned as the RFC's recursion leaves it."""
        n = high - low
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and low % n == 0:
            level = n.bit_length() - 1
            return self.levels[level][low >> level]
        k = split_point(n)
        return node_hash(self._mth(low, low + k), self._mth(low + k, high))

    def _check_size(self, size: int | None) -> int:
        chosen = self.size if size is None else size
        if not 0 <= chosen <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {chosen}")
        return chosen

    def root(self, size: int | None = None) -> bytes:
        return self._mth(0, self._check_size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[size])."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        proof: list[bytes] = []
        low, high = 0, size
        while high - low > 1:
            k = split_point(high - low)
            if index < low + k:
                proof.append(self._mth(low + k, high))
                high = low + k
            else:
                proof.append(self._mth(low, low + k))
                low += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[size]); empty when old_size is 0 or equals size."""
        size = self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"cannot prove {old_size} leaves consistent with {size}")
        if old_size in (0, size):
            return []
        proof: list[bytes] = []
        low, high, m, whole = 0, size, old_size, True
        while m != high - low:
            k = split_point(high - low)
            if m <= k:
                proof.append(self._mth(low + k, high))
                high = low + k
            else:
                proof.append(self._mth(low, low + k))
                low, m, whole = low + k, m - k, False
        if not whole:
            proof.append(self._mth(low, high))
        proof.reverse()
        return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size``
    leaves whose root is ``root`` (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, size: int, old_root: bytes, root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree of ``old_size`` leaves with root ``old_root`` is a
    prefix of the tree of ``size`` leaves with root ``root`` (RFC 9162 section 2.1.4.2)."""
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for sibling in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_result = node_hash(sibling, old_result)
            new_result = node_hash(sibling, new_result)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            new_result = node_hash(new_result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_result == old_root and new_result == root
