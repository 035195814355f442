"""Language labels and the writing system each one implies."""

from __future__ import annotations

from enum import StrEnum


class Script(StrEnum):
    """ISO 15924 script codes Siyada distinguishes."""

    ARABIC = "Arab"
    LATIN = "Latn"
    TIFINAGH = "Tfng"
    COMMON = "Zyyy"  # digits, punctuation, symbols: no letters to tell a script by


class Label(StrEnum):
    ARY_ARAB = "ary_Arab"
    ARY_LATN = "ary_Latn"
    ARB_ARAB = "arb_Arab"
    ZGH_TFNG = "zgh_Tfng"
    BER_LATN = "ber_Latn"
    FRA_LATN = "fra_Latn"
    ENG_LATN = "eng_Latn"
    SPA_LATN = "spa_Latn"
    UND = "und"

    @property
    def script(self) -> Script:
        if self is Label.UND:
            return Script.COMMON
        return Script(self.value.split("_", 1)[1])


LANGUAGE_LABELS: tuple[Label, ...] = tuple(label for label in Label if label is not Label.UND)
"""The eight labels the identifier chooses between (``und`` is decided by rule)."""


def parse_label(value: str) -> Label:
    """Return the label named ``value`` or raise ``ValueError`` listing the valid names."""
    try:
        return Label(value)
    except ValueError:
        valid = ", ".join(label.value for label in Label)
        raise ValueError(f"unknown language label {value!r}; expected one of: {valid}") from None
