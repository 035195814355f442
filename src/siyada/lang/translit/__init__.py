"""Transliteration between the scripts Moroccan languages are written in.

Supported pairs (``source -> target``):

- ``ary_Latn -> ary_Arab`` and back: Darija in Arabizi and in Arabic script;
- ``ber_Latn -> zgh_Tfng`` and back: Tamazight in Latin letters and in IRCAM Tifinagh;
- ``zgh_Tfng -> zgh_Arab`` and ``ber_Latn -> zgh_Arab``: Tamazight in Arabic script
  (``zgh_Arab`` is an output-only code; the convention is documented in
  ``tables/tifinagh_arabic.json``).
"""

from __future__ import annotations

from collections.abc import Callable

from siyada.lang.labels import Label
from siyada.lang.translit.arabizi import arabic_to_arabizi, arabizi_to_arabic
from siyada.lang.translit.tifinagh import latin_to_tifinagh, tifinagh_to_arabic, tifinagh_to_latin

TAMAZIGHT_ARABIC = "zgh_Arab"


def _latin_to_tamazight_arabic(text: str) -> str:
    return tifinagh_to_arabic(latin_to_tifinagh(text))


CONVERTERS: dict[tuple[str, str], Callable[[str], str]] = {
    (Label.ARY_LATN.value, Label.ARY_ARAB.value): arabizi_to_arabic,
    (Label.ARY_ARAB.value, Label.ARY_LATN.value): arabic_to_arabizi,
    (Label.BER_LATN.value, Label.ZGH_TFNG.value): latin_to_tifinagh,
    (Label.ZGH_TFNG.value, Label.BER_LATN.value): tifinagh_to_latin,
    (Label.ZGH_TFNG.value, TAMAZIGHT_ARABIC): tifinagh_to_arabic,
    (Label.BER_LATN.value, TAMAZIGHT_ARABIC): _latin_to_tamazight_arabic,
}


def supported_pairs() -> list[str]:
    return [f"{source} -> {target}" for source, target in CONVERTERS]


def transliterate(text: str, source: Label | str, target: Label | str) -> str:
    """``text`` written in ``source`` rewritten in ``target``'s script.

    Raises ``ValueError`` naming the supported pairs when the pair is not one of them.
    """
    source_name, target_name = str(source), str(target)
    converter = CONVERTERS.get((source_name, target_name))
    if converter is None:
        raise ValueError(
            f"cannot transliterate {source_name} -> {target_name}; supported: "
            + ", ".join(supported_pairs())
        )
    return converter(text)


__all__ = ["TAMAZIGHT_ARABIC", "supported_pairs", "transliterate"]
