from __future__ import annotations

import itertools

from siyada.lang import Label, identify_spans


def _labels(text: str) -> list[tuple[str, Label]]:
    return [(span.text, span.label) for span in identify_spans(text)]


def test_arabizi_with_french_span() -> None:
    text = "wach 3ndek rendez-vous f l'hôpital ghda?"
    spans = identify_spans(text)
    assert spans[0].label is Label.ARY_LATN
    assert spans[0].text.startswith("wach 3ndek")
    french = [span for span in spans if span.label is Label.FRA_LATN]
    assert french and "rendez-vous" in french[0].text
    assert spans[-1].label is Label.ARY_LATN and spans[-1].text.endswith("ghda?")


def test_arabic_script_darija_with_french_in_latin_letters() -> None:
    spans = _labels("واش عندك rendez-vous مع الطبيب غدا؟")
    assert spans[0] == ("واش عندك", Label.ARY_ARAB)
    assert spans[1] == ("rendez-vous", Label.FRA_LATN)
    assert spans[2][1] is Label.ARY_ARAB


def test_spans_cover_the_words_in_order_with_offsets() -> None:
    text = "  salam, bonjour tout le monde ⴰⵣⵓⵍ  "
    spans = identify_spans(text)
    assert spans[0].start == 2 and spans[-1].end == len(text.rstrip())
    for span in spans:
        assert text[span.start : span.end] == span.text
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert spans[-1].label is Label.ZGH_TFNG


def test_no_words_no_spans_and_symbols_only_is_und() -> None:
    assert identify_spans("") == []
    assert [s.label for s in identify_spans("123 !!")] == [Label.UND]


def test_long_text_is_segmented_window_by_window() -> None:
    text = "wach 3ndek lwe9t " * 2000 + "merci beaucoup pour tout"
    spans = identify_spans(text)
    assert spans[0].label is Label.ARY_LATN
    assert spans[-1].label is Label.FRA_LATN
    assert "".join(text[s.start : s.end] for s in spans).replace(" ", "") == text.replace(" ", "")


def test_monolingual_sentences_stay_one_span() -> None:
    for text, label in [
        ("Le dossier doit être déposé à la commune avant la fin du mois.", Label.FRA_LATN),
        ("Please bring your national ID card to the appointment.", Label.ENG_LATN),
        ("¿Dónde está la oficina de correos más cercana?", Label.SPA_LATN),
        ("had chi ma 3jbnich bzaf a sahbi", Label.ARY_LATN),
        ("هل يمكنك مساعدتي في ملء هذه الاستمارة؟", Label.ARB_ARAB),
        # Acronyms carry no language of their own: they stay in the span around them.
        ("3afak fin n9der njded CIN dyali", Label.ARY_LATN),
        ("بغيت نجدد CIN ديالي", Label.ARY_ARAB),
    ]:
        assert _labels(text) == [(text, label)]
