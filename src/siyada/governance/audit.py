"""The audit trail: an append-only, tamper-evident log of who did what.

A record holds the time, tenant, API key id, action, resource, request id and outcome, and
SHA-256 digests of the inputs and outputs, never the texts themselves. A resource that is a
personal identifier (a CIN, a phone number...) is kept as a keyed pseudonym instead
(``sensitive_resource=True``). Records live in the ``audit_records`` table of the database;
the keys and the signed head live in ``<data_dir>/audit/``.

How it is built, precisely enough for an auditor to check it with other tools
--------------------------------------------------------------------------------
Canonical JSON
    Keys sorted, no whitespace (separators ``,`` and ``:``), UTF-8; in strings only ``"``,
    ``\\`` and U+0000..U+001F are escaped (``\\b \\t \\n \\f \\r``, else ``\\u00xx`` in lower
    case); integers in decimal. For the value types used here (strings, integers, null, lists
    of strings) this is RFC 8785 (JCS), and it is what Python writes with
    ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``.

Records and the hash chain
    Record ``seq`` (1, 2, 3... with no gaps) is the object ``{"v": 1, "seq": int, "time":
    str, "tenant": str, "key_id": str|null, "action": str, "resource": str|null,
    "request_id": str|null, "outcome": str, "inputs": [str...], "outputs": [str...],
    "prev": str}``. ``time`` is UTC ISO-8601 with microseconds, as in
    ``2026-03-01T09:30:00.000123+00:00``, from the appender's clock (taken while it holds the
    lock, so it only goes backwards if the clock does); ``seq`` is the order.
    ``inputs`` and ``outputs`` are digests, ``"sha256:" + hex(SHA-256(UTF-8 bytes))``.
    ``prev`` is the previous record's hash (64 zeros for record 1). The record's **hash** is
    the lower-case hex SHA-256 of its canonical JSON. Editing, removing, inserting or moving a
    record breaks the chain at that record.

Merkle tree and checkpoints
    The records form an RFC 6962 Merkle tree (see ``siyada.governance.merkle``): leaf
    ``seq - 1`` holds the 32 raw bytes of record ``seq``'s hash, so its leaf hash is
    ``SHA-256(0x00 || record hash)``. A tree of size ``n`` covers records 1..n. A
    **checkpoint** is the statement ``{"v": 1, "type": "siyada-audit-checkpoint", "tree_size":
    n, "root": hex, "head_hash": hex (record n's hash), "time": str}``, canonical JSON, signed
    with Ed25519 (RFC 8032); the signature is stored in standard base64. One is written every
    ``checkpoint_every`` records (1000 by default), on demand, and by every export.

The signed head
    A chain cannot show that its last records were cut off. So every append also signs the
    same statement with ``"type": "siyada-audit-head"`` for the whole log and writes it to
    ``audit/head.json`` (atomically), outside the database. Verification fails when the log
    ends before the head. Appends check the head first: if the log no longer matches it, they
    write an ``audit.gap`` record saying so before their own, and verification reports that
    record, so the next append cannot hide a truncation.

Record authentication codes (local only)
    Each record also stores ``HMAC-SHA256(K, raw record hash)``, with ``K = HMAC-SHA256(
    Ed25519 private seed, "siyada-audit/record-mac/v1")``. Only the operator can check them;
    they let ``verify`` name the exact record that someone without the key forged or rewrote
    (a rewriter can recompute hashes, not codes). Pseudonymized resources are
    ``"hmac-sha256:" + hex(HMAC-SHA256(K_id, UTF-8 value))``, ``K_id = HMAC-SHA256(seed,
    "siyada-audit/identifier/v1")``: unlike a plain hash, a CIN's pseudonym cannot be reversed
    by trying all CINs, but the operator can still find an identifier's records.

Export bundles
    ``export`` writes the records of a range, a checkpoint made at the end of the log (the
    anchor), the RFC 6962 inclusion proof of the range's last record in the anchor's tree,
    the checkpoints around the range with consistency proofs to the anchor, and the public key
    (PEM). ``verify_bundle`` checks the chain inside the range, that its last record is in the
    signed tree (which, through the chain, covers every record of the range), and every
    signature, with nothing but the bundle (and optionally a pinned public key).

Threat model
------------
- Someone who can write the database but not read ``audit/signing-key.pem``: any change,
  removal, insertion or reordering of records is detected and the first bad record is named
  (hash chain, authentication codes); cutting records off the end is detected by the signed
  head and by checkpoints; forged or altered checkpoints fail their signature.
- Someone who holds the signing key *and* the database can rewrite everything, and sign new
  checkpoints and a new head. The defence is outside the machine: bundles (and the public key)
  handed to auditors keep checkpoints that a rewritten log no longer matches. Export often,
  and keep the public key PEM offline to pin it (``--public-key``).
- Checkpoints (on demand and for exports) are signed only when the log still matches its
  signed head, whose chain hash commits to every record: such an attacker cannot get a
  rewritten log signed. An append that finds a mismatch still appends (the service goes on),
  after an ``audit.gap`` record that keeps the evidence; verification fails at it from then
  on, and export refuses a log that does not verify.
- Deleting a checkpoint row loses evidence but never makes a bad log verify; deleting
  ``head.json`` or the key is itself reported. Such an attacker can also stop appends (lock
  the database, fill the disk): tamper-evidence is not availability.
- The private key is created on first use (mode 0600, in a 0700 directory) and never printed.
  It is never rotated in this release; back it up with the database.
- Crashes: the head is written after each commit, so a crash leaves it at most behind the
  log, never ahead, and records after it must carry valid codes. Restoring the database from
  a backup without the ``audit`` directory of the same moment is reported as lost records,
  which it is.

Concurrency
-----------
Appends from any number of threads and processes are serialized by an exclusive lock on
``audit/lock`` (``flock``) held across ``BEGIN IMMEDIATE``, the read of the previous hash,
the insert, the commit and the head write: the chain never forks and the head never goes
backwards. Verification reads the head first, then the database in one read transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from siyada.database import BUSY_TIMEOUT_SECONDS, connect
from siyada.governance import merkle

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the process lock alone serializes appends
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from siyada.config import Settings

__all__ = [
    "GAP_ACTION",
    "GENESIS",
    "AuditError",
    "AuditRecord",
    "AuditTrail",
    "Checkpoint",
    "ExportSummary",
    "InclusionProof",
    "Verifier",
    "VerifyReport",
    "canonical_json",
    "digest",
    "load_public_key",
    "open_audit",
    "parse_bound",
    "verify_bundle",
    "verify_bundle_data",
    "verify_inclusion",
    "verify_rows",
]

log = logging.getLogger(__name__)

VERSION = 1
GENESIS = "0" * 64
"""The ``prev`` of record 1."""
GAP_ACTION = "audit.gap"
"""The action of a record an append writes when the log no longer matched its signed head."""
DEFAULT_CHECKPOINT_EVERY = 1000
KEY_FILE = "signing-key.pem"
HEAD_FILE = "head.json"
LOCK_FILE = "lock"
BUNDLE_FORMAT = "siyada-audit-bundle"
CHECKPOINT_TYPE = "siyada-audit-checkpoint"
HEAD_TYPE = "siyada-audit-head"
_MAC_LABEL = b"siyada-audit/record-mac/v1"
_IDENTIFIER_LABEL = b"siyada-audit/identifier/v1"
_OPERATOR_TENANT = "default"
_RECORD_COLUMNS = (
    "seq, time, tenant, key_id, action, resource, request_id, outcome, inputs, outputs, "
    "prev_hash, hash, mac"
)
_CHECKPOINT_COLUMNS = "tree_size, root, head_hash, time, signature"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class AuditError(Exception):
    """The audit trail cannot do what was asked; the message says why."""


def digest(value: str | bytes) -> str:
    """``sha256:<hex>`` of ``value`` (a text is hashed as UTF-8)."""
    data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """The canonical serialization (see the module docstring)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _clean(text: str) -> str:
    """The text as it can be stored and hashed: lone surrogates become ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _mac(key: bytes, record_hash: str) -> str:
    return hmac.digest(key, bytes.fromhex(record_hash), "sha256").hex()


def _is_hash(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _leaf(record_hash: str) -> bytes:
    return merkle.leaf_hash(bytes.fromhex(record_hash))


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    tenant: str
    key_id: str | None
    action: str
    resource: str | None
    request_id: str | None
    outcome: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    prev_hash: str
    hash: str
    mac: str = ""
    """The record's authentication code; empty in export bundles."""

    def content(self) -> dict[str, Any]:
        """The object the hash is computed over."""
        return {
            "v": VERSION,
            "seq": self.seq,
            "time": self.time,
            "tenant": self.tenant,
            "key_id": self.key_id,
            "action": self.action,
            "resource": self.resource,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "prev": self.prev_hash,
        }

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.content())).hexdigest()

    def to_dict(self, *, mac: bool = False) -> dict[str, Any]:
        found = self.content()
        del found["v"], found["prev"]
        found["prev_hash"] = self.prev_hash
        found["hash"] = self.hash
        if mac:
            found["mac"] = self.mac
        return found

    @classmethod
    def from_dict(cls, data: Any) -> AuditRecord:
        """A record from ``to_dict``'s shape; ValueError when a field is missing or mistyped."""
        if not isinstance(data, dict):
            raise ValueError("a record is not a JSON object")
        seq = data.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError("a record's seq is not an integer")
        texts: dict[str, str | None] = {}
        for name in ("time", "tenant", "action", "outcome", "prev_hash", "hash"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"record {seq}: {name} is not a string")
            texts[name] = data[name]
        for name in ("key_id", "resource", "request_id"):
            if data.get(name) is not None and not isinstance(data.get(name), str):
                raise ValueError(f"record {seq}: {name} is not a string or null")
            texts[name] = data.get(name)
        lists: dict[str, tuple[str, ...]] = {}
        for name in ("inputs", "outputs"):
            values = data.get(name)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"record {seq}: {name} is not a list of digests")
            lists[name] = tuple(values)
        mac = data.get("mac", "")
        return cls(
            seq=seq,
            time=str(texts["time"]),
            tenant=str(texts["tenant"]),
            key_id=texts["key_id"],
            action=str(texts["action"]),
            resource=texts["resource"],
            request_id=texts["request_id"],
            outcome=str(texts["outcome"]),
            inputs=lists["inputs"],
            outputs=lists["outputs"],
            prev_hash=str(texts["prev_hash"]),
            hash=str(texts["hash"]),
            mac=mac if isinstance(mac, str) else "",
        )

    @classmethod
    def _from_row(cls, row: Sequence[Any]) -> AuditRecord:
        return cls(
            seq=row[0],
            time=row[1],
            tenant=row[2],
            key_id=row[3],
            action=row[4],
            resource=row[5],
            request_id=row[6],
            outcome=row[7],
            inputs=tuple(json.loads(row[8])),
            outputs=tuple(json.loads(row[9])),
            prev_hash=row[10],
            hash=row[11],
            mac=row[12],
        )


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: a checkpoint (kept in the database) or the head (``head.json``,
    signed again at every append)."""

    tree_size: int
    root: str
    head_hash: str
    time: str
    signature: str
    kind: str = "checkpoint"
    """``checkpoint`` or ``head``: part of the signed statement, so one is never the other."""

    def statement(self) -> bytes:
        """The bytes the signature is over."""
        return canonical_json(
            {
                "v": VERSION,
                "type": HEAD_TYPE if self.kind == "head" else CHECKPOINT_TYPE,
                "tree_size": self.tree_size,
                "root": self.root,
                "head_hash": self.head_hash,
                "time": self.time,
            }
        )

    def signature_ok(self, public_key: Ed25519PublicKey) -> bool:
        if self.kind not in ("checkpoint", "head"):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature, validate=True), self.statement())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tree_size": self.tree_size,
            "root": self.root,
            "head_hash": self.head_hash,
            "time": self.time,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Checkpoint:
        if not isinstance(data, dict):
            raise ValueError("a checkpoint is not a JSON object")
        size = data.get("tree_size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("a checkpoint's tree_size is not a non-negative integer")
        texts = [data.get(name) for name in ("root", "head_hash", "time", "signature", "kind")]
        if not all(isinstance(text, str) for text in texts):
            raise ValueError(f"checkpoint {size}: a field is missing or not a string")
        root, head_hash, moment, signature, kind = (str(text) for text in texts)
        return cls(size, root, head_hash, moment, signature, kind)


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    """Records checked."""
    checkpoints: int
    """Signed checkpoints checked."""
    first_bad: int | None = None
    """The sequence number of the first bad record, when the failure is a record's."""
    bad_checkpoint: int | None = None
    """The tree size of the checkpoint (or head) that failed, when that is the failure."""
    reason: str = ""
    first_seq: int = 1
    last_seq: int = 0
    head: int | None = None
    """The tree size of the signed head checked, if any."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head": self.head,
            "first_bad": self.first_bad,
            "bad_checkpoint": self.bad_checkpoint,
            "reason": self.reason,
        }

    def summary(self) -> str:
        if self.ok:
            span = f" (seq {self.first_seq}..{self.last_seq})" if self.records else ""
            head = f", signed head at {self.head}" if self.head is not None else ""
            return f"ok: {self.records} records{span}, {self.checkpoints} signed checkpoints{head}"
        if self.first_bad is not None:
            return f"FAILED at record {self.first_bad}: {self.reason}"
        if self.bad_checkpoint is not None:
            return f"FAILED at checkpoint {self.bad_checkpoint}: {self.reason}"
        return f"FAILED: {self.reason}"


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    first_seq: int
    last_seq: int
    records: int
    checkpoints: int
    tree_size: int
    """The size of the anchor checkpoint the bundle proves its records against."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "tree_size": self.tree_size,
        }


