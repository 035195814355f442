from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyada.lang import Label, normalize


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("أحمد إلى آخر ٱلكتاب", Label.ARB_ARAB, "احمد الي اخر الكتاب"),
        ("على مستوى", Label.ARB_ARAB, "علي مستوي"),
        ("مُحَمَّد", Label.ARB_ARAB, "محمد"),
        ("الـــمـغـرب", Label.ARB_ARAB, "المغرب"),
        ("٢٠٢٦ ۱۴", Label.ARB_ARAB, "2026 14"),
        ("\ufefb \ufe8d\ufedf\ufee4\ufed0\ufeae\ufe8f", Label.ARB_ARAB, "لا المغرب"),
        ("بزااااف", Label.ARY_ARAB, "بزاف"),
        ("BZZZZAF", Label.ARY_LATN, "bzaf"),
        ("bzzzzaaaf   mzyaaan", Label.ARY_LATN, "bzaf mzyan"),
        ("bezzaf", Label.ARY_LATN, "bezzaf"),
        ("ⴵⵓⵍⵗ", Label.ZGH_TFNG, "ⵊⵓⵍⵖ"),
        ("aγrum ameqqran", Label.BER_LATN, "aɣrum ameqqran"),
        ("agʷmar", Label.BER_LATN, "agʷmar"),
        ("e\u0301te\u0301", Label.FRA_LATN, "été"),
        ("Bonjour\u200b\u202e tout le monde", Label.FRA_LATN, "Bonjour tout le monde"),
        ("ｆｉｌｅ ﬁnal", Label.ENG_LATN, "file final"),
    ],
)
def test_normalize_examples(text: str, label: Label, expected: str) -> None:
    assert normalize(text, label) == expected


def test_options_fold_ta_marbuta_and_hamza() -> None:
    assert normalize("مدرسة", Label.ARB_ARAB) == "مدرسة"
    assert normalize("مدرسة", Label.ARB_ARAB, fold_ta_marbuta=True) == "مدرسه"
    assert normalize("مسؤول قائد", Label.ARB_ARAB, fold_hamza=True) == "مسوول قايد"


def test_french_keeps_case_and_numbers() -> None:
    assert normalize("Le Maroc en 2000", Label.FRA_LATN) == "Le Maroc en 2000"


def test_unlabelled_text_is_identified_first() -> None:
    assert normalize("Wach nta MZYAAAN") == "wach nta mzyan"


moroccan_text = st.text(
    alphabet=st.sampled_from(
        list("abcdeghiklmnorstuwyz23579 ABZ'-?.,éô")
        + list("ابتثجحخدذرزسشصضطظعغفقكلمنهويةىأإآءؤئـًٌٍَُِّْ٠١٢۴گڭ")
        + list("ⴰⴱⴳⴷⴹⴻⴼⴽⵀⵃⵄⵅⵇⵉⵊⵍⵎⵏⵓⵔⵕⵖⵙⵚⵛⵜⵟⵡⵢⵣⵥⵯⴵⵗ")
        + ["\ufefb", "\u200b", "\t", "\n", "ʷ", "ɣ", "γ", "ﬁ"]
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(moroccan_text, st.sampled_from([None, *Label]), st.booleans(), st.booleans())
def test_normalize_is_idempotent(
    text: str, label: Label | None, fold_hamza: bool, fold_ta: bool
) -> None:
    once = normalize(text, label, fold_hamza=fold_hamza, fold_ta_marbuta=fold_ta)
    assert normalize(once, label, fold_hamza=fold_hamza, fold_ta_marbuta=fold_ta) == once


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_normalize_is_idempotent_on_any_unicode(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_whitespace_control_characters_separate_words() -> None:
    assert normalize("salam\rsahbi\x0bkhoya\x85labas", Label.ARY_LATN) == "salam sahbi khoya labas"
    assert normalize("a\x00b\u200bc", Label.FRA_LATN) == "abc"
