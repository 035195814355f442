from __future__ import annotations

import random

import pytest

from siyada.eval.lid_data import word_windows
from siyada.eval.metrics import (
    character_error_rate,
    darija_vs_standard_arabic_f1,
    edit_distance,
    f1_per_label,
    macro_f1,
    recall_at_k,
    reciprocal_rank,
)


def test_f1_per_label_and_macro() -> None:
    gold = ["a", "a", "b", "b"]
    predicted = ["a", "b", "b", "b"]
    scores = f1_per_label(gold, predicted, ["a", "b"])
    assert scores["a"] == pytest.approx(2 / 3)
    assert scores["b"] == pytest.approx(0.8)
    assert macro_f1(gold, predicted) == pytest.approx((2 / 3 + 0.8) / 2)


def test_darija_vs_standard_arabic_ignores_other_labels() -> None:
    gold = ["ary_Arab", "arb_Arab", "fra_Latn"]
    predicted = ["ary_Arab", "ary_Arab", "ary_Arab"]
    assert darija_vs_standard_arabic_f1(gold, predicted) == pytest.approx(2 / 3)


def test_edit_distance_and_cer() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert character_error_rate([("بزاف", "بزاف"), ("بزف", "بزاف")]) == pytest.approx(1 / 8)


def test_word_windows_are_runs_of_the_line() -> None:
    line = "one two three four five six seven eight nine ten"
    for window in word_windows(line, random.Random(1), 50):
        assert 1 <= len(window.split()) <= 8
        assert window in line
    assert word_windows("single", random.Random(1), 3) == []


def test_recall_and_reciprocal_rank() -> None:
    ranked = ["a.md", "b.md", "c.md", "a.md"]
    assert recall_at_k(ranked, {"c.md"}, 3) == 1.0
    assert recall_at_k(ranked, {"c.md"}, 2) == 0.0
    assert reciprocal_rank(ranked, {"b.md", "c.md"}, 10) == 0.5
    assert reciprocal_rank(ranked, {"z.md"}, 10) == 0.0
    assert reciprocal_rank(ranked, {"c.md"}, 2) == 0.0
