"""The audit trail: RFC 6962 trees, the hash chain, signed checkpoints and head, bundles,
concurrent appends, and the ``siyada audit`` commands."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from siyada.governance import merkle
from siyada.governance.audit import (
    GAP_ACTION,
    GENESIS,
    AuditError,
    AuditRecord,
    AuditTrail,
    Checkpoint,
    Verifier,
    VerifyReport,
    canonical_json,
    digest,
    load_public_key,
    verify_bundle,
    verify_bundle_data,
    verify_inclusion,
    verify_rows,
)
from tests.cli import ENV, siyada

# -- RFC 6962 ---------------------------------------------------------------------------------

# The Certificate Transparency reference vectors (google/certificate-transparency,
# transparency-dev/merkle): eight leaves, the roots of their first 1..8, and proofs. Each
# value below was also checked against the independent naive implementation further down.
CT_LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, proof)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_root(data: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, MTH, written straight from the text."""
    if not data:
        return _sha(b"")
    if len(data) == 1:
        return _sha(b"\x00" + data[0])
    k = _k(len(data))
    return _sha(b"\x01" + naive_root(data[:k]) + naive_root(data[k:]))


def naive_path(m: int, data: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1, PATH(m, D[n])."""
    if len(data) <= 1:
        return []
    k = _k(len(data))
    if m < k:
        return [*naive_path(m, data[:k]), naive_root(data[k:])]
    return [*naive_path(m - k, data[k:]), naive_root(data[:k])]


def naive_subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    """RFC 6962 section 2.1.2, SUBPROOF(m, D[n], b)."""
    n = len(data)
    if m == n:
        return [] if whole else [naive_root(data)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, data[:k], whole), naive_root(data[k:])]
    return [*naive_subproof(m - k, data[k:], False), naive_root(data[:k])]


def test_ct_roots() -> None:
    assert merkle.EMPTY_ROOT.hex() == CT_EMPTY_ROOT == naive_root([]).hex()
    hashes = [merkle.leaf_hash(leaf) for leaf in CT_LEAVES]
    tree = merkle.MerkleTree(hashes)
    frontier = merkle.Frontier()
    assert tree.root(0).hex() == CT_EMPTY_ROOT
    for size, expected in enumerate(CT_ROOTS, start=1):
        frontier.append(hashes[size - 1])
        assert naive_root(CT_LEAVES[:size]).hex() == expected
        assert tree.root(size).hex() == expected
        assert frontier.root().hex() == expected
        assert merkle.MerkleTree(hashes[:size]).root().hex() == expected


def test_ct_inclusion_and_consistency_vectors() -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in CT_LEAVES]
    tree = merkle.MerkleTree(hashes)
    for index, size, proof in CT_INCLUSION:
        assert [p.hex() for p in tree.inclusion_proof(index, size)] == proof
        path = [bytes.fromhex(p) for p in proof]
        root = bytes.fromhex(CT_ROOTS[size - 1])
        assert merkle.verify_inclusion(hashes[index], index, size, path, root)
        assert verify_inclusion(CT_LEAVES[index], index, size, proof, CT_ROOTS[size - 1])
    for old, new, proof in CT_CONSISTENCY:
        assert [p.hex() for p in tree.consistency_proof(old, new)] == proof
        assert merkle.verify_consistency(
            old,
            new,
            bytes.fromhex(CT_ROOTS[old - 1]),
            bytes.fromhex(CT_ROOTS[new - 1]),
            [bytes.fromhex(p) for p in proof],
        )


def _tampered(proof: list[bytes]) -> Iterator[list[bytes]]:
    for i in range(len(proof)):
        flipped = bytearray(proof[i])
        flipped[i % 32] ^= 1
        yield [*proof[:i], bytes(flipped), *proof[i + 1 :]]
    if proof:
        yield proof[:-1]
        yield proof[1:]
        if len(proof) > 1:
            yield list(reversed(proof))
    yield [*proof, _sha(b"extra")]


def test_inclusion_proofs_every_leaf_against_naive() -> None:
    leaves = [f"leaf {i}".encode() for i in range(40)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    tree = merkle.MerkleTree(hashes)
    for size in range(1, 41):
        root = naive_root(leaves[:size])
        assert tree.root(size) == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == naive_path(index, leaves[:size])
            assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
            assert not merkle.verify_inclusion(hashes[index], index, size, proof, _sha(b"x"))
            assert not merkle.verify_inclusion(_sha(b"other"), index, size, proof, root)
            for other in {index - 1, index + 1, size} - {index}:
                if 0 <= other <= size:
                    assert not merkle.verify_inclusion(hashes[index], other, size, proof, root)
            for bad in _tampered(proof):
                assert not merkle.verify_inclusion(hashes[index], index, size, bad, root)


def test_consistency_proofs_against_naive() -> None:
    leaves = [f"leaf {i}".encode() for i in range(24)]
    tree = merkle.MerkleTree([merkle.leaf_hash(leaf) for leaf in leaves])
    roots = [naive_root(leaves[:n]) for n in range(25)]
    for new in range(1, 25):
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            assert proof == (naive_subproof(old, leaves[:new], True) if old < new else [])
            assert merkle.verify_consistency(old, new, roots[old], roots[new], proof)
            if old < new:
                assert not merkle.verify_consistency(old, new, roots[old - 1], roots[new], proof)
                assert not merkle.verify_consistency(old, new, roots[old], roots[new - 1], proof)
                for bad in _tampered(proof):
                    assert not merkle.verify_consistency(old, new, roots[old], roots[new], bad)


def test_frontier_matches_naive_roots() -> None:
    leaves = [i.to_bytes(4, "big") for i in range(300)]
    frontier = merkle.Frontier()
    for n, leaf in enumerate(leaves, start=1):
        frontier.append(merkle.leaf_hash(leaf))
        assert len(frontier.hashes) == n.bit_count()
        if n % 37 == 0 or n & (n - 1) == 0:
            assert frontier.root() == naive_root(leaves[:n])
    copy = frontier.copy()
    copy.append(merkle.leaf_hash(b"more"))
    assert frontier.size == 300 and copy.size == 301


# -- records, digests, the canonical form ----------------------------------------------------


def _trail(tmp: Path, every: int = 1000) -> AuditTrail:
    return AuditTrail(tmp / "siyada.db", tmp / "audit", checkpoint_every=every)


def test_digest_and_canonical_form() -> None:
    assert digest("") == "sha256:" + CT_EMPTY_ROOT
    assert digest("واش") == digest("واش".encode())
    assert canonical_json({"b": 1, "a": ["é", None], "c": "x\ny\u0001"}) == (
        '{"a":["é",null],"b":1,"c":"x\\ny\\u0001"}'.encode()
    )


def test_record_keeps_only_digests_and_pseudonyms(tmp_path: Path) -> None:
    question = "wach 3ndi l7a9 nbeddel lbita9a? CIN AB123456"
    with _trail(tmp_path) as trail:
        seq = trail.record(
            tenant="default",
            action="chat.completions",
            outcome="ok",
            key_id="k7f3",
            resource="AB123456",
            sensitive_resource=True,
            request_id="req-1",
            inputs=[question, b"\x00bytes"],
            outputs=["jawab"],
        )
        assert seq == 1
        (record,) = trail.records()
        assert record.inputs == (digest(question), digest(b"\x00bytes"))
        assert record.outputs == (digest("jawab"),)
        assert record.resource == trail.pseudonym("AB123456")
        assert record.resource.startswith("hmac-sha256:")
        assert record.resource != digest("AB123456")
        assert trail.records(resource="AB123456") == [record]
        assert record.time.endswith("+00:00") and len(record.time) == 32
        assert record.prev_hash == GENESIS and record.hash == record.compute_hash()
        with pytest.raises(ValueError, match="inputs"):
            trail.record(tenant="default", action="a", outcome="ok", inputs="not a list")
        with pytest.raises(ValueError, match="tenant"):
            trail.record(tenant="", action="a", outcome="ok")
        body = hashlib.sha256(b"streamed body").hexdigest()
        seq = trail.record(
            tenant="default",
            action="POST /v1/chat/completions",
            outcome="200",
            inputs=["q"],
            input_digests=[f"sha256:{body}"],
            output_digests=[digest("a")],
        )
        streamed = trail.records(limit=1)[0]
        assert streamed.inputs == (digest("q"), f"sha256:{body}")
        assert streamed.outputs == (digest("a"),)
        with pytest.raises(ValueError, match="input_digests"):
            trail.record(tenant="default", action="a", outcome="ok", input_digests=["raw text"])
        assert trail.verify().ok
    for path in [
        tmp_path / "siyada.db",
        *tmp_path.glob("siyada.db-*"),
        tmp_path / "audit/head.json",
    ]:
        data = path.read_bytes()
        assert b"nbeddel" not in data and b"AB123456" not in data and b"jawab" not in data


def test_keys_files_and_public_key(tmp_path: Path) -> None:
    with _trail(tmp_path) as trail:
        pem = trail.public_key_pem()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in pem
    key_file = tmp_path / "audit" / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "audit").stat().st_mode) == 0o700
    with _trail(tmp_path) as again:
        assert again.public_key_pem() == pem  # created once, then read
    load_public_key(pem)


def test_checkpoints_every_n_and_on_demand(tmp_path: Path) -> None:
    with _trail(tmp_path, every=10) as trail:
        assert trail.checkpoint() is None
        for i in range(25):
            trail.record(tenant="default", action="x", outcome="ok", request_id=str(i))
        assert [c.tree_size for c in trail.checkpoints()] == [10, 20]
        made = trail.checkpoint()
        assert made is not None and made.tree_size == 25
        assert trail.checkpoint() == made  # no new records: the same one
        head = trail.signed_head()
        assert head is not None and head.kind == "head" and head.tree_size == 25
        assert head.root == made.root and head.head_hash == made.head_hash
        report = trail.verify()
        assert report.ok and report.records == 25 and report.checkpoints == 3 and report.head == 25
        proof = trail.inclusion_proof(13)
        assert proof.anchor.tree_size == 20 and proof.verify(trail.public_key_pem())
        assert trail.inclusion_proof(22).anchor.tree_size == 25
        with pytest.raises(AuditError):
            trail.inclusion_proof(26)
        times = [r.time for r in trail.records(limit=100, newest_first=False)]
        assert times == sorted(times)


# -- 10,000 records, tampered with in every way, one record at a time ----------------------


FIELDS = (
    "seq",
    "time",
    "tenant",
    "key_id",
    "action",
    "resource",
    "request_id",
    "outcome",
    "inputs",
    "outputs",
    "prev_hash",
    "hash",
    "mac",
)


def _flip(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def _mutate(record: AuditRecord, name: str) -> AuditRecord:
    value = getattr(record, name)
    changed: Any
    if name == "seq":
        changed = value + 7
    elif name in ("inputs", "outputs"):
        changed = (*value, digest("extra")) if not value else value[:-1]
    elif value is None:
        changed = "added"
    elif name in ("key_id", "resource", "request_id") and record.seq % 2:
        changed = None
    else:
        changed = _flip(value)
    return replace(record, **{name: changed})


class Log:
    def __init__(self, path: Path) -> None:
        self.trail = _trail(path, every=1000)
        self.rows = self.trail.records(limit=10**9, newest_first=False)
        self.checkpoints = self.trail.checkpoints()
        self.head = self.trail.signed_head()
        keys = self.trail._keys_or_create()  # the operator's key: the codes are checked too
        self.public, self.mac = keys.public, keys.mac
        verifier = Verifier(self.public, self.checkpoints, head=self.head, mac_key=self.mac)
        # Where a full verification stands after records 1..i, for every i.
        self.after: list[Verifier] = [verifier.copy()]
        for row in self.rows:
            assert verifier.feed(row)
            self.after.append(verifier.copy())

    def forged(self, seq: int, prev: str) -> AuditRecord:
        """A record someone without the key writes: right fields, right hash, no valid code."""
        record = AuditRecord(
            seq, self.rows[0].time, "default", None, "x", None, None, "ok", (), (), prev, ""
        )
        return replace(record, hash=record.compute_hash(), mac="0" * 64)

    def check(self, seq: int, rows: list[AuditRecord], rest: int) -> VerifyReport:
        """Verify as if records 1..seq-1 came first, then ``rows``, then the log from index
        ``rest`` on; reading stops at the first bad record, as verification does."""
        tail = map(self.rows.__getitem__, range(rest, len(self.rows)))
        return verify_rows(_chain(rows, tail), (), None, self.public, resume=self.after[seq - 1])

    def full(self, rows: list[AuditRecord]) -> VerifyReport:
        return verify_rows(rows, self.checkpoints, self.head, self.public, mac_key=self.mac)


def _chain(first: list[AuditRecord], then: Iterator[AuditRecord]) -> Iterator[AuditRecord]:
    yield from first
    yield from then


N_RECORDS = 10_000


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    path = tmp_path_factory.mktemp("big")
    with _trail(path, every=1000) as trail:
        for i in range(N_RECORDS):
            trail.record(
                tenant=("default", "wilaya", "ⵜⴰⵎⴰⵣⵉⵖⵜ")[i % 3],
                action=("chat.completions", "search", "ingest", "erase")[i % 4],
                outcome="ok" if i % 5 else "denied",
                key_id=f"k{i % 7}" if i % 2 else None,
                resource=f"collection-{i % 11}" if i % 3 else None,
                request_id=f"req-{i}" if i % 4 else None,
                inputs=[f"question {i}"] * (i % 3),
                outputs=[f"answer {i}"] if i % 2 else [],
                sensitive_resource=i % 6 == 1,
            )
    log = Log(path)
    yield log
    log.trail.close()


def test_big_log_verifies(big_log: Log) -> None:
    assert len(big_log.rows) == N_RECORDS
    assert [c.tree_size for c in big_log.checkpoints] == list(range(1000, 10_001, 1000))
    report = big_log.full(big_log.rows)
    assert report.ok and report.records == N_RECORDS and report.checkpoints == 10
    assert big_log.trail.verify().ok
    assert big_log.after[-1].finish(require_head=True).ok


def _expect(report: VerifyReport, seq: int, what: str) -> None:
    assert not report.ok, what
    assert report.first_bad == seq, f"{what}: {report}"


def test_every_record_mutated_in_every_field(big_log: Log) -> None:
    rows = big_log.rows
    for i, record in enumerate(rows):
        seq = i + 1
        for name in FIELDS:
            _expect(big_log.check(seq, [_mutate(record, name)], i + 1), seq, f"{name} of {seq}")
        # Rewritten with its hash recomputed: the chain after it breaks, the code is wrong.
        rewritten = replace(record, tenant="other")
        rewritten = replace(rewritten, hash=rewritten.compute_hash())
        _expect(big_log.check(seq, [rewritten], i + 1), seq, f"rewrite of {seq}")


def test_every_record_deleted_inserted_swapped(big_log: Log) -> None:
    rows = big_log.rows
    n = len(rows)
    for i in range(n):
        seq = i + 1
        _expect(big_log.check(seq, [], i + 1), seq, f"delete {seq}")
        prev = rows[i - 1].hash if i else GENESIS
        _expect(big_log.check(seq, [big_log.forged(seq, prev)], i), seq, f"insert at {seq}")
        _expect(big_log.check(seq, [rows[i]], i), seq + 1, f"duplicate {seq}")
        if i + 1 < n:
            _expect(big_log.check(seq, [rows[i + 1], rows[i]], i + 2), seq, f"swap {seq}")
    forged_end = big_log.forged(n + 1, rows[-1].hash)
    _expect(big_log.check(n + 1, [forged_end], n), n + 1, "insert at the end")


def test_sample_of_trials_from_scratch(big_log: Log) -> None:
    """The same trials, verifying the whole log from record 1 (no resumed state)."""
    rows = big_log.rows
    for i in [0, 1, 998, 999, 1000, 4321, 9998, 9999]:
        seq = i + 1
        for name in ("time", "inputs", "prev_hash", "mac"):
            trial = [*rows[:i], _mutate(rows[i], name), *rows[i + 1 :]]
            _expect(big_log.full(trial), seq, f"{name} of {seq}")
        _expect(big_log.full(rows[:i] + rows[i + 1 :]), seq, f"delete {seq}")
        prev = rows[i - 1].hash if i else GENESIS
        _expect(
            big_log.full([*rows[:i], big_log.forged(seq, prev), *rows[i:]]), seq, f"insert {seq}"
        )
        if i + 1 < len(rows):
            swapped = [*rows[:i], rows[i + 1], rows[i], *rows[i + 2 :]]
            _expect(big_log.full(swapped), seq, f"swap {seq}")
    # Rewriting the tail with every hash recomputed: the codes still name the first record.
    rewritten = list(rows)
    prev = rows[5000].hash
    for j in range(5001, len(rows)):
        changed = replace(rows[j], prev_hash=prev, outcome="ok" if j > 5001 else "rewritten")
        changed = replace(changed, hash=changed.compute_hash())
        rewritten[j], prev = changed, changed.hash
    _expect(big_log.full(rewritten), 5002, "tail rewrite")
    # Without the codes (what an auditor has), the checkpoint at 6000 catches it.
    report = verify_rows(rewritten, big_log.checkpoints, big_log.head, big_log.public)
    assert not report.ok and report.bad_checkpoint == 6000


def test_checkpoints_and_head_forged_or_altered(big_log: Log) -> None:
    rows, public = big_log.rows, big_log.public
    other = Ed25519PrivateKey.generate()
    head = big_log.head
    assert head is not None
    for index, checkpoint in enumerate(big_log.checkpoints):
        variants = {
            "signature": replace(checkpoint, signature=base64.b64encode(bytes(64)).decode()),
            "root": replace(checkpoint, root=_flip(checkpoint.root)),
            "head_hash": replace(checkpoint, head_hash=_flip(checkpoint.head_hash)),
            "time": replace(checkpoint, time=_flip(checkpoint.time)),
            "kind": replace(checkpoint, kind="head"),
            "other key": _resign(checkpoint, other),
        }
        for what, bad in variants.items():
            checkpoints = [*big_log.checkpoints]
            checkpoints[index] = bad
            report = verify_rows(rows, checkpoints, head, public, mac_key=big_log.mac)
            assert not report.ok and report.bad_checkpoint == checkpoint.tree_size, what
    for what, bad_head in {
        "signature": replace(head, signature=base64.b64encode(bytes(64)).decode()),
        "root": replace(head, root=_flip(head.root)),
        "as checkpoint": replace(head, kind="checkpoint"),
    }.items():
        report = verify_rows(rows, big_log.checkpoints, bad_head, public, mac_key=big_log.mac)
        assert not report.ok and report.bad_checkpoint == head.tree_size, what
    # The head (or a checkpoint) is what shows the last records were cut off.
    report = verify_rows(rows[:-3], big_log.checkpoints, head, public, mac_key=big_log.mac)
    _expect(report, N_RECORDS - 2, "truncated tail")
    assert "deleted" in report.reason
    report = verify_rows(rows[:-1], (), None, public, mac_key=big_log.mac)
    assert not report.ok and "missing" in report.reason  # no head at all


def _resign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> Checkpoint:
    signature = base64.b64encode(key.sign(checkpoint.statement())).decode()
    return replace(checkpoint, signature=signature)


# -- the real database: a few tamperings end to end ------------------------------------------


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small") / "data"
    with _trail(path, every=10) as trail:
        for i in range(60):
            trail.record(
                tenant="default" if i % 2 else "commune",
                action="chat.completions",
                outcome="ok",
                key_id="k1",
                request_id=f"r{i}",
                inputs=[f"q{i}"],
                outputs=[f"a{i}"],
            )
    return path


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _sql(data: Path, *statements: str) -> None:
    db = sqlite3.connect(data / "siyada.db", isolation_level=None)
    for statement in statements:
        db.execute(statement)
    db.close()


def _verify(data: Path, every: int = 10) -> VerifyReport:
    with _trail(data, every) as trail:
        return trail.verify()


def test_database_tampering_end_to_end(small_log: Path, tmp_path: Path) -> None:
    assert _verify(small_log).ok
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    trials: list[tuple[str, Callable[[Path], object], int | None, int | None]] = [
        ("edit", lambda d: _sql(d, "UPDATE audit_records SET outcome='x' WHERE seq=17"), 17, None),
        ("delete", lambda d: _sql(d, "DELETE FROM audit_records WHERE seq=33"), 33, None),
        ("delete last", lambda d: _sql(d, "DELETE FROM audit_records WHERE seq=60"), 60, None),
        (
            "delete last two",
            lambda d: _sql(d, "DELETE FROM audit_records WHERE seq>=59"),
            59,
            None,
        ),
        (
            "swap",
            lambda d: _sql(
                d,
                "UPDATE audit_records SET seq=-1 WHERE seq=21",
                "UPDATE audit_records SET seq=21 WHERE seq=22",
                "UPDATE audit_records SET seq=22 WHERE seq=-1",
            ),
            21,
            None,
        ),
        (
            "insert",
            lambda d: _sql(
                d,
                "INSERT INTO audit_records SELECT 61, time, tenant, key_id, action, resource, "
                "request_id, outcome, inputs, outputs, hash, hash, mac FROM audit_records "
                "WHERE seq=60",
            ),
            61,
            None,
        ),
        (
            "checkpoint root",
            lambda d: _sql(d, "UPDATE audit_checkpoints SET root=head_hash WHERE tree_size=30"),
            None,
            30,
        ),
        ("everything deleted", lambda d: _sql(d, "DELETE FROM audit_records"), 1, None),
        ("head deleted", lambda d: (d / "audit" / "head.json").unlink(), None, None),
        ("key replaced", lambda d: (d / "audit" / "signing-key.pem").write_bytes(key), None, 60),
        (
            "head forged",
            lambda d: (d / "audit" / "head.json").write_text(
                (d / "audit" / "head.json")
                .read_text()
                .replace('"tree_size": 60', '"tree_size": 61')
            ),
            None,
            61,
        ),
    ]
    for number, (what, tamper, bad_seq, bad_checkpoint) in enumerate(trials):
        data = _copy(small_log, tmp_path / str(number))
        tamper(data)
        report = _verify(data)
        assert not report.ok, what
        assert (report.first_bad, report.bad_checkpoint) == (bad_seq, bad_checkpoint), (
            what,
            report,
        )
    # Deleting the last record, then appending: the append writes a gap record first, so the
    # next append cannot hide the deletion.
    data = _copy(small_log, tmp_path / "gap")
    _sql(data, "DELETE FROM audit_records WHERE seq=60")
    with _trail(data, 10) as trail:
        with pytest.raises(AuditError, match="head-ahead"):
            trail.checkpoint()  # nothing is signed over a log that lost records
        with pytest.raises(ValueError, match="own action"):
            trail.record(tenant="default", action=GAP_ACTION, outcome="ok")
        assert trail.record(tenant="default", action="x", outcome="ok") == 61
        gap = trail.records(limit=2)[1]
        assert gap.action == GAP_ACTION and gap.seq == 60 and gap.outcome == "head-ahead"
        report = trail.verify()
        assert not report.ok and report.first_bad == 60 and "signed head" in report.reason


def test_a_rewritten_log_is_never_signed(small_log: Path, tmp_path: Path) -> None:
    """Record 30 altered and every hash after it recomputed (but not the codes): the head no
    longer matches, so no checkpoint is signed over it, and verify names record 30."""
    data = _copy(small_log, tmp_path / "rewritten")
    db = sqlite3.connect(data / "siyada.db", isolation_level=None)
    rows = db.execute("SELECT * FROM audit_records ORDER BY seq").fetchall()
    prev = rows[28][11]
    for row in rows[29:]:
        fields = list(row)
        if fields[0] == 30:
            fields[7] = "denied"
        fields[10] = prev
        record = AuditRecord(
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            fields[4],
            fields[5],
            fields[6],
            fields[7],
            tuple(json.loads(fields[8])),
            tuple(json.loads(fields[9])),
            prev,
            "",
        )
        prev = record.compute_hash()
        db.execute(
            "UPDATE audit_records SET outcome = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (fields[7], fields[10], prev, fields[0]),
        )
    db.execute("DELETE FROM audit_state")
    db.execute("DELETE FROM audit_checkpoints WHERE tree_size > 20")
    db.close()
    with _trail(data, 10) as trail:
        with pytest.raises(AuditError, match="head-mismatch"):
            trail.checkpoint()
        report = trail.verify()
        assert report.first_bad == 30 and "authentication code" in report.reason


def test_head_behind_after_a_crash_is_not_an_alarm(small_log: Path, tmp_path: Path) -> None:
    data = _copy(small_log, tmp_path / "crash")
    old_head = (data / "audit" / "head.json").read_bytes()
    with _trail(data, 10) as trail:
        trail.record(tenant="default", action="x", outcome="ok")
        trail.record(tenant="default", action="x", outcome="ok")
    # As if the process died after committing records 61 and 62 and before writing the head.
    (data / "audit" / "head.json").write_bytes(old_head)
    assert _verify(data).ok
    with _trail(data, 10) as trail:
        assert trail.record(tenant="default", action="x", outcome="ok") == 63
        assert GAP_ACTION not in {r.action for r in trail.records()}
        assert trail.verify().ok


# -- bundles -----------------------------------------------------------------------------------


def test_bundles(small_log: Path, tmp_path: Path) -> None:
    data = _copy(small_log, tmp_path / "data")
    bundle = tmp_path / "bundle.json"
    with _trail(data, 10) as trail:
        summary = trail.export(bundle, start=15, end=44)
        pem = trail.public_key_pem()
        assert (summary.first_seq, summary.last_seq, summary.records) == (15, 44, 30)
        with pytest.raises(AuditError, match="exists"):
            trail.export(bundle, start=1, end=2)
        trail.export(bundle, start=15, end=44, force=True)
        day = trail.records(limit=1)[0].time[:10]
        by_date = trail.export(tmp_path / "day.json", start=day, end=day)
        assert (by_date.first_seq, by_date.last_seq) == (1, 60)
        with pytest.raises(AuditError, match="no records"):
            trail.export(tmp_path / "none.json", start="2001-01-01", end="2001-12-31")
    assert not (tmp_path / "none.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    assert verify_bundle(bundle).ok
    assert verify_bundle(bundle, pem).ok
    report = verify_bundle(bundle)
    assert (report.first_seq, report.last_seq, report.records) == (15, 44, 30)
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert not verify_bundle(bundle, other).ok
    original = json.loads(bundle.read_text(encoding="utf-8"))
    assert verify_bundle_data(original).ok
    assert "mac" not in original["records"][0]

    def fails(change: Callable[[dict[str, Any]], None]) -> VerifyReport:
        copy = json.loads(json.dumps(original))
        change(copy)
        report = verify_bundle_data(copy)
        assert not report.ok
        return report

    for index in range(30):
        for name in ("time", "tenant", "key_id", "outcome", "request_id", "prev_hash", "hash"):

            def alter(b: dict[str, Any], index: int = index, name: str = name) -> None:
                value = b["records"][index][name]
                b["records"][index][name] = _flip(value) if value else "x"

            fails(alter)

        def alter_inputs(b: dict[str, Any], index: int = index) -> None:
            b["records"][index]["inputs"] = []

        fails(alter_inputs)

    def rehash_all(b: dict[str, Any]) -> None:
        """Alter record 20 and recompute every hash after it: only the signed tree sees it."""
        prev = None
        for item in b["records"]:
            if item["seq"] == 20:
                item["outcome"] = "rewritten"
            if prev is not None:
                item["prev_hash"] = prev
            record = AuditRecord.from_dict(item)
            item["hash"] = prev = record.compute_hash()

    assert fails(rehash_all).bad_checkpoint is not None

    def drop_middle(b: dict[str, Any]) -> None:
        del b["records"][10]

    assert fails(drop_middle).first_bad == 25

    def forge_anchor(b: dict[str, Any]) -> None:
        b["anchor"]["root"] = _flip(b["anchor"]["root"])

    fails(forge_anchor)

    def swap_key(b: dict[str, Any]) -> None:
        b["public_key"] = other

    fails(swap_key)

    def bad_proof(b: dict[str, Any]) -> None:
        b["inclusion_proof"][0] = _flip(b["inclusion_proof"][0])

    fails(bad_proof)

    def bad_consistency(b: dict[str, Any]) -> None:
        b["checkpoints"][0]["consistency_proof"][0] = _flip(
            b["checkpoints"][0]["consistency_proof"][0]
        )

    fails(bad_consistency)

    def bad_checkpoint_root(b: dict[str, Any]) -> None:
        b["checkpoints"][-1]["root"] = _flip(b["checkpoints"][-1]["root"])

    fails(bad_checkpoint_root)

    def malformed(b: dict[str, Any]) -> None:
        del b["anchor"]

    assert "malformed" in fails(malformed).reason
    # The export refuses a log that does not verify.
    _sql(data, "UPDATE audit_records SET tenant='x' WHERE seq=3")
    with _trail(data, 10) as trail, pytest.raises(AuditError, match="does not verify"):
        trail.export(tmp_path / "refused.json")
    assert not (tmp_path / "refused.json").exists()


# -- concurrency -------------------------------------------------------------------------------

_CHILD = """
import sys
import time
from pathlib import Path
from siyada.governance.audit import AuditTrail
path = Path(sys.argv[1])
with AuditTrail(path / "siyada.db", path / "audit", checkpoint_every=25) as trail:
    print("ready", flush=True)
    for i in range(int(sys.argv[2])):
        trail.record(tenant="default", action="process", outcome="ok", request_id=f"p{i}")
        time.sleep(0.001)
"""


def test_concurrent_appends_threads_and_a_process(tmp_path: Path) -> None:
    with _trail(tmp_path, 25) as first:
        first.record(tenant="default", action="start", outcome="ok")
        shared = _trail(tmp_path, 25)
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path), "150"],
            env=ENV,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        errors: list[BaseException] = []

        def work(name: str, own: bool) -> None:
            try:
                trail = _trail(tmp_path, 25) if own else shared
                for i in range(40):
                    trail.record(
                        tenant="default", action="thread", outcome="ok", request_id=f"{name}-{i}"
                    )
                    time.sleep(0.001)
                if own:
                    trail.close()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work, args=(f"t{n}", n < 4)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert child.wait(timeout=120) == 0
        shared.close()
        assert not errors
        records = first.records(limit=10_000, newest_first=False)
        total = 1 + 6 * 40 + 150
        assert [r.seq for r in records] == list(range(1, total + 1))
        assert len({r.request_id for r in records}) == total
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
        assert GAP_ACTION not in {r.action for r in records}
        # The process's appends and the threads' really were interleaved.
        assert len([key for key, _ in itertools.groupby(r.action for r in records)]) >= 3
        report = first.verify()
        assert report.ok and report.records == total and report.head == total
        assert [c.tree_size for c in first.checkpoints()] == list(range(25, total + 1, 25))


# -- the command line --------------------------------------------------------------------------


def test_cli(small_log: Path, tmp_path: Path) -> None:
    data = _copy(small_log, tmp_path / "data")
    ok = siyada(data, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: 60 records")
    shape = json.loads(siyada(data, "audit", "verify", "--json").stdout)
    assert shape == {
        "ok": True,
        "records": 60,
        "checkpoints": 6,
        "first_seq": 1,
        "last_seq": 60,
        "head": 60,
        "first_bad": None,
        "bad_checkpoint": None,
        "reason": "",
    }
    pem = siyada(data, "audit", "public-key").stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in pem
    (tmp_path / "key.pem").write_text(pem, encoding="ascii")
    bundle = tmp_path / "bundle.json"
    exported = siyada(data, "audit", "export", "--from", "5", "--to", "9", "-o", str(bundle))
    assert exported.returncode == 0 and "records 5..9" in exported.stdout, exported.stderr
    again = siyada(data, "audit", "export", "--from", "5", "-o", str(bundle))
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    checked = siyada(
        data, "audit", "verify", "--bundle", str(bundle), "--public-key", str(tmp_path / "key.pem")
    )
    assert checked.returncode == 0 and "5 records" in checked.stdout
    bad_input = siyada(data, "audit", "export", "--from", "yesterday", "-o", str(tmp_path / "x"))
    assert bad_input.returncode == 2 and "ISO date" in bad_input.stderr
    listed = [
        json.loads(line)
        for line in siyada(
            data, "audit", "list", "--tenant", "commune", "--limit", "3", "--json"
        ).stdout.splitlines()
    ]
    assert [r["seq"] for r in listed] == [59, 57, 55] and {r["tenant"] for r in listed} == {
        "commune"
    }
    assert set(listed[0]) == {
        "seq",
        "time",
        "tenant",
        "key_id",
        "action",
        "resource",
        "request_id",
        "outcome",
        "inputs",
        "outputs",
        "prev_hash",
        "hash",
    }
    _sql(data, "UPDATE audit_records SET request_id='r-forged' WHERE seq=42")
    bad = siyada(data, "audit", "verify")
    assert bad.returncode == 1 and "record 42" in bad.stdout
    bad_json = json.loads(siyada(data, "audit", "verify", "--json").stdout)
    assert bad_json["ok"] is False and bad_json["first_bad"] == 42
    refused = siyada(data, "audit", "export", "-o", str(tmp_path / "refused.json"))
    assert refused.returncode == 1 and "does not verify" in refused.stderr


def test_cli_bundle_tampered_and_pinned(small_log: Path, tmp_path: Path) -> None:
    data = _copy(small_log, tmp_path / "data")
    bundle = tmp_path / "b.json"
    with _trail(data, 10) as trail:
        trail.export(bundle)
    content = json.loads(bundle.read_text(encoding="utf-8"))
    content["records"][7]["outcome"] = "denied"
    (tmp_path / "t.json").write_text(json.dumps(content), encoding="utf-8")
    tampered = siyada(data, "audit", "verify", "--bundle", str(tmp_path / "t.json"), "--json")
    assert tampered.returncode == 1 and json.loads(tampered.stdout)["first_bad"] == 8
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    pinned = siyada(data, "audit", "verify", "--bundle", str(bundle), "--public-key", str(other))
    assert pinned.returncode == 1 and "pinned" in pinned.stdout
    local = siyada(data, "audit", "verify", "--public-key", str(other))
    assert local.returncode == 1 and "pinned" in local.stdout
    missing = siyada(data, "audit", "verify", "--bundle", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
