"""Tamazight between Tifinagh (IRCAM), Latin and Arabic script."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from siyada.lang.translit.engine import CharMap, load_table, table_map

_ZWNJ = "\u200c"


TIFINAGH = re.compile(r"[\u2D30-\u2D7F]")
"""Any Tifinagh character (the Unicode Tifinagh block)."""


@cache
def _tifinagh_to_latin() -> tuple[CharMap, re.Pattern[str]]:
    table = load_table("tifinagh_latin")
    pairs = table["separate"]["pairs"]
    separate = re.compile("|".join(f"(?<={re.escape(p[0])}){re.escape(p[1])}" for p in pairs))
    return CharMap(table["map"]), separate


@cache
def _digits_in_words() -> tuple[re.Pattern[str], dict[str, str]]:
    digits: dict[str, str] = load_table("latin_tifinagh")["digits_in_words"]
    keys = "".join(digits)
    return re.compile(rf"(?<=[^\W\d_])[{keys}]|[{keys}](?=[^\W\d_])"), digits


def tifinagh_to_latin(text: str) -> str:
    """IRCAM Tifinagh to IRCAM Latin (``ⵜⴰⵎⴰⵣⵉⵖⵜ`` -> ``tamaziɣt``, ``ⴰⴳⵯⵎⴰⵔ`` -> ``agʷmar``)."""
    charmap, separate = _tifinagh_to_latin()
    return charmap.apply(
        separate.sub(lambda m: _ZWNJ + m.group(), unicodedata.normalize("NFC", text))
    )


def in_latin_letters(text: str) -> str:
    """``text`` with its Tifinagh rewritten in Latin letters (for embedding models and LLMs,
    whose vocabularies have no Tifinagh); text without Tifinagh is returned as it is."""
    return tifinagh_to_latin(text) if TIFINAGH.search(text) else text


def latin_to_tifinagh(text: str) -> str:
    """Latin Tamazight, IRCAM or informal (``gh``, ``kh``, ``ch``, ``3``), to IRCAM Tifinagh."""
    pattern, digits = _digits_in_words()
    lowered = unicodedata.normalize("NFC", text).lower()
    return table_map("latin_tifinagh").apply(pattern.sub(lambda m: digits[m.group()], lowered))


def tifinagh_to_arabic(text: str) -> str:
    """Tifinagh to Arabic script following ``tables/tifinagh_arabic.json`` (documented there)."""
    return table_map("tifinagh_arabic").apply(unicodedata.normalize("NFC", text))