@dataclass(frozen=True)
class InclusionProof:
    """Record ``seq`` (leaf ``seq - 1``) is in the tree that the signed ``anchor`` names."""

    seq: int
    record_hash: str
    proof: tuple[str, ...]
    anchor: Checkpoint

    def verify(self, public_key: Ed25519PublicKey | str) -> bool:
        key = load_public_key(public_key) if isinstance(public_key, str) else public_key
        return self.anchor.signature_ok(key) and verify_inclusion(
            self.record_hash, self.seq - 1, self.anchor.tree_size, self.proof, self.anchor.root
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "leaf_index": self.seq - 1,
            "record_hash": self.record_hash,
            "proof": list(self.proof),
            "checkpoint": self.anchor.to_dict(),
        }


def verify_inclusion(
    record_hash: str | bytes, index: int, size: int, proof: Sequence[str | bytes], root: str | bytes
) -> bool:
    """True when ``proof`` shows the record with hash ``record_hash`` (the leaf data, hex or
    raw) at leaf ``index`` (``seq - 1``) of the tree of ``size`` leaves with root ``root``."""
    try:
        leaf = record_hash if isinstance(record_hash, bytes) else bytes.fromhex(record_hash)
        path = [p if isinstance(p, bytes) else bytes.fromhex(p) for p in proof]
        top = root if isinstance(root, bytes) else bytes.fromhex(root)
    except ValueError:
        return False
    return merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, top)


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; AuditError when it is not one."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise AuditError(f"not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError("the public key is not an Ed25519 key")
    return key


