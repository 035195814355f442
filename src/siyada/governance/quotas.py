"""Quotas per key and per tenant: requests per minute and tokens per day.

Counters are rows of the shared database, one per subject and fixed window (the minute, the
UTC day), checked and incremented in one write transaction: concurrent requests, threads or
processes, never both pass the last free slot, and the counts survive a restart.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from siyada.database import connect, transaction
from siyada.governance.access import ApiKey, Tenant

MINUTE = 60
DAY = 86_400
KEPT_SECONDS = 2 * DAY
"""Windows older than this are deleted now and then."""


class QuotaExceeded(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Limit:
    subject: str
    label: str
    requests_per_minute: int | None
    tokens_per_day: int | None


def _limits(key: ApiKey, tenant: Tenant) -> list[_Limit]:
    return [
        _Limit(f"key:{key.id}", f"key {key.prefix}", key.requests_per_minute, key.tokens_per_day),
        _Limit(
            f"tenant:{tenant.name}",
            f"tenant {tenant.name!r}",
            tenant.requests_per_minute,
            tenant.tokens_per_day,
        ),
    ]


class Quotas:
    def __init__(self, database_path: Path) -> None:
        self._db = connect(database_path)
        self._admitted = 0

    def close(self) -> None:
        self._db.close()

    def _used(self, subject: str, kind: str, window: int) -> int:
        row = self._db.execute(
            "SELECT amount FROM usage WHERE subject = ? AND kind = ? AND window_start = ?",
            (subject, kind, window),
        ).fetchone()
        return int(row[0]) if row else 0

    def _add(self, subject: str, kind: str, window: int, amount: int) -> None:
        self._db.execute(
            "INSERT INTO usage (subject, kind, window_start, amount) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (subject, kind, window_start) DO UPDATE SET amount = amount + ?",
            (subject, kind, window, amount, amount),
        )

    @staticmethod
    def applies(key: ApiKey, tenant: Tenant) -> bool:
        """Whether any limit applies to requests with this key (else nothing is counted)."""
        return any(
            limit.requests_per_minute is not None or limit.tokens_per_day is not None
            for limit in _limits(key, tenant)
        )

    def admit(self, key: ApiKey, tenant: Tenant, now: float | None = None) -> None:
        """Count one request, or raise QuotaExceeded (counting nothing) when a limit is reached."""
        now = time.time() if now is None else now
        minute = int(now // MINUTE) * MINUTE
        day = int(now // DAY) * DAY
        if not self.applies(key, tenant):
            return  # nothing to count: no write (every request would queue for the lock)
        limits = [limit for limit in _limits(key, tenant) if limit.requests_per_minute is not None]
        with transaction(self._db):
            for limit in _limits(key, tenant):
                if limit.tokens_per_day is not None and (
                    self._used(limit.subject, "tokens", day) >= limit.tokens_per_day
                ):
                    raise QuotaExceeded(
                        f"{limit.label} used its {limit.tokens_per_day} tokens for today (UTC)",
                        math.ceil(day + DAY - now),
                    )
            for limit in limits:
                assert limit.requests_per_minute is not None
                if self._used(limit.subject, "requests", minute) >= limit.requests_per_minute:
                    raise QuotaExceeded(
                        f"{limit.label} is limited to {limit.requests_per_minute} requests "
                        "per minute",
                        max(1, math.ceil(minute + MINUTE - now)),
                    )
            for limit in limits:
                self._add(limit.subject, "requests", minute, 1)
        self._admitted += 1
        if self._admitted % 1000 == 0:
            self._forget_before(now - KEPT_SECONDS)

    def charge_tokens(
        self, key: ApiKey, tenant: Tenant, tokens: int, now: float | None = None
    ) -> None:
        """Count tokens a request used (after it, when the count is known)."""
        if tokens <= 0:
            return
        now = time.time() if now is None else now
        day = int(now // DAY) * DAY
        with transaction(self._db):
            # Counted even with no limit: a limit set later applies to the day so far.
            for limit in _limits(key, tenant):
                self._add(limit.subject, "tokens", day, tokens)

    def usage(self, subject: str, now: float | None = None) -> dict[str, int]:
        """``requests`` this minute and ``tokens`` today for ``key:<id>`` or ``tenant:<name>``."""
        now = time.time() if now is None else now
        return {
            "requests": self._used(subject, "requests", int(now // MINUTE) * MINUTE),
            "tokens": self._used(subject, "tokens", int(now // DAY) * DAY),
        }

    def _forget_before(self, moment: float) -> None:
        try:
            with transaction(self._db):
                self._db.execute("DELETE FROM usage WHERE window_start < ?", (int(moment),))
        except sqlite3.OperationalError:
            pass  # busy: the next sweep will do it
