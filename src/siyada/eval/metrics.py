"""Quality metrics shared by the benchmarks and the training scripts' model cards."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def f1_per_label(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> dict[str, float]:
    """F1 of each label, treating every other label as negative."""
    scores = {}
    pairs = list(zip(gold, predicted, strict=True))
    for label in labels:
        tp = sum(g == label and p == label for g, p in pairs)
        fp = sum(g != label and p == label for g, p in pairs)
        fn = sum(g == label and p != label for g, p in pairs)
        scores[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return scores


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the labels that occur in ``gold``."""
    present = sorted(set(gold))
    if not present:
        return 0.0
    scores = f1_per_label(gold, predicted, present)
    return sum(scores.values()) / len(present)


def darija_vs_standard_arabic_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """F1 of ``ary_Arab`` on the items whose gold label is ``ary_Arab`` or ``arb_Arab``."""
    pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g in ("ary_Arab", "arb_Arab")]
    scores = f1_per_label([g for g, _ in pairs], [p for _, p in pairs], ["ary_Arab"])
    return scores["ary_Arab"]


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def character_error_rate(pairs: Sequence[tuple[str, str]]) -> float:
    """Edit distance over reference length, summed over ``(hypothesis, reference)`` pairs."""
    errors = sum(edit_distance(hypothesis, reference) for hypothesis, reference in pairs)
    return errors / max(1, sum(len(reference) for _, reference in pairs))


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when one of the first ``k`` ranked items is relevant (one relevant item expected)."""
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 / rank of the first relevant item within the first ``k``, else 0."""
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0