def _public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _sign(
    key: Ed25519PrivateKey, kind: str, tree_size: int, root: str, head_hash: str
) -> Checkpoint:
    unsigned = Checkpoint(tree_size, root, head_hash, _now(), "", kind)
    signature = base64.b64encode(key.sign(unsigned.statement())).decode("ascii")
    return Checkpoint(tree_size, root, head_hash, unsigned.time, signature, kind)


def _gap_reason(record: AuditRecord) -> str:
    return (
        f"when record {record.seq} was appended, the log did not match its signed head "
        f"({record.outcome}: {record.resource}): records before it were deleted or altered, "
        "or the database was restored from an older copy"
    )


class Verifier:
    """Checks records one at a time, in order, against the chain, the authentication codes
    (when ``mac_key`` is given), the checkpoints and the signed head; stops at the first
    problem. ``copy()`` keeps where it stands, to check several continuations."""

    def __init__(
        self,
        public_key: Ed25519PublicKey,
        checkpoints: Iterable[Checkpoint] = (),
        *,
        head: Checkpoint | None = None,
        mac_key: bytes | None = None,
        first_seq: int = 1,
        prev_hash: str = GENESIS,
        merkle_roots: bool = True,
        collect_leaves: bool = False,
    ) -> None:
        self.public_key = public_key
        self.checkpoints: dict[int, Checkpoint] = {}
        self.mac_key = mac_key
        self.head = head
        self.first_seq = first_seq
        self.seq = first_seq - 1
        self.prev = prev_hash
        self.frontier = merkle.Frontier() if merkle_roots else None
        self.leaves: list[bytes] | None = [] if collect_leaves else None
        self.records = 0
        self.verified_checkpoints = 0
        self.failure: VerifyReport | None = None
        for checkpoint in checkpoints:
            if checkpoint.tree_size in self.checkpoints:
                self._fail(
                    None,
                    f"two checkpoints for tree size {checkpoint.tree_size}",
                    checkpoint.tree_size,
                )
            self.checkpoints[checkpoint.tree_size] = checkpoint
        if first_seq == 1 and prev_hash != GENESIS:
            self._fail(1, "record 1 must follow the genesis hash (64 zeros)")

    def copy(self) -> Verifier:
        twin = Verifier.__new__(Verifier)
        twin.__dict__.update(self.__dict__)
        twin.frontier = self.frontier.copy() if self.frontier is not None else None
        twin.leaves = list(self.leaves) if self.leaves is not None else None
        return twin

    def _report(self, ok: bool, **details: Any) -> VerifyReport:
        return VerifyReport(
            ok=ok,
            records=self.records,
            checkpoints=self.verified_checkpoints,
            first_seq=self.first_seq,
            last_seq=self.seq,
            head=self.head.tree_size if self.head is not None else None,
            **details,
        )

    def _fail(self, seq: int | None, reason: str, checkpoint: int | None = None) -> bool:
        if self.failure is None:
            self.failure = self._report(
                False, first_bad=seq, bad_checkpoint=checkpoint, reason=reason
            )
        return False

    def _failed(self, seq: int | None, reason: str, checkpoint: int | None = None) -> VerifyReport:
        self._fail(seq, reason, checkpoint)
        assert self.failure is not None
        return self.failure

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False (and ``failure`` set) at the first problem."""
        if self.failure is not None:
            return False
        expected = self.seq + 1
        self.records += 1
        if record.seq != expected:
            if record.seq > expected:
                return self._fail(
                    expected,
                    f"record {expected} is missing: the next record in the log is "
                    f"{record.seq} (records were deleted or moved)",
                )
            return self._fail(
                expected,
                f"record {record.seq} appears again where record {expected} should be "
                "(a record was inserted, duplicated or moved)",
            )
        if record.compute_hash() != record.hash:
            return self._fail(expected, "its fields do not match its hash (the record was altered)")
        if self.mac_key is not None and not hmac.compare_digest(
            record.mac, _mac(self.mac_key, record.hash)
        ):
            return self._fail(
                expected,
                "its authentication code is wrong: it was forged, or rewritten with its hash "
                "recomputed, by someone without the audit key",
            )
        if record.prev_hash != self.prev:
            before = "the genesis hash" if expected == 1 else f"record {expected - 1}'s hash"
            return self._fail(
                expected,
                f"it does not follow {before} (prev {record.prev_hash[:16]}..., expected "
                f"{self.prev[:16]}...): a record before it was deleted, inserted or moved",
            )
        if record.action == GAP_ACTION:
            return self._fail(expected, _gap_reason(record))
        self.seq = expected
        self.prev = record.hash
        if self.frontier is not None or self.leaves is not None:
            leaf = _leaf(record.hash)
            if self.frontier is not None:
                self.frontier.append(leaf)
            if self.leaves is not None:
                self.leaves.append(leaf)
        checkpoint = self.checkpoints.get(expected)
        if checkpoint is not None and not self._anchor(checkpoint, "checkpoint"):
            return False
        if self.head is not None and self.head.tree_size == expected:
            return self._anchor(self.head, "the signed head")
        return True

    def _anchor(self, signed: Checkpoint, what: str) -> bool:
        """Check a checkpoint or head whose tree size was just reached."""
        size = signed.tree_size
        if signed.kind != ("head" if what == "the signed head" else "checkpoint"):
            return self._fail(None, f"{what} at tree size {size} is of kind {signed.kind!r}", size)
        if not signed.signature_ok(self.public_key):
            return self._fail(
                None,
                f"{what} at tree size {size}: its signature does not verify with the public "
                "key (forged or altered)",
                size,
            )
        if signed.head_hash != self.prev:
            blame = (
                "it was altered"
                if self.mac_key is not None
                else "it or the records before it were altered"
            )
            return self._fail(
                None,
                f"{what} at tree size {size} signs record {size}'s hash as "
                f"{signed.head_hash[:16]}..., but the record's hash is {self.prev[:16]}...: "
                f"{blame}",
                size,
            )
        if self.frontier is not None and signed.root != self.frontier.root().hex():
            return self._fail(
                None,
                f"{what} at tree size {size} signs a Merkle root that the records do not have",
                size,
            )
        if what == "checkpoint":
            self.verified_checkpoints += 1
        return True

    def finish(
        self,
        *,
        partial: bool = False,
        require_head: bool = False,
        allow_beyond_head: bool = False,
    ) -> VerifyReport:
        """The report once every record was fed. ``partial``: the records are a range (a
        bundle), so checkpoints beyond them are expected. ``require_head``: a log with records
        must have a signed head. ``allow_beyond_head``: records after the signed head are
        accepted (appended while verifying; their authentication codes were checked)."""
        if self.failure is not None:
            return self.failure
        if not partial:
            beyond = [size for size in sorted(self.checkpoints) if size > self.seq]
            if beyond:
                size = beyond[0]
                if not self.checkpoints[size].signature_ok(self.public_key):
                    return self._failed(
                        None,
                        f"checkpoint at tree size {size}: its signature does not verify "
                        "(forged or altered)",
                        size,
                    )
                return self._failed(
                    self.seq + 1,
                    f"the log ends at record {self.seq}, but a signed checkpoint covers "
                    f"{size} records: records {self.seq + 1} to {size} were deleted",
                )
        head = self.head
        if head is None:
            if require_head and self.seq > 0:
                return self._failed(
                    None,
                    "the signed head (audit/head.json) is missing: the end of the log is unproven",
                )
        elif head.tree_size != self.seq:
            if not head.signature_ok(self.public_key):
                return self._failed(
                    None,
                    "the signed head (audit/head.json): its signature does not verify "
                    "(forged or altered)",
                    head.tree_size,
                )
            if head.tree_size > self.seq:
                return self._failed(
                    self.seq + 1,
                    f"the log ends at record {self.seq}, but the signed head covers "
                    f"{head.tree_size} records: records {self.seq + 1} to {head.tree_size} "
                    "were deleted",
                )
            if not allow_beyond_head:
                return self._failed(
                    head.tree_size + 1,
                    f"records after {head.tree_size}, where the signed head ends, were added "
                    "without it",
                )
        return self._report(True)


def verify_rows(
    rows: Iterable[AuditRecord],
    checkpoints: Iterable[Checkpoint],
    head: Checkpoint | None,
    public_key: Ed25519PublicKey,
    *,
    mac_key: bytes | None = None,
    resume: Verifier | None = None,
) -> VerifyReport:
    """Verify a whole log given as rows in storage order: a pure function, no I/O. With
    ``mac_key`` the records' authentication codes are checked too. ``resume`` continues from
    a ``Verifier`` that already checked the rows before these (it is copied, and its own
    checkpoints, head and key are used instead of the arguments)."""
    if resume is not None:
        verifier = resume.copy()
    else:
        verifier = Verifier(public_key, checkpoints, head=head, mac_key=mac_key)
    for row in rows:
        if not verifier.feed(row):
            break
    return verifier.finish(require_head=True, allow_beyond_head=verifier.mac_key is not None)


def verify_bundle(path: Path, public_key_pem: str | None = None) -> VerifyReport:
    """Verify an export bundle offline, with the public key inside it or ``public_key_pem``
    (then the bundle's key must be that one). AuditError when the file cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise AuditError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AuditError(f"{path} is not a JSON bundle: {error}") from None
    return verify_bundle_data(data, public_key_pem)


def _malformed(reason: str) -> VerifyReport:
    return VerifyReport(ok=False, records=0, checkpoints=0, reason=f"malformed bundle: {reason}")


def verify_bundle_data(data: Any, public_key_pem: str | None = None) -> VerifyReport:
    """``verify_bundle`` on an already parsed bundle."""
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        return _malformed(f"not a {BUNDLE_FORMAT} object")
    if data.get("version") != VERSION:
        return _malformed(f"version {data.get('version')!r} (this Siyada reads {VERSION})")
    try:
        key = load_public_key(str(data["public_key"]))
        records = [AuditRecord.from_dict(item) for item in data["records"]]
        anchor = Checkpoint.from_dict(data["anchor"])
        proof = [bytes.fromhex(item) for item in data["inclusion_proof"]]
        around: list[tuple[Checkpoint, list[bytes]]] = [
            (Checkpoint.from_dict(item), [bytes.fromhex(p) for p in item["consistency_proof"]])
            for item in data["checkpoints"]
        ]
        anchor_root = bytes.fromhex(anchor.root)
    except AuditError as error:
        return _malformed(str(error))
    except (KeyError, TypeError, ValueError) as error:
        return _malformed(f"{type(error).__name__}: {error}")
    if public_key_pem is not None:
        pinned = load_public_key(public_key_pem)
        if _raw(pinned) != _raw(key):
            return VerifyReport(
                ok=False,
                records=0,
                checkpoints=0,
                reason="the bundle was signed with another key than the pinned public key",
            )
        key = pinned
    if not records:
        return _malformed("no records")
    first = records[0].seq
    if first < 1:
        return _malformed(f"record sequence numbers start at 1, not {first}")
    if (data.get("first_seq"), data.get("last_seq")) != (first, records[-1].seq):
        return _malformed(
            f"it says it holds records {data.get('first_seq')} to {data.get('last_seq')}, but "
            f"holds {first} to {records[-1].seq}"
        )
    if anchor.kind != "checkpoint" or not anchor.signature_ok(key):
        return VerifyReport(
            ok=False,
            records=0,
            checkpoints=0,
            bad_checkpoint=anchor.tree_size,
            reason=f"the anchor checkpoint (tree size {anchor.tree_size}): its signature does "
            "not verify (forged or altered)",
        )
    verifier = Verifier(
        key,
        [anchor, *(checkpoint for checkpoint, _ in around)],
        first_seq=first,
        prev_hash=GENESIS if first == 1 else records[0].prev_hash,
        merkle_roots=False,
    )
    for record in records:
        if not verifier.feed(record):
            break
    report = verifier.finish(partial=True)
    if not report.ok:
        return report
    last = records[-1]
    if not merkle.verify_inclusion(
        _leaf(last.hash), last.seq - 1, anchor.tree_size, proof, anchor_root
    ):
        return verifier._report(
            False,
            bad_checkpoint=anchor.tree_size,
            reason=f"record {last.seq} is not in the tree the anchor checkpoint (tree size "
            f"{anchor.tree_size}) signs: records were altered with their hashes recomputed, "
            "or the proof is wrong",
        )
    for checkpoint, consistency in around:
        if checkpoint.kind != "checkpoint" or not checkpoint.signature_ok(key):
            return verifier._report(
                False,
                bad_checkpoint=checkpoint.tree_size,
                reason=f"checkpoint at tree size {checkpoint.tree_size}: its signature does "
                "not verify (forged or altered)",
            )
        try:
            old_root = bytes.fromhex(checkpoint.root)
        except ValueError:
            old_root = b""
        if not merkle.verify_consistency(
            checkpoint.tree_size, anchor.tree_size, old_root, anchor_root, consistency
        ):
            return verifier._report(
                False,
                bad_checkpoint=checkpoint.tree_size,
                reason=f"checkpoint at tree size {checkpoint.tree_size} is not consistent with "
                f"the anchor checkpoint (tree size {anchor.tree_size})",
            )
    return VerifyReport(
        ok=True,
        records=len(records),
        checkpoints=len(around) + 1,
        first_seq=first,
        last_seq=last.seq,
    )


def parse_bound(text: str, *, end: bool = False) -> int | str:
    """``--from``/``--to``: a sequence number, or an ISO date or date-time (UTC unless it says
    otherwise; a date alone is its whole day). Returns the seq, or the time as stored."""
    value = text.strip()
    if value.isdigit():
        seq = int(value)
        if seq < 1:
            raise ValueError("sequence numbers start at 1")
        return seq
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a sequence number nor an ISO date (2026-03-01) or date-time "
            "(2026-03-01T09:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _process_lock(directory: Path) -> threading.Lock:
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(str(directory), threading.Lock())


@dataclass
class _HeadRead:
    head: Checkpoint | None = None
    error: str | None = None
    trusted: bool = False
    """The file is the one this object wrote last: its signature need not be checked again."""


@dataclass
class _Keys:
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    mac: bytes
    identifier: bytes
    public_pem: str = field(default="")


class EntryFields(TypedDict, total=False):
    """``AuditTrail.entry()``'s arguments."""

    tenant: Required[str]
    action: Required[str]
    outcome: Required[str]
    key_id: str | None
    resource: str | None
    request_id: str | None
    inputs: Sequence[str | bytes]
    outputs: Sequence[str | bytes]
    sensitive_resource: bool
    input_digests: Sequence[str]
    output_digests: Sequence[str]


class AuditTrail:
    """The audit trail of one data directory. Safe to share between threads; any number of
    processes may append to the same log."""

    def __init__(
        self, db_path: Path, audit_dir: Path, *, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.audit_dir = Path(audit_dir)
        self.checkpoint_every = checkpoint_every
        self._db = connect(Path(db_path))
        # An audit record is on disk when record() returns.
        self._db.execute("PRAGMA synchronous = FULL")
        self._lock = threading.RLock()
        self._keys: _Keys | None = None
        self._written_head: bytes | None = None
        self._lock_name = self.audit_dir.resolve()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- keys -------------------------------------------------------------------------------

    @property
    def key_path(self) -> Path:
        return self.audit_dir / KEY_FILE

    @property
    def head_path(self) -> Path:
        return self.audit_dir / HEAD_FILE

    def _make_dir(self) -> None:
        self.audit_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _load_keys(self, *, create: bool) -> _Keys | None:
        """The signing key and the keys derived from it; created (mode 0600) when ``create``
        and there is none. Concurrent first uses agree on one key."""
        if self._keys is not None:
            return self._keys
        path = self.key_path
        if not path.exists():
            if not create:
                return None
            self._make_dir()
            fresh = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            descriptor, partial = tempfile.mkstemp(dir=self.audit_dir, prefix=".key-")
            try:
                # Closed once, here: closing a descriptor twice may close another thread's
                # file or socket that got the same number in between.
                with os.fdopen(descriptor, "wb") as handle:
                    os.fchmod(handle.fileno(), 0o600)
                    handle.write(fresh)
                    handle.flush()
                    os.fsync(handle.fileno())
                with suppress(FileExistsError):  # another process made one first: use it
                    os.link(partial, path)
            finally:
                os.unlink(partial)
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as error:
            raise AuditError(f"cannot read the audit signing key {path}: {error}") from None
        except (ValueError, TypeError):
            raise AuditError(
                f"{path} is not a readable Ed25519 private key; restore it from a backup"
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise AuditError(f"{path} is not an Ed25519 private key")
        seed = private.private_bytes_raw()
        public = private.public_key()
        self._keys = _Keys(
            private=private,
            public=public,
            mac=hmac.new(seed, _MAC_LABEL, hashlib.sha256).digest(),
            identifier=hmac.new(seed, _IDENTIFIER_LABEL, hashlib.sha256).digest(),
            public_pem=_public_pem(public),
        )
        return self._keys

    def _keys_or_create(self) -> _Keys:
        keys = self._load_keys(create=True)
        assert keys is not None
        return keys

    def public_key_pem(self) -> str:
        """The public key auditors verify checkpoints and bundles with (PEM)."""
        with self._lock:
            return self._keys_or_create().public_pem

    def pseudonym(self, value: str) -> str:
        """How a personal identifier is recorded as a resource: a keyed hash."""
        with self._lock:
            key = self._keys_or_create().identifier
        mac = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return "hmac-sha256:" + mac.hexdigest()

    # -- locking and the head -----------------------------------------------------------------

    @contextmanager
    def _appending(self) -> Iterator[None]:
        """Exclusive, across threads (this object's and others') and processes; AuditError
        after ``BUSY_TIMEOUT_SECONDS`` of waiting."""
        busy = AuditError(
            f"the audit trail is busy: another process has held {self.audit_dir / LOCK_FILE} "
            f"for {BUSY_TIMEOUT_SECONDS:.0f} s"
        )
        process_lock = _process_lock(self._lock_name)
        with self._lock:
            if not process_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
                raise busy
            try:
                self._make_dir()
                descriptor = os.open(self.audit_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    if fcntl is not None:
                        deadline = monotonic() + BUSY_TIMEOUT_SECONDS
                        pause = 0.0005
                        while True:
                            try:
                                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                                break
                            except BlockingIOError:
                                if monotonic() > deadline:
                                    raise busy from None
                                sleep(pause)
                                pause = min(pause * 2, 0.002)
                    yield
                finally:
                    os.close(descriptor)  # releases the lock
            finally:
                process_lock.release()

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        """One snapshot of the database for several reads (re-entrant)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def _read_head(self) -> _HeadRead:
        try:
            data = self.head_path.read_bytes()
        except FileNotFoundError:
            return _HeadRead()
        except OSError as error:
            return _HeadRead(error=f"cannot read {self.head_path}: {error}")
        try:
            head = Checkpoint.from_dict(json.loads(data))
        except (UnicodeDecodeError, ValueError) as error:
            return _HeadRead(error=f"{self.head_path} is damaged: {error}")
        return _HeadRead(head=head, trusted=data == self._written_head)

    def _write_head(self, head: Checkpoint) -> None:
        data = json.dumps(head.to_dict(), indent=1).encode("utf-8") + b"\n"
        descriptor, partial = tempfile.mkstemp(dir=self.audit_dir, prefix=".head-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(partial, self.head_path)
        except BaseException:
            with suppress(OSError):
                os.unlink(partial)
            raise
        self._written_head = data

    # -- appending ----------------------------------------------------------------------------

    def record(self, **fields: Unpack[EntryFields]) -> int:
        """Append a record (``entry()``'s arguments); returns its sequence number. Inputs and
        outputs are hashed here and only their digests kept; ``input_digests`` and
        ``output_digests`` are digests the caller computed already (``digest()``'s form, e.g.
        of a body hashed as it streamed), recorded after those. A ``sensitive_resource`` is
        kept as ``pseudonym()``."""
        return self.record_batch([self.entry(**fields)])

    def entry(
        self,
        *,
        tenant: str,
        action: str,
        outcome: str,
        key_id: str | None = None,
        resource: str | None = None,
        request_id: str | None = None,
        inputs: Sequence[str | bytes] = (),
        outputs: Sequence[str | bytes] = (),
        sensitive_resource: bool = False,
        input_digests: Sequence[str] = (),
        output_digests: Sequence[str] = (),
    ) -> AuditRecord:
        """A record to append with ``record_batch`` (checked now; ``record``'s arguments)."""
        for name, value in (("tenant", tenant), ("action", action), ("outcome", outcome)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if action == GAP_ACTION:
            raise ValueError(f"{GAP_ACTION!r} is the audit trail's own action")
        for name, optional in (
            ("key_id", key_id),
            ("resource", resource),
            ("request_id", request_id),
        ):
            if optional is not None and not isinstance(optional, str):
                raise ValueError(f"{name} must be a string or None")
        for name, values in (("inputs", inputs), ("outputs", outputs)):
            if isinstance(values, str | bytes) or not all(
                isinstance(value, str | bytes) for value in values
            ):
                raise ValueError(f"{name} must be a sequence of texts or bytes")
        for name, given in (("input_digests", input_digests), ("output_digests", output_digests)):
            if isinstance(given, str) or not all(
                isinstance(value, str) and _DIGEST.fullmatch(value) for value in given
            ):
                raise ValueError(f"{name} must be a sequence of 'sha256:<64 hex digits>'")
        if sensitive_resource and resource is not None:
            resource = self.pseudonym(resource)
        return AuditRecord(
            seq=0,
            time="",
            tenant=_clean(tenant),
            key_id=None if key_id is None else _clean(key_id),
            action=_clean(action),
            resource=None if resource is None else _clean(resource),
            request_id=None if request_id is None else _clean(request_id),
            outcome=_clean(outcome),
            inputs=(*(digest(value) for value in inputs), *input_digests),
            outputs=(*(digest(value) for value in outputs), *output_digests),
            prev_hash=GENESIS,
            hash="",
        )

    def record_batch(self, batch: Sequence[AuditRecord]) -> int:
        """Append ``entry()``s in one transaction, with one signed head; returns the last
        sequence number. A server appends what its requests did this way, many at a time."""
        if not batch:
            raise ValueError("nothing to record")
        with self._appending():
            keys = self._keys_or_create()
            head_read = self._read_head()
            with self._write_transaction():
                last_seq, last_hash = self._last()
                frontier = self._frontier(last_seq)
                entries = list(batch)
                problem = self._head_problem(keys, head_read, last_seq, last_hash, frontier)
                if problem is not None:
                    log.error("audit trail: the log does not match its signed head: %s", problem)
                    gap = replace(
                        entries[0],
                        tenant=_OPERATOR_TENANT,
                        key_id=None,
                        action=GAP_ACTION,
                        resource=problem[1],
                        request_id=None,
                        outcome=problem[0],
                        inputs=(),
                        outputs=(),
                    )
                    entries.insert(0, gap)
                for item in entries:
                    record = replace(item, seq=last_seq + 1, time=_now(), prev_hash=last_hash)
                    sealed_hash = record.compute_hash()
                    self._db.execute(
                        f"INSERT INTO audit_records ({_RECORD_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            record.seq,
                            record.time,
                            record.tenant,
                            record.key_id,
                            record.action,
                            record.resource,
                            record.request_id,
                            record.outcome,
                            json.dumps(list(record.inputs)),
                            json.dumps(list(record.outputs)),
                            record.prev_hash,
                            sealed_hash,
                            _mac(keys.mac, sealed_hash),
                        ),
                    )
                    last_seq, last_hash = record.seq, sealed_hash
                    frontier.append(_leaf(sealed_hash))
                    if last_seq % self.checkpoint_every == 0:
                        self._insert_checkpoint(
                            _sign(
                                keys.private,
                                "checkpoint",
                                last_seq,
                                frontier.root().hex(),
                                last_hash,
                            )
                        )
                self._save_frontier(frontier)
            head = _sign(keys.private, "head", last_seq, frontier.root().hex(), last_hash)
            try:
                self._write_head(head)
            except OSError as error:
                # The record is committed; the next append writes the head (it may lag behind
                # the log, never run ahead of it).
                log.error("audit trail: cannot write %s: %s", self.head_path, error)
            return last_seq

    def _last(self) -> tuple[int, str]:
        row = self._db.execute(
            "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return 0, GENESIS
        return int(row[0]), str(row[1])

    def _frontier(self, size: int) -> merkle.Frontier:
        """The tree's right edge after ``size`` records: stored, or computed again when the
        stored one does not match the log (a damaged log: verification will say how)."""
        row = self._db.execute("SELECT size, frontier FROM audit_state WHERE id = 1").fetchone()
        if row is not None and row[0] == size:
            try:
                return merkle.Frontier(size, [bytes.fromhex(h) for h in json.loads(row[1])])
            except (ValueError, TypeError):
                pass
        frontier = merkle.Frontier()
        for (record_hash,) in self._db.execute("SELECT hash FROM audit_records ORDER BY seq"):
            try:
                frontier.append(_leaf(record_hash))
            except (ValueError, TypeError):
                frontier.append(merkle.leaf_hash(str(record_hash).encode("utf-8")))
        return frontier

    def _save_frontier(self, frontier: merkle.Frontier) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO audit_state (id, size, frontier) VALUES (1, ?, ?)",
            (frontier.size, json.dumps([h.hex() for h in frontier.hashes])),
        )

    def _head_problem(
        self,
        keys: _Keys,
        read: _HeadRead,
        last_seq: int,
        last_hash: str,
        frontier: merkle.Frontier,
    ) -> tuple[str, str] | None:
        """Why the log does not match its signed head, as (outcome, detail) for a gap record;
        None when it does."""
        if read.error is not None:
            return "head-damaged", read.error
        head = read.head
        if head is None:
            return None if last_seq == 0 else ("head-missing", f"the log had {last_seq} records")
        where = f"head {head.tree_size} {head.head_hash}"
        if not read.trusted and (head.kind != "head" or not head.signature_ok(keys.public)):
            return "head-forged", where
        if head.tree_size > last_seq:
            return "head-ahead", f"{where}; the log ended at {last_seq}"
        if head.tree_size == last_seq:
            if head.head_hash != last_hash or head.root != frontier.root().hex():
                return "head-mismatch", f"{where}; the log ended at {last_seq} {last_hash}"
            return None
        # The head is behind: a crash between a commit and the head write. The records after
        # it must be genuine.
        rows = self._db.execute(
            "SELECT seq, hash, mac FROM audit_records WHERE seq >= ? ORDER BY seq",
            (head.tree_size,),
        ).fetchall()
        if not rows or rows[0][0] != head.tree_size or rows[0][1] != head.head_hash:
            return "head-mismatch", f"{where}; the log ended at {last_seq} {last_hash}"
        for seq, record_hash, mac in rows[1:]:
            if not _is_hash(record_hash) or not hmac.compare_digest(
                str(mac), _mac(keys.mac, record_hash)
            ):
                return "head-behind", f"{where}; record {seq} after it is not authentic"
        return None

    def _insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._db.execute(
            # One there already (a log cut back and appended to again) is evidence: kept.
            f"INSERT OR IGNORE INTO audit_checkpoints ({_CHECKPOINT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                checkpoint.tree_size,
                checkpoint.root,
                checkpoint.head_hash,
                checkpoint.time,
                checkpoint.signature,
            ),
        )

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint at the current end of the log (the existing one when there is
        one there already); None when the log is empty. AuditError when the log does not
        match its signed head: what it holds then is not signed."""
        with self._appending():
            keys = self._keys_or_create()
            head_read = self._read_head()
            with self._write_transaction():
                last_seq, last_hash = self._last()
                if last_seq == 0:
                    return None
                existing = self._checkpoints(last_seq, last_seq)
                if existing:
                    return existing[0]
                frontier = self._frontier(last_seq)
                problem = self._head_problem(keys, head_read, last_seq, last_hash, frontier)
                if problem is not None:
                    raise AuditError(
                        f"the log does not match its signed head ({problem[0]}: {problem[1]}), "
                        "so no checkpoint is signed; run: siyada audit verify"
                    )
                checkpoint = _sign(
                    keys.private, "checkpoint", last_seq, frontier.root().hex(), last_hash
                )
                self._insert_checkpoint(checkpoint)
                self._save_frontier(frontier)
                return checkpoint

    # -- reading ------------------------------------------------------------------------------

    def _checkpoints(self, low: int = 0, high: int | None = None) -> list[Checkpoint]:
        rows = self._db.execute(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints "
            "WHERE tree_size >= ? AND (? IS NULL OR tree_size <= ?) ORDER BY tree_size",
            (low, high, high),
        ).fetchall()
        return [Checkpoint(*row) for row in rows]

    def checkpoints(self) -> list[Checkpoint]:
        with self._lock:
            return self._checkpoints()

    def signed_head(self) -> Checkpoint | None:
        """The signed head (``head.json``) as it is on disk, unchecked; None when absent."""
        read = self._read_head()
        if read.error is not None:
            raise AuditError(read.error)
        return read.head

    def records(
        self,
        *,
        tenant: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[AuditRecord]:
        """Records, newest first, filtered by tenant, action, and resource (as recorded, or a
        personal identifier given in clear: its pseudonym is looked up too)."""
        clauses, params = [], []
        if tenant is not None:
            clauses.append("tenant = ?")
            params.append(tenant)
        if action is not None:
            clauses.append("action = ?")
            params.append(action)
        if resource is not None:
            clauses.append("resource IN (?, ?)")
            params.extend((resource, self.pseudonym(resource)))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest_first else "ASC"
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM audit_records {where} ORDER BY seq {order} LIMIT ?",
                (*params, max(0, limit)),
            ).fetchall()
        return [AuditRecord._from_row(row) for row in rows]

    def _rows(self, low: int = 1, high: int | None = None) -> Iterator[AuditRecord]:
        cursor = self._db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM audit_records "
            "WHERE seq >= ? AND (? IS NULL OR seq <= ?) ORDER BY seq",
            (low, high, high),
        )
        for row in cursor:
            yield AuditRecord._from_row(row)

    # -- verifying, proving, exporting --------------------------------------------------------

    def verify(self, public_key_pem: str | None = None) -> VerifyReport:
        """Check every record, checkpoint and the signed head; the report names the first
        problem. ``public_key_pem`` pins the key: the local one must be that one."""
        with self._lock:
            return self._scan(public_key_pem)[0]

    def _scan(
        self, public_key_pem: str | None = None, *, collect_leaves: bool = False
    ) -> tuple[VerifyReport, Verifier | None]:
        # The head is read before the snapshot is taken: it is written after each commit, so
        # the snapshot holds every record it covers.
        head_read = self._read_head()
        keys = self._load_keys(create=False)
        with self._read_transaction():
            count = self._db.execute("SELECT COUNT(*) FROM audit_records").fetchone()[0]
            checkpoints = self._checkpoints()
            if keys is None:
                if count or checkpoints or head_read.head is not None:
                    reason = f"the signing key {self.key_path} is missing"
                    return VerifyReport(ok=False, records=0, checkpoints=0, reason=reason), None
                return VerifyReport(ok=True, records=0, checkpoints=0), None
            if public_key_pem is not None and _raw(load_public_key(public_key_pem)) != _raw(
                keys.public
            ):
                reason = f"the signing key {self.key_path} is not the pinned public key"
                return VerifyReport(ok=False, records=0, checkpoints=0, reason=reason), None
            if head_read.error is not None:
                return VerifyReport(
                    ok=False, records=0, checkpoints=0, reason=head_read.error
                ), None
            head = head_read.head
            if head is not None and (head.kind != "head" or not head.signature_ok(keys.public)):
                reason = (
                    "the signed head (audit/head.json) does not verify with the signing key: "
                    "the head was forged, or the key replaced"
                )
                failed = VerifyReport(
                    ok=False,
                    records=0,
                    checkpoints=0,
                    bad_checkpoint=head.tree_size,
                    reason=reason,
                    head=head.tree_size,
                )
                return failed, None
            verifier = Verifier(
                keys.public,
                checkpoints,
                head=head_read.head,
                mac_key=keys.mac,
                collect_leaves=collect_leaves,
            )
            for row in self._rows():
                if not verifier.feed(row):
                    break
            report = verifier.finish(require_head=True, allow_beyond_head=True)
        return report, verifier if report.ok else None

    def _tree(self, size: int) -> merkle.MerkleTree:
        leaves = [
            _leaf(record_hash)
            for (record_hash,) in self._db.execute(
                "SELECT hash FROM audit_records WHERE seq <= ? ORDER BY seq", (size,)
            )
        ]
        if len(leaves) != size:
            raise AuditError("the log has gaps; run: siyada audit verify")
        return merkle.MerkleTree(leaves)

    def inclusion_proof(self, seq: int) -> InclusionProof:
        """Prove record ``seq`` is in the log, against the first checkpoint that covers it (one
        is signed now if none does yet)."""
        if seq < 1:
            raise AuditError(f"there is no record {seq}")
        with self._lock:
            covering = self._checkpoints(seq)
        anchor = covering[0] if covering else self.checkpoint()
        with self._lock, self._read_transaction():
            row = self._db.execute(
                "SELECT hash FROM audit_records WHERE seq = ?", (seq,)
            ).fetchone()
            if row is None or anchor is None:
                raise AuditError(f"there is no record {seq}")
            tree = self._tree(anchor.tree_size)
        proof = InclusionProof(
            seq, str(row[0]), tuple(p.hex() for p in tree.inclusion_proof(seq - 1)), anchor
        )
        if not proof.verify(self._keys_or_create().public):
            raise AuditError(
                f"record {seq} does not match the checkpoint at tree size {anchor.tree_size}; "
                "run: siyada audit verify"
            )
        return proof

    def _resolve(self, bound: int | str | date | None, *, end: bool, size: int) -> int:
        if bound is None:
            return size if end else 1
        if isinstance(bound, datetime | date):
            bound = parse_bound(bound.isoformat(), end=end)
        elif isinstance(bound, str):
            bound = parse_bound(bound, end=end)
        if isinstance(bound, int):
            return min(bound, size) if end else max(bound, 1)
        query = (
            "SELECT MAX(seq) FROM audit_records WHERE time <= ? AND seq <= ?"
            if end
            else "SELECT MIN(seq) FROM audit_records WHERE time >= ? AND seq <= ?"
        )
        found = self._db.execute(query, (bound, size)).fetchone()[0]
        return int(found) if found is not None else (0 if end else size + 1)

    def export(
        self,
        path: Path,
        *,
        start: int | str | date | None = None,
        end: int | str | date | None = None,
        force: bool = False,
    ) -> ExportSummary:
        """Write a bundle of the records from ``start`` to ``end`` (sequence numbers, ISO
        dates or date-times, inclusive) that ``verify_bundle`` checks offline. The log is
        verified first and not exported when it fails. Written atomically; an existing file
        is replaced only with ``force``."""
        path = Path(path)
        if path.exists() and not force:
            raise AuditError(f"{path} exists; use --force to replace it")
        with self._lock:
            report, verifier = self._scan(collect_leaves=True)
        if not report.ok or verifier is None or verifier.leaves is None:
            raise AuditError(
                f"the audit log does not verify, so it is not exported: {report.summary()}"
            )
        leaves = verifier.leaves
        anchor = self.checkpoint()
        if anchor is None:
            raise AuditError("the audit log is empty: there is nothing to export")
        with self._lock:
            keys = self._keys_or_create()
            with self._read_transaction():
                size = anchor.tree_size
                # Records appended since the verification (the bundle's own check covers them).
                for (record_hash,) in self._db.execute(
                    "SELECT hash FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq",
                    (len(leaves), size),
                ):
                    leaves.append(_leaf(record_hash))
                first = self._resolve(start, end=False, size=size)
                last = self._resolve(end, end=True, size=size)
                if first > last:
                    raise AuditError("there are no records in that range")
                records = list(self._rows(first, last))
                checkpoints = self._checkpoints(0, size - 1)
        tree = merkle.MerkleTree(leaves[:size])
        before = [c for c in checkpoints if c.tree_size < first][-1:]
        inside = [c for c in checkpoints if first <= c.tree_size <= last]
        after = [c for c in checkpoints if c.tree_size > last][:1]
        around = [
            {
                **checkpoint.to_dict(),
                "consistency_proof": [
                    p.hex() for p in tree.consistency_proof(checkpoint.tree_size, size)
                ],
            }
            for checkpoint in (*before, *inside, *after)
        ]
        bundle = {
            "format": BUNDLE_FORMAT,
            "version": VERSION,
            "created": _now(),
            "about": "Records of a Siyada audit trail, their chain, and signed checkpoints. "
            "Canonical forms: see siyada.governance.audit.",
            "public_key": keys.public_pem,
            "first_seq": first,
            "last_seq": last,
            "records": [record.to_dict() for record in records],
            "anchor": anchor.to_dict(),
            "inclusion_proof": [p.hex() for p in tree.inclusion_proof(last - 1)],
            "checkpoints": around,
        }
        self._publish(path, bundle, force=force, public_pem=keys.public_pem)
        return ExportSummary(path, first, last, len(records), len(around) + 1, size)

    def _publish(self, path: Path, bundle: dict[str, Any], *, force: bool, public_pem: str) -> None:
        """Write to a temporary file, check it as an auditor would, then move it in place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(bundle, handle, ensure_ascii=False, indent=1)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(partial, 0o644)
            check = verify_bundle(Path(partial), public_pem)
            if not check.ok:
                raise AuditError(f"the bundle does not verify: {check.summary()}")
            if force:
                os.replace(partial, path)
            else:
                try:
                    os.link(partial, path)
                except FileExistsError:
                    raise AuditError(f"{path} exists; use --force to replace it") from None
                os.unlink(partial)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(partial)


def open_audit(
    settings: Settings, *, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
) -> AuditTrail:
    return AuditTrail(settings.database_path, settings.audit_dir, checkpoint_every=checkpoint_every)
