"""Text normalization for Darija, Standard Arabic, Tamazight and Latin-script text.

The character rules live in ``data/normalization.json``; this module compiles them once into
``str.translate`` tables. Every function here is pure and idempotent.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from siyada.lang.labels import Label

_WHITESPACE = re.compile(r"[^\S\n]+")
LATIN_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
"""A letter written three times or more (bzzzzaf): Arabizi elongation."""
# No Arabic word repeats a letter three times, so elongations fold whatever the language.
_ARABIC_ELONGATION = re.compile(r"([\u0620-\u064A\u0671-\u06D3])\1{2,}")


def _expand(spec: str) -> list[str]:
    """``"U+0610..U+061A"`` or ``"U+0640"`` to the characters it names."""
    low, _, high = spec.partition("..")
    start = int(low.removeprefix("U+"), 16)
    end = int(high.removeprefix("U+"), 16) if high else start
    return [chr(code) for code in range(start, end + 1)]


@dataclass(frozen=True)
class _Tables:
    base: dict[int, str]
    hamza: dict[int, str]
    ta_marbuta: dict[int, str]


@cache
def character_tables() -> _Tables:
    """The compiled character rules of data/normalization.json."""
    raw = json.loads(resources.files("siyada.lang").joinpath("data/normalization.json").read_text())
    mapping: dict[str, str] = {}
    for section in ("arabic_letters", "digits", "tifinagh_variants", "latin_lookalikes"):
        mapping.update(raw[section])
    for section in ("arabic_deleted", "invisible_deleted"):
        for spec in raw[section]:
            mapping.update(dict.fromkeys(_expand(spec), ""))

    def resolve(text: str) -> str:
        # Apply the letter rules to a compatibility decomposition so that, for example,
        # the presentation form of alef with hamza ends up as a bare alef in one step.
        return "".join(mapping.get(char, char) for char in text)

    base = {ord(char): value for char, value in mapping.items()}
    for spec in raw["compatibility_ranges"]:
        for char in _expand(spec):
            decomposed = unicodedata.normalize("NFKC", char)
            if decomposed != char:
                base[ord(char)] = resolve(decomposed)
    return _Tables(
        base=base,
        hamza={ord(k): v for k, v in raw["arabic_hamza_carriers"].items()},
        ta_marbuta={ord(k): v for k, v in raw["arabic_ta_marbuta"].items()},
    )


def _base(text: str, fold_hamza: bool, fold_ta_marbuta: bool) -> str:
    tables = character_tables()
    result = unicodedata.normalize("NFC", text).translate(tables.base)
    if fold_hamza:
        result = result.translate(tables.hamza)
    if fold_ta_marbuta:
        result = result.translate(tables.ta_marbuta)
    return _ARABIC_ELONGATION.sub(r"\1", _WHITESPACE.sub(" ", result).strip(" "))


def _by_label(text: str, label: Label) -> str:
    if label is Label.ARY_LATN:
        text = LATIN_ELONGATION.sub(r"\1", text.lower())
    return unicodedata.normalize("NFC", text)


def normalize_batch(
    texts: Sequence[str],
    label: Label | str | None = None,
    *,
    fold_hamza: bool = False,
    fold_ta_marbuta: bool = False,
) -> list[str]:
    """:func:`normalize` of many texts; without a label they are identified as one batch."""
    based = [_base(text, fold_hamza, fold_ta_marbuta) for text in texts]
    if label is not None:
        return [_by_label(text, Label(label)) for text in based]
    # Imported here: identification itself builds on this module's character tables.
    from siyada.lang.identify import identify_batch

    labels = [result.label for result in identify_batch(based)]
    return [_by_label(text, found) for text, found in zip(based, labels, strict=True)]


def normalize(
    text: str,
    label: Label | str | None = None,
    *,
    fold_hamza: bool = False,
    fold_ta_marbuta: bool = False,
) -> str:
    """Return the canonical form of ``text``.

    Always: Unicode NFC, presentation and full-width forms decomposed (NFKC) — but not the
    modifier letter ʷ that Tamazight uses for labialization —, alef variants to bare alef,
    alef maqsura to ya, tatweel and Arabic diacritics removed, Arabic-Indic and Persian digits
    to ASCII, Moroccan g (ڭ ݣ) to گ, neo-Tifinagh variants to the IRCAM letters, zero-width and
    bidi control characters removed, runs of spaces collapsed, Arabic letter elongations
    reduced (``بزااااف`` -> ``بزاف``).

    For Darija in Latin letters (``label="ary_Latn"``, or no label and text identified as such):
    lower case and letter elongations reduced (``bzzzzaf`` -> ``bzaf``).

    ``fold_hamza`` also maps ؤ and ئ to و and ي; ``fold_ta_marbuta`` maps ة to ه (search keys).
    """
    return normalize_batch([text], label, fold_hamza=fold_hamza, fold_ta_marbuta=fold_ta_marbuta)[0]
