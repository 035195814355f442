"""Which writing system each character belongs to (Unicode blocks, no I/O)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

from siyada.lang.labels import Script

_ARABIC_RANGES = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)
_TIFINAGH_RANGE = (0x2D30, 0x2D7F)
# Kabyle and Tamazight writers use Greek epsilon and gamma for ɛ and ɣ.
_LATIN_LOOKALIKES = frozenset("εγΕΓ")


@lru_cache(maxsize=4096)
def char_script(char: str) -> Script | None:
    """Script of one letter, or ``None`` when ``char`` is not a letter of a known script."""
    code = ord(char)
    if _TIFINAGH_RANGE[0] <= code <= _TIFINAGH_RANGE[1]:
        return Script.TIFINAGH
    category = unicodedata.category(char)
    if not category.startswith("L") and category != "Mn" and category != "Lm":
        return None
    if any(low <= code <= high for low, high in _ARABIC_RANGES):
        return Script.ARABIC if category.startswith("L") else None
    if (
        char in _LATIN_LOOKALIKES
        or (category.startswith("L") and code < 0x0250)
        or (0x1E00 <= code <= 0x1EFF)
    ):
        return Script.LATIN
    if category == "Lm" and code in (0x02B7, 0x02BF):  # ʷ labialization, ʿ ayn
        return Script.LATIN
    return None


def script_counts(text: str) -> Counter[Script]:
    """Number of letters of each known script in ``text``."""
    counts: Counter[Script] = Counter()
    for char in text:
        script = char_script(char)
        if script is not None:
            counts[script] += 1
    return counts


def dominant_script(text: str) -> Script:
    """The script most letters of ``text`` are written in (``Zyyy`` when there are none)."""
    counts = script_counts(text)
    if not counts:
        return Script.COMMON
    return counts.most_common(1)[0][0]
