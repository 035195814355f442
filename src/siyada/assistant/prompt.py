"""The grounded-answer prompt: numbered sources, the answer language, the conversation so far.

Tamazight reaches the model in Latin letters (tokenizers spend about three tokens per Tifinagh
character); an Arabizi question comes with its Arabic-script transliteration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from siyada.assistant.script import ScriptPolicy
from siyada.lang import Label, transliterate
from siyada.lang.translit.tifinagh import in_latin_letters
from siyada.models.base import Message, Passage

MESSAGE_OVERHEAD_TOKENS = 8
"""Tokens a chat template adds around each message (role markers)."""
HISTORY_MESSAGES = 6
_PLACEHOLDER = re.compile(r"(\[[A-Z]+(?:_[0-9]+)?\])")


@lru_cache(maxsize=1)
def _texts() -> dict[str, Any]:
    path = resources.files("siyada.assistant").joinpath("data/prompt.json")
    texts: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return texts


def fit_passages(
    passages: Sequence[Passage],
    context_tokens: int | None,
    answer_tokens: int,
    count_tokens: Callable[[str], int],
    without_passages: Sequence[Message] = (),
) -> tuple[Passage, ...]:
    """The best passages that fit the model's context next to the answer and the rest of the
    prompt (``without_passages``: the prompt built with none); all when the context is unknown.
    """
    if context_tokens is None:
        return tuple(passages)
    fixed = sum(count_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in without_passages)
    budget = context_tokens - answer_tokens - fixed
    kept, used = [], 0
    for passage in passages:
        used += count_tokens(_source(passage))
        if used > budget:
            break
        kept.append(passage)
    return tuple(kept)


def _source(passage: Passage) -> str:
    texts = _texts()
    return (
        str(
            texts["source"].format(
                n=passage.n,
                document=passage.document,
                page=texts["page"].format(page=passage.page) if passage.page else "",
                text=in_latin_letters(passage.text),
            )
        )
        + "\n\n"
    )


def _question(question: str, policy: ScriptPolicy) -> str:
    texts = _texts()
    if policy.question is Label.ZGH_TFNG:
        original = texts["original_scripts"]["zgh_Tfng"]
        return str(
            texts["question_in_latin"].format(
                question=in_latin_letters(question), original=original
            )
        )
    if policy.question is Label.ARY_LATN:
        # Placeholders for personal data ([CIN_1], [PHONE]) stay as they are, to be restored.
        arabic = "".join(
            part
            if _PLACEHOLDER.fullmatch(part)
            else transliterate(part, Label.ARY_LATN, Label.ARY_ARAB)
            for part in _PLACEHOLDER.split(question)
        )
        return str(texts["question_in_arabizi"].format(question=question, arabic=arabic))
    return question


def build_messages(
    question: str,
    policy: ScriptPolicy,
    passages: Sequence[Passage],
    history: Sequence[Message] = (),
) -> tuple[Message, ...]:
    texts = _texts()
    sources = "".join(_source(passage) for passage in passages).rstrip()
    system = texts["system"].format(
        language=texts["languages"].get(policy.writes.value, texts["languages"]["und"]),
        sources=sources or texts["no_sources"],
    )
    earlier = [
        Message(message.role, in_latin_letters(message.content))
        for message in history[-HISTORY_MESSAGES:]
        if message.role != "system"
    ]
    return (Message("system", system), *earlier, Message("user", _question(question, policy)))
