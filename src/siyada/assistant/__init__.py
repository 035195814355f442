"""The assistant: grounded answers with citations, in the asker's language and script."""

from siyada.assistant.conversations import ConversationError, Conversations
from siyada.assistant.errors import AssistantError, PersonalDataRefused
from siyada.assistant.pipeline import (
    Answer,
    AnswerPiece,
    AskOptions,
    Preamble,
    Source,
    ask,
)
from siyada.assistant.privacy import PrivacyGuard
from siyada.assistant.script import ArabiziAnswer

__all__ = [
    "Answer",
    "AnswerPiece",
    "ArabiziAnswer",
    "AskOptions",
    "AssistantError",
    "ConversationError",
    "Conversations",
    "PersonalDataRefused",
    "Preamble",
    "PrivacyGuard",
    "Source",
    "ask",
]
