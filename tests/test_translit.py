from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyada.lang import Label, transliterate
from siyada.lang.translit import TAMAZIGHT_ARABIC, supported_pairs

IRCAM_LETTERS = "ⴰⴱⴳⴷⴹⴻⴼⴽⵀⵃⵄⵅⵇⵉⵊⵍⵎⵏⵓⵔⵕⵖⵙⵚⵛⵜⵟⵡⵢⵣⵥ"
LABIALIZABLE = "ⴳⴽⵅⵇⵖ"

ircam_word = st.lists(
    st.one_of(
        st.sampled_from(list(IRCAM_LETTERS)),
        st.sampled_from([c + "ⵯ" for c in LABIALIZABLE]),
    ),
    min_size=1,
    max_size=12,
).map("".join)
ircam_text = st.lists(ircam_word, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(ircam_text)
def test_tifinagh_latin_round_trip_is_identity(text: str) -> None:
    latin = transliterate(text, Label.ZGH_TFNG, Label.BER_LATN)
    assert transliterate(latin, Label.BER_LATN, Label.ZGH_TFNG) == text


IRCAM_LATIN = "abgdḍefkhḥɛxqijlmnurṛɣsṣctṭwyzẓ"
# In Latin, gh kh ch sh are read as the informal spellings of ɣ x c: IRCAM Latin never needs
# them, since it writes those sounds with single letters.
ircam_latin_word = (
    st.lists(st.sampled_from([*IRCAM_LATIN, "gʷ", "kʷ"]), min_size=1, max_size=12)
    .map("".join)
    .filter(lambda w: not any(pair in w for pair in ("gh", "kh", "ch", "sh")))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ircam_latin_word, min_size=1, max_size=6).map(" ".join))
def test_ircam_latin_round_trip_is_identity(text: str) -> None:
    tifinagh = transliterate(text, Label.BER_LATN, Label.ZGH_TFNG)
    assert transliterate(tifinagh, Label.ZGH_TFNG, Label.BER_LATN) == text


@pytest.mark.parametrize(
    ("latin", "tifinagh"),
    [
        ("tamaziɣt", "ⵜⴰⵎⴰⵣⵉⵖⵜ"),
        ("Tamaziɣt", "ⵜⴰⵎⴰⵣⵉⵖⵜ"),
        ("agʷmar", "ⴰⴳⵯⵎⴰⵔ"),
        ("aḍar", "ⴰⴹⴰⵔ"),
        ("taṣḍt ẓṛ", "ⵜⴰⵚⴹⵜ ⵥⵕ"),
        ("ɛli", "ⵄⵍⵉ"),
        ("aghrum", "ⴰⵖⵔⵓⵎ"),
        ("tamazight", "ⵜⴰⵎⴰⵣⵉⵖⵜ"),
        ("ta3rabt", "ⵜⴰⵄⵔⴰⴱⵜ"),
        ("aγrum", "ⴰⵖⵔⵓⵎ"),
        ("azul, 2026!", "ⴰⵣⵓⵍ, 2026!"),
    ],
)
def test_latin_to_tifinagh(latin: str, tifinagh: str) -> None:
    assert transliterate(latin, Label.BER_LATN, Label.ZGH_TFNG) == tifinagh


def test_tifinagh_to_latin_uses_ircam_letters() -> None:
    assert transliterate("ⵜⴰⵎⴰⵣⵉⵖⵜ ⴰⴳⵯⵎⴰⵔ", Label.ZGH_TFNG, Label.BER_LATN) == "tamaziɣt agʷmar"


def test_tifinagh_to_arabic_convention() -> None:
    assert transliterate("ⵜⴰⵎⴰⵣⵉⵖⵜ", Label.ZGH_TFNG, TAMAZIGHT_ARABIC) == "تامازيغت"
    assert transliterate("ⴰⵣⵓⵍ ⵉⵎⵉ", Label.ZGH_TFNG, TAMAZIGHT_ARABIC) == "أزول إيمي"
    assert transliterate("ⴰⴳⵯⵎⴰⵔ", Label.ZGH_TFNG, TAMAZIGHT_ARABIC) == "أگُمار"
    assert transliterate("aɣrum", Label.BER_LATN, TAMAZIGHT_ARABIC) == "أغروم"


@pytest.mark.parametrize(
    ("arabizi", "arabic"),
    [
        ("wach", "واش"),
        ("bzaf", "بزاف"),
        ("bezzaf", "بزاف"),
        ("bzzzzaf", "بزاف"),
        ("3afak", "عافاك"),
        ("kifach njded lbita9a lwatania", "كيفاش نجدد البطاقة الوطنية"),
        ("wach 3ndek lwe9t?", "واش عندك الوقت؟"),
    ],
)
def test_arabizi_to_arabic(arabizi: str, arabic: str) -> None:
    assert transliterate(arabizi, Label.ARY_LATN, Label.ARY_ARAB) == arabic


def test_arabizi_digits_and_x_stand_for_letters() -> None:
    assert transliterate("7ta 9alb 5ir 3la", Label.ARY_LATN, Label.ARY_ARAB) == "حتى قلب خير على"
    assert transliterate("xhal", Label.ARY_LATN, Label.ARY_ARAB) == "شحال"


def test_french_words_and_numbers_stay_as_they_are() -> None:
    converted = transliterate(
        "wach 3ndek rendez-vous f l'hôpital 2026", Label.ARY_LATN, Label.ARY_ARAB
    )
    assert converted == "واش عندك rendez-vous في l'hôpital 2026"
    assert transliterate("3 x 4 = 12", Label.ARY_LATN, Label.ARY_ARAB) == "3 x 4 = 12"


def test_arabic_to_arabizi() -> None:
    assert transliterate("واش عندك الوقت؟", Label.ARY_ARAB, Label.ARY_LATN) == "wach 3ndek lw9t?"
    assert transliterate("بزاف", Label.ARY_ARAB, Label.ARY_LATN) == "bzaf"
    assert transliterate("الدار", Label.ARY_ARAB, Label.ARY_LATN) == "ddar"
    assert transliterate("عافاك", Label.ARY_ARAB, Label.ARY_LATN) == "3afak"


def test_unsupported_pair_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match="supported: ary_Latn -> ary_Arab"):
        transliterate("x", Label.FRA_LATN, Label.ARY_ARAB)
    assert "zgh_Tfng -> ber_Latn" in supported_pairs()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_transliterates_without_error(text: str) -> None:
    for source, target in [
        (Label.ARY_LATN, Label.ARY_ARAB),
        (Label.ARY_ARAB, Label.ARY_LATN),
        (Label.BER_LATN, Label.ZGH_TFNG),
        (Label.ZGH_TFNG, Label.BER_LATN),
    ]:
        assert isinstance(transliterate(text, source, target), str)
