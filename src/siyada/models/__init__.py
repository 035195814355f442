"""Chat models behind one streaming Protocol: OpenAI-compatible servers, llama.cpp, extractive."""

from siyada.models.base import (
    ChatModel,
    ChatRequest,
    Delta,
    Message,
    ModelCard,
    ModelDamaged,
    ModelError,
    ModelProtocolError,
    ModelTimeout,
    ModelUnavailable,
    Passage,
    Usage,
)
from siyada.models.registry import EXTRACTIVE, Backend, ModelRecord, ModelRegistry

__all__ = [
    "EXTRACTIVE",
    "Backend",
    "ChatModel",
    "ChatRequest",
    "Delta",
    "Message",
    "ModelCard",
    "ModelDamaged",
    "ModelError",
    "ModelProtocolError",
    "ModelRecord",
    "ModelRegistry",
    "ModelTimeout",
    "ModelUnavailable",
    "Passage",
    "Usage",
]
