"""Tenants, API keys and roles.

A key reads ``siyada_<prefix>_<secret>``: the prefix names the key in lists and in the audit
trail; the whole key is kept only as HMAC-SHA256 under a secret that never leaves the data
directory, so a copy of the database alone does not let anyone check guessed keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from siyada.config import DEFAULT_TENANT, Settings
from siyada.database import connect, now_iso, transaction

KEY_MARK = "siyada"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_KEY = re.compile(rf"{KEY_MARK}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")
SECRET_FILE = "key-hashing.secret"


class Role(StrEnum):
    READER = "reader"
    """Ask, search, the language tools."""
    EDITOR = "editor"
    """And collections and documents."""
    ADMIN = "admin"
    """And keys and models (the operator's tenant: all tenants)."""

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class PiiPolicy(StrEnum):
    PSEUDONYMIZE = "pseudonymize"
    """Identifiers reach the model as placeholders and come back restored."""
    MASK = "mask"
    """Identifiers reach the model as ``[CIN]``; the answer keeps the mask."""
    REFUSE = "refuse"
    """A question holding an identifier is refused; sources reach the model masked."""


class AccessError(Exception):
    """Refused: the message says why and what to do."""


class AuthenticationError(AccessError):
    """No key, or a key that is unknown, revoked or expired (HTTP 401)."""


class PermissionDenied(AccessError):
    """The key's role does not allow the action (HTTP 403)."""


class NotFound(AccessError):
    """No such tenant or key (HTTP 404)."""


@dataclass(frozen=True)
class Tenant:
    name: str
    pii_policy: PiiPolicy
    requests_per_minute: int | None
    tokens_per_day: int | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ApiKey:
    id: int
    tenant: str
    prefix: str
    role: Role
    name: str
    requests_per_minute: int | None
    tokens_per_day: int | None
    expires_at: str | None
    revoked_at: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        del shown["id"]
        return shown


def check_tenant_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise AccessError(
            f"invalid tenant name {name!r}: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def parse_expiry(value: str) -> str:
    """An ISO date-time (UTC when no zone is given), or a date (the key works through that
    whole day, UTC), normalized; ValueError if not."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if len(value.strip()) == len("2027-01-31"):
            moment += timedelta(days=1)
        return moment.astimezone(UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError):
        raise ValueError(
            f"{value!r} is not a usable ISO date (e.g. 2027-01-31 or 2027-01-31T18:00)"
        ) from None


def _secret(path: Path) -> bytes:
    """The key-hashing secret, created once (mode 0600); concurrent first starts agree."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        fresh = secrets.token_bytes(32)
        partial = path.with_suffix(".part")
        partial.write_bytes(fresh)
        os.chmod(partial, 0o600)
        os.close(descriptor)
        partial.replace(path)
    for _ in range(100):
        value = path.read_bytes()
        if len(value) == 32:
            return value
        time.sleep(0.01)  # another process created the file and is about to fill it
    raise AccessError(f"{path} is damaged (not 32 bytes); restore it from a backup")


class Directory:
    """Tenants and keys, in the shared SQLite database."""

    def __init__(self, database_path: Path, secret_path: Path) -> None:
        self._db = connect(database_path)
        self._secret_path = secret_path
        self._hash_secret: bytes | None = None

    def close(self) -> None:
        self._db.close()

    def _digest(self, key: str) -> str:
        if self._hash_secret is None:
            self._hash_secret = _secret(self._secret_path)
        return hmac.new(self._hash_secret, key.encode(), hashlib.sha256).hexdigest()

    # Tenants

    def create_tenant(
        self,
        name: str,
        *,
        pii_policy: PiiPolicy = PiiPolicy.PSEUDONYMIZE,
        requests_per_minute: int | None = None,
        tokens_per_day: int | None = None,
    ) -> Tenant:
        check_tenant_name(name)
        try:
            with transaction(self._db):
                self._db.execute(
                    "INSERT INTO tenants (name, pii_policy, requests_per_minute, tokens_per_day,"
                    " created_at) VALUES (?, ?, ?, ?, ?)",
                    (name, pii_policy.value, requests_per_minute, tokens_per_day, now_iso()),
                )
        except sqlite3.IntegrityError:
            raise AccessError(f"tenant {name!r} already exists") from None
        return self.tenant(name)

    def tenant(self, name: str) -> Tenant:
        row = self._db.execute(
            "SELECT name, pii_policy, requests_per_minute, tokens_per_day, created_at"
            " FROM tenants WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            raise NotFound(
                f"no tenant named {name!r}; create it with: siyada tenants create {name}"
            )
        return Tenant(row[0], PiiPolicy(row[1]), row[2], row[3], row[4])

    def tenants(self) -> list[Tenant]:
        names = self._db.execute("SELECT name FROM tenants ORDER BY name").fetchall()
        return [self.tenant(name) for (name,) in names]

    def update_tenant(self, name: str, **changes: Any) -> Tenant:
        """Change ``pii_policy``, ``requests_per_minute`` or ``tokens_per_day`` (None: no limit)."""
        self.tenant(name)
        allowed = {"pii_policy", "requests_per_minute", "tokens_per_day"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
        with transaction(self._db):
            for column, value in changes.items():
                stored = value.value if isinstance(value, PiiPolicy) else value
                self._db.execute(f"UPDATE tenants SET {column} = ? WHERE name = ?", (stored, name))
        return self.tenant(name)

    def delete_tenant(self, name: str) -> None:
        """Remove a tenant and its keys; refused while it still owns collections or models."""
        self.tenant(name)
        with transaction(self._db):
            for table, what in (("collections", "collections"), ("models", "models")):
                count = self._db.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE tenant = ?", (name,)
                ).fetchone()[0]
                if count:
                    raise AccessError(
                        f"tenant {name!r} still owns {count} {what}; delete them first"
                    )
            self._db.execute("DELETE FROM conversations WHERE tenant = ?", (name,))
            self._db.execute("DELETE FROM tenants WHERE name = ?", (name,))

    # Keys

    def create_key(
        self,
        tenant: str,
        role: Role,
        name: str = "",
        *,
        requests_per_minute: int | None = None,
        tokens_per_day: int | None = None,
        expires_at: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret form: shown to the caller once, never stored."""
        self.tenant(tenant)
        prefix = secrets.token_hex(6)
        secret = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
        with transaction(self._db):
            self._db.execute(
                "INSERT INTO api_keys (tenant, prefix, digest, role, name, requests_per_minute,"
                " tokens_per_day, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    prefix,
                    self._digest(secret),
                    role.value,
                    name,
                    requests_per_minute,
                    tokens_per_day,
                    expires_at,
                    now_iso(),
                ),
            )
        return self.key(prefix), secret

    _KEY_COLUMNS = (
        "id, tenant, prefix, role, name, requests_per_minute, tokens_per_day, expires_at,"
        " revoked_at, created_at"
    )

    @staticmethod
    def _key(row: tuple[Any, ...]) -> ApiKey:
        return ApiKey(row[0], row[1], row[2], Role(row[3]), *row[4:])

    def key(self, prefix: str, tenant: str | None = None) -> ApiKey:
        """The key named by ``prefix`` (within ``tenant`` when given)."""
        row = self._db.execute(
            f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE prefix = ?", (prefix,)
        ).fetchone()
        if row is None or (tenant is not None and row[1] != tenant):
            raise NotFound(f"no key with prefix {prefix!r}")
        return self._key(row)

    def keys(self, tenant: str | None = None) -> list[ApiKey]:
        rows = self._db.execute(
            f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id",
            (tenant,),
        ).fetchall()
        return [self._key(row) for row in rows]

    def revoke_key(self, prefix: str, tenant: str | None = None) -> ApiKey:
        self.key(prefix, tenant)
        with transaction(self._db):
            self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
                (now_iso(), prefix),
            )
        return self.key(prefix)

    def authenticate(self, secret: str) -> tuple[ApiKey, Tenant]:
        """The key and its tenant, or AuthenticationError saying what is wrong with it."""
        found = _KEY.fullmatch(secret.strip())
        if not found:
            raise AuthenticationError(
                "that is not a Siyada API key (siyada_<prefix>_<secret>); an admin creates one "
                "with: siyada keys create --tenant NAME --role reader"
            )
        row = self._db.execute(
            f"SELECT {self._KEY_COLUMNS}, digest FROM api_keys WHERE prefix = ?",
            (found.group(1),),
        ).fetchone()
        if row is None or not hmac.compare_digest(row[-1], self._digest(secret.strip())):
            raise AuthenticationError("unknown API key")
        key = self._key(row[:-1])
        if key.revoked_at:
            raise AuthenticationError(f"API key {key.prefix} was revoked at {key.revoked_at}")
        if key.expires_at and key.expires_at <= datetime.now(UTC).isoformat(timespec="seconds"):
            raise AuthenticationError(f"API key {key.prefix} expired at {key.expires_at}")
        return key, self.tenant(key.tenant)


def open_directory(settings: Settings) -> Directory:
    return Directory(settings.database_path, settings.secrets_dir / SECRET_FILE)


def ensure_local_admin(directory: Directory, key_file: Path) -> bool:
    """On first start: an admin key of the operator's tenant, written to ``key_file`` (mode
    0600). True when it was created now; nothing changes while the file exists."""
    if key_file.exists():
        return False
    _, secret = directory.create_key(DEFAULT_TENANT, Role.ADMIN, "local admin")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    partial = key_file.with_suffix(".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    partial.replace(key_file)
    return True
