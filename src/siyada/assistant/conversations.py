"""Named conversations, so that ``siyada ask --conversation NAME`` continues where it left off."""

from __future__ import annotations

import re
from pathlib import Path

from siyada.database import connect, now_iso, transaction
from siyada.models.base import ROLES, Message

MAX_NAME_CHARS = 100


class ConversationError(Exception):
    pass


class Conversations:
    def __init__(self, database: Path) -> None:
        self._db = connect(database)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _check(name: str) -> str:
        cleaned = name.strip()
        if not cleaned or len(cleaned) > MAX_NAME_CHARS:
            raise ConversationError(f"invalid conversation name {name!r}: 1-100 characters")
        return cleaned

    def names(self, tenant: str) -> list[tuple[str, int, str]]:
        """Each conversation's name, number of questions and start time, oldest first."""
        rows = self._db.execute(
            "SELECT c.name, COUNT(t.id) / 2, c.created_at FROM conversations c"
            " LEFT JOIN turns t ON t.conversation_id = c.id WHERE c.tenant = ?"
            " GROUP BY c.id ORDER BY c.id",
            (tenant,),
        ).fetchall()
        return [(name, int(questions), created) for name, questions, created in rows]

    def history(self, tenant: str, name: str) -> list[Message]:
        rows = self._db.execute(
            "SELECT t.role, t.content FROM turns t JOIN conversations c ON c.id = t.conversation_id"
            " WHERE c.tenant = ? AND c.name = ? ORDER BY t.id",
            (tenant, self._check(name)),
        ).fetchall()
        return [Message(role, content) for role, content in rows if role in ROLES]

    def append(self, tenant: str, name: str, question: str, answer: str) -> None:
        name = self._check(name)
        with transaction(self._db):
            self._db.execute(
                "INSERT OR IGNORE INTO conversations (tenant, name, created_at) VALUES (?, ?, ?)",
                (tenant, name, now_iso()),
            )
            (conversation,) = self._db.execute(
                "SELECT id FROM conversations WHERE tenant = ? AND name = ?", (tenant, name)
            ).fetchone()
            now = now_iso()
            self._db.executemany(
                "INSERT INTO turns (conversation_id, role, content, created_at)"
                " VALUES (?, ?, ?, ?)",
                [(conversation, "user", question, now), (conversation, "assistant", answer, now)],
            )

    def delete(self, tenant: str, name: str) -> bool:
        with transaction(self._db):
            cursor = self._db.execute(
                "DELETE FROM conversations WHERE tenant = ? AND name = ?",
                (tenant, self._check(name)),
            )
        return cursor.rowcount > 0

    def erase(self, tenant: str, pattern: re.Pattern[str], replacement: str) -> int:
        """Replace ``pattern`` in every turn of the tenant's conversations; turns changed."""
        changed = 0
        with transaction(self._db):
            rows = self._db.execute(
                "SELECT t.id, t.content FROM turns t"
                " JOIN conversations c ON c.id = t.conversation_id WHERE c.tenant = ?",
                (tenant,),
            ).fetchall()
            for turn, content in rows:
                erased, found = pattern.subn(replacement, content)
                if found:
                    self._db.execute("UPDATE turns SET content = ? WHERE id = ?", (erased, turn))
                    changed += 1
        return changed
