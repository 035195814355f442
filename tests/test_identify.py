from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyada.lang import LANGUAGE_LABELS, Label, Script, identify, identify_batch
from siyada.lang.features import MAX_CHARS, feature_key, featurize_keys


def test_every_label_is_recognized_on_hand_written_examples(
    lid_examples: list[tuple[str, str]],
) -> None:
    predicted = [result.label.value for result in identify_batch([t for _, t in lid_examples])]
    gold = [label for label, _ in lid_examples]
    wrong = [
        (g, p, t) for g, p, (_, t) in zip(gold, predicted, lid_examples, strict=True) if g != p
    ]
    accuracy = 1 - len(wrong) / len(gold)
    assert accuracy >= 0.9, wrong
    assert {label.value for label in LANGUAGE_LABELS} <= set(predicted)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("wach 3ndek lwe9t ghda?", Label.ARY_LATN),
        ("واش عندك الوقت غدا؟", Label.ARY_ARAB),
        ("هل لديك وقت غدا؟", Label.ARB_ARAB),
        ("ⵜⴰⵎⴰⵣⵉⵖⵜ", Label.ZGH_TFNG),
        ("Est-ce que tu as le temps demain ?", Label.FRA_LATN),
    ],
)
def test_identify_returns_label_script_and_scores(text: str, label: Label) -> None:
    result = identify(text)
    assert result.label is label
    assert result.script is label.script
    assert 0.0 < result.confidence <= 1.0
    assert result.confidence == pytest.approx(max(result.scores.values()))
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-6)
    # Only labels written in the text's script get probability.
    assert all(p == 0.0 for lab, p in result.scores.items() if lab.script is not label.script)


@pytest.mark.parametrize(
    "text", ["", "   ", "2026-11-22 14:05", "🙂🙂🎉", "!!!???", "\x00\x07\x1b", "a"]
)
def test_no_evidence_is_und(text: str) -> None:
    result = identify(text)
    assert result.label is Label.UND
    assert result.script is Script.COMMON


def test_batch_matches_single_calls(lid_examples: list[tuple[str, str]]) -> None:
    texts = [text for _, text in lid_examples]
    batch = identify_batch(texts)
    singles = [identify(text) for text in texts]
    assert [r.label for r in batch] == [r.label for r in singles]
    for a, b in zip(batch, singles, strict=True):
        assert a.confidence == pytest.approx(b.confidence, rel=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=6), st.integers(0, 5))
def test_features_do_not_depend_on_batch_neighbours(texts: list[str], pick: int) -> None:
    keys = [feature_key(text) for text in texts]
    index = pick % len(keys)
    together = featurize_keys(keys)
    alone = featurize_keys([keys[index]])
    assert sorted(together.buckets[together.rows == index]) == sorted(alone.buckets)
    assert (together.letters[index] == alone.letters[0]).all()


def test_huge_input_is_identified_from_its_beginning() -> None:
    line = "wach 3ndek lwe9t " * 700_000 + "bonjour " * 700_000  # about 18 MB
    assert identify(line).label is Label.ARY_LATN
    assert len(feature_key(line)) == pytest.approx(MAX_CHARS, abs=20)


def test_batches_are_cut_by_characters_as_well_as_texts() -> None:
    long_texts = ["kifach njded lbita9a lwatania " * 100] * 500 + ["Bonjour à tous"]
    results = identify_batch(long_texts)
    assert len(results) == 501
    assert results[0].label is Label.ARY_LATN and results[-1].label is Label.FRA_LATN
