"""Reversible pseudonymization for the answer path.

The question and the retrieved passages go to the model with placeholders (``[CIN_1]``,
``[PHONE_2]``); the answer comes back with the real values restored, also while it streams.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from types import MappingProxyType

from siyada.governance.pii.recognizers import Entity, canonical, replace_entities, scan
from siyada.governance.pii.tables import DEFAULT_MIN_SCORE, ENTITY_TYPES

NUMBERED_PLACEHOLDER = re.compile(r"\[(" + "|".join(ENTITY_TYPES) + r")_([0-9]+)\]")
_MAX_NUMBER_DIGITS = 9
_TYPE_PREFIXES = frozenset(name[:size] for name in ENTITY_TYPES for size in range(len(name) + 1))
_PARTIAL_NUMBER = re.compile(
    r"\[(?:" + "|".join(ENTITY_TYPES) + r")_[0-9]{0," + str(_MAX_NUMBER_DIGITS) + r"}"
)


def with_known_spellings(
    text: str, entities: list[Entity], spellings: Mapping[str, str]
) -> list[Entity]:
    """``entities`` plus every occurrence in ``text`` of a spelling already identified
    elsewhere (``spelling -> type``): a CIN found next to "numéro de CIN" in the question is
    also replaced where a passage names it with no context word."""
    if not spellings:
        return entities
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(re.escape(spelling) for spelling in sorted(spellings, key=len, reverse=True))
        + r")(?!\w)"
    )
    taken = [(entity.start, entity.end) for entity in entities]
    extra = [
        Entity(spellings[match.group()], match.start(), match.end(), match.group(), True, 1.0)
        for match in pattern.finditer(text)
        if not any(start < match.end() and match.start() < end for start, end in taken)
    ]
    return sorted([*entities, *extra], key=lambda entity: entity.start)


def _could_become_placeholder(tail: str) -> bool:
    """``tail`` starts with ``[`` and is a proper prefix of some ``[TYPE_n]``."""
    letters = tail[1:]
    if letters in _TYPE_PREFIXES:
        return True
    return _PARTIAL_NUMBER.fullmatch(tail) is not None


class Pseudonymizer:
    """Replaces identifiers by numbered placeholders and puts them back.

    One instance serves one exchange (the question and all its passages): the same value, after
    :func:`canonical`, gets the same placeholder everywhere; different values get different
    numbers, counted per type. Placeholders already present in the input are never reused.
    """

    def __init__(
        self, *, types: Collection[str] | None = None, min_score: float = DEFAULT_MIN_SCORE
    ) -> None:
        self._types = types
        self._min_score = min_score
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[str] = set()
        self._spellings: dict[str, str] = {}
        self._scanned: dict[str, list[Entity]] = {}

    def _scan(self, text: str) -> list[Entity]:
        """``scan`` once per text of the exchange: ``learn`` and ``pseudonymize`` share it."""
        if text not in self._scanned:
            self._scanned[text] = scan(text, types=self._types, min_score=self._min_score)
        return self._scanned[text]

    def _placeholder(self, entity_type: str, value: str) -> str:
        key = (entity_type, canonical(entity_type, value))
        placeholder = self._by_value.get(key)
        if placeholder is None:
            number = self._counters.get(entity_type, 0)
            while True:
                number += 1
                placeholder = f"[{entity_type}_{number}]"
                if placeholder not in self._taken:
                    break
            self._counters[entity_type] = number
            self._by_value[key] = placeholder
            self._originals[placeholder] = value
        return placeholder

    def learn(self, text: str) -> None:
        """Note the identifiers in ``text`` without replacing them: call it on every text of
        an exchange first, so that a value is replaced wherever it appears, even in a text
        pseudonymized before the one that showed it is an identifier."""
        for entity in self._scan(text):
            self._spellings.setdefault(entity.text, entity.type)

    def pseudonymize(self, text: str) -> str:
        """``text`` with every identifier replaced by its placeholder (also values this
        instance identified in other texts, wherever they appear)."""
        if "[" in text:
            self._taken.update(match.group(0) for match in NUMBERED_PLACEHOLDER.finditer(text))
        entities = self._scan(text)
        for entity in entities:
            self._spellings.setdefault(entity.text, entity.type)
        entities = with_known_spellings(text, entities, self._spellings)
        if not entities:
            return text
        return replace_entities(text, entities, lambda e: self._placeholder(e.type, e.text))

    def restore(self, text: str) -> str:
        """``text`` with every known placeholder replaced by the value it stands for (the first
        spelling met); unknown placeholders (``[CIN_9]`` invented by a model) stay as they are."""
        if "[" not in text or not self._originals:
            return text
        originals = self._originals
        return NUMBERED_PLACEHOLDER.sub(lambda m: originals.get(m.group(0), m.group(0)), text)

    def restorer(self) -> StreamRestorer:
        """A restorer for text that arrives in chunks (a streamed answer)."""
        return StreamRestorer(self)

    @property
    def mapping(self) -> Mapping[str, str]:
        """Placeholder -> original value (read-only view)."""
        return MappingProxyType(self._originals)

    def __len__(self) -> int:
        """The number of distinct values replaced so far."""
        return len(self._originals)


class StreamRestorer:
    """Restores placeholders in streamed text: ``feed`` returns what can be released now and
    holds back only a possible placeholder cut at the end of the chunk (``[CI``, ``[CIN_``,
    ``[CIN_1``); ``finish`` releases the rest. The concatenated output equals
    ``restore(whole text)`` whatever the chunking."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        self._held = ""
        cut = text.rfind("[")
        if cut != -1 and _could_become_placeholder(text[cut:]):
            text, self._held = text[:cut], text[cut:]
        return self._pseudonymizer.restore(text)

    def finish(self) -> str:
        text, self._held = self._held, ""
        return self._pseudonymizer.restore(text)
