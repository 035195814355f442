"""Reading order of Arabic lines drawn in display order or in reading order."""

from __future__ import annotations

import random
from importlib import resources

import pytest
from bidi.algorithm import get_display

from siyada.lang.direction import to_reading_order, visual_to_logical

LINES = [
    "تجديد البطاقة الوطنية للتعريف الإلكترونية",
    "يجب تقديم طلب عبر الموقع www.cnie.ma قبل 30 يوما",
    "الرسوم: 75 درهما (تدفع إلكترونيا)",
    "بغيت نجدد لاكارط ديالي فالمقاطعة",
]


@pytest.mark.parametrize("line", LINES)
def test_display_order_lines_are_read_right_to_left(line: str) -> None:
    assert to_reading_order(get_display(line, base_dir="R"), right_to_left_context=True) == line


@pytest.mark.parametrize("line", LINES)
def test_lines_already_in_reading_order_are_kept(line: str) -> None:
    assert to_reading_order(line, right_to_left_context=True) == line


def test_latin_lines_and_latin_paragraphs_with_an_arabic_word() -> None:
    assert to_reading_order("Renouvellement de la CNIE : 75 dirhams") == (
        "Renouvellement de la CNIE : 75 dirhams"
    )
    french = "La carte s'appelle البطاقة الوطنية en arabe"
    assert to_reading_order(get_display(french, base_dir="L")) == french
    assert visual_to_logical("abc") == "abc"


def test_random_darija_lines_round_trip() -> None:
    """Lines of 2-6 words from the word list, some with numbers and Latin words, both ways."""
    path = resources.files("siyada.lang").joinpath("data/darija_words.tsv")
    words = [row.split("\t")[0] for row in path.read_text(encoding="utf-8").splitlines()[1:6000]]
    rng = random.Random(11)
    misread = 0
    trials = 400
    for _ in range(trials):
        parts = [rng.choice(words) for _ in range(rng.randint(2, 6))]
        if rng.random() < 0.3:
            parts.append(str(rng.randint(1, 2030)))
        if rng.random() < 0.2:
            parts.insert(rng.randint(0, len(parts)), rng.choice(["CNIE", "www.cnie.ma", "Rabat"]))
        line = " ".join(parts)
        for drawn in (get_display(line, base_dir="R"), line):
            misread += to_reading_order(drawn, right_to_left_context=True) != line
    # Two-word lines can be ambiguous (لما / امل): a small share may be misread.
    assert misread / (2 * trials) < 0.02
