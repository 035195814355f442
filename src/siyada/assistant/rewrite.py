"""The search query of a question asked in a conversation.

A follow-up ("w chhal l drari?", "et pour un enfant ?") means little on its own, so it is
searched together with the previous question; a question that stands on its own is searched
as it is, so a change of subject is not polluted by the old one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from siyada.knowledge.keys import key_words
from siyada.lang import Label
from siyada.models.base import Message

SHORT_WORD_CHARS = 2
"""Words this short are mostly function words and do not make a question stand on its own."""


@lru_cache(maxsize=1)
def _followup() -> tuple[frozenset[str], int]:
    path = resources.files("siyada.assistant").joinpath("data/followup.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(data["starts"]), int(data["max_content_words"])


def is_followup(question: str, label: Label) -> bool:
    starts, max_content = _followup()
    words = question.lower().split()
    if not words:
        return False
    opening = [word.strip("،,.?؟!") for word in words[:3]]
    if any(" ".join(opening[:n]) in starts for n in (1, 2, 3)):
        return True
    content = [word for word in key_words(question, label) if len(word) > SHORT_WORD_CHARS]
    return len(content) <= max_content


def search_query(question: str, label: Label, history: Sequence[Message]) -> str:
    """``question``, preceded by the previous question when it is a follow-up."""
    previous = [message.content for message in history if message.role == "user"]
    if previous and is_followup(question, label):
        return f"{previous[-1]} {question}"
    return question
