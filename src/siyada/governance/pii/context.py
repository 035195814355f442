"""Context phrases near a match: whole phrases, word after word, never single words of a phrase.

The words before and after a match are folded (case, accents, Arabic diacritics and letter
variants, the clitics wa-/bi-/li-/fa-/ka- before al-), and every other candidate match or
placeholder (``[CIN]``, ``[PHONE_2]``) counts as one opaque word that matches nothing. Windows
are counted in words and an identifier is one word before masking as after (``[CIN]``), so
masking never moves a phrase into or out of another match's window: masking is idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from siyada.governance.pii.tables import ENTITY_TYPES, context_data

OPAQUE = "\x00"
"""The word standing for another identifier or a placeholder: equal to no phrase word."""

_MARKS = re.compile("[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]+")
_FOLD = str.maketrans(
    {
        "ى": "ي",
        "ة": "ه",
        "ـ": None,
        "ک": "ك",
        "ی": "ي",
        "ٱ": "ا",
        "º": "°",
        "’": "'",
    }
)
_WORD = re.compile(r"[^\W_]+°?|°|\x00")
# wa-/bi-/fa-/ka-/wabi- before al-, and li- + al- written لل: folded to al- (بالبطاقة -> البطاقة).
_AL_CLITIC = re.compile(r"(?<![^\W_])(?:وبال|ولل|وال|بال|فال|كال|لل)(?=[^\W_]{2})")


def words(text: str) -> tuple[str, ...]:
    """The folded words of ``text`` (``OPAQUE`` characters stay words of their own)."""
    return _short_words(text) if len(text) <= 256 else _words(text)


@lru_cache(maxsize=4096)
def _short_words(text: str) -> tuple[str, ...]:
    return _words(text)


def _words(text: str) -> tuple[str, ...]:
    folded = _MARKS.sub("", unicodedata.normalize("NFD", text.casefold())).translate(_FOLD)
    if "ل" in folded:
        folded = _AL_CLITIC.sub("ال", folded)
    return tuple(_WORD.findall(folded))


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """Phrases indexed by their first word."""

    by_first: dict[str, tuple[tuple[str, ...], ...]]

    @classmethod
    def build(cls, phrases: Iterable[str]) -> PhraseSet:
        index: dict[str, set[tuple[str, ...]]] = {}
        for phrase in phrases:
            tokens = tuple(words(phrase))
            if not tokens:
                raise ValueError(f"context phrase without words: {phrase!r}")
            index.setdefault(tokens[0], set()).add(tokens)
        return cls({first: tuple(sorted(found)) for first, found in index.items()})

    def matches(self, tokens: Sequence[str]) -> Iterable[tuple[int, int]]:
        """``(start, end)`` word indexes of every phrase occurrence in ``tokens``."""
        for index, token in enumerate(tokens):
            for phrase in self.by_first.get(token, ()):
                end = index + len(phrase)
                if tuple(tokens[index:end]) == phrase:
                    yield index, end


@dataclass(frozen=True, slots=True)
class ContextTables:
    before: int
    after: int
    positive: dict[str, PhraseSet]
    negative: PhraseSet
    units: PhraseSet
    """Words that make the number just before them a quantity (``125 000 000 DH``)."""

    def distances(
        self, phrases: PhraseSet, before: Sequence[str], after: Sequence[str]
    ) -> int | None:
        """Words between the match and the nearest phrase of ``phrases``; None when none."""
        best: int | None = None
        for _, end in phrases.matches(before):
            distance = len(before) - end
            best = distance if best is None else min(best, distance)
        for start, _ in phrases.matches(after):
            best = start if best is None else min(best, start)
        return best


@cache
def context_tables() -> ContextTables:
    data = context_data()
    if set(data["types"]) != set(ENTITY_TYPES):
        raise ValueError(f"context.json must list phrases for exactly {ENTITY_TYPES}")
    positive = {
        name: PhraseSet.build(phrase for phrases in by_language.values() for phrase in phrases)
        for name, by_language in data["types"].items()
    }
    negative = PhraseSet.build(
        phrase for phrases in data["negative"].values() for phrase in phrases
    )
    return ContextTables(
        before=int(data["window"]["before"]),
        after=int(data["window"]["after"]),
        positive=positive,
        negative=negative,
        units=PhraseSet.build(data["units"]),
    )


class Opaque:
    """Sorted, merged spans of a text that count as one opaque word each."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [span[0] for span in merged]
        self.ends = [span[1] for span in merged]

    def tokens(self, text: str, start: int, end: int) -> tuple[str, ...]:
        """The words of ``text[start:end]``, opaque spans as one ``OPAQUE`` word each."""
        first = bisect_right(self.ends, start)
        last = bisect_left(self.starts, end)
        if first >= last:
            return words(text[start:end])
        pieces: list[str] = []
        cursor = start
        for index in range(first, last):
            if self.starts[index] > cursor:
                pieces.append(text[cursor : self.starts[index]])
            pieces.append(f" {OPAQUE} ")
            cursor = max(cursor, self.ends[index])
        if cursor < end:
            pieces.append(text[cursor:end])
        return words("".join(pieces))

    def before(self, text: str, position: int, count: int) -> tuple[str, ...]:
        """The last ``count`` words before ``position``."""
        width = 16 * (count + 1)
        while True:
            start = max(0, position - width)
            tokens = self.tokens(text, start, position)
            # One word more than needed: the first may be cut by the window's edge.
            if len(tokens) > count or start == 0:
                return tokens[-count:] if count else ()
            width *= 2

    def after(self, text: str, position: int, count: int) -> tuple[str, ...]:
        """The first ``count`` words after ``position``."""
        width = 16 * (count + 1)
        while True:
            end = min(len(text), position + width)
            tokens = self.tokens(text, position, end)
            if len(tokens) > count or end == len(text):
                return tokens[:count]
            width *= 2
