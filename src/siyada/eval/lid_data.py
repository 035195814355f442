"""The language-ID training pack split into train and dev, identically for training and benchmarks.

Reads ``<data>/lid/train/<label>.txt`` (the shared training pack) and the hand-written Moroccan
supplement in ``scripts/lid_supplement/`` and ``scripts/lid_supplement/more/``. The split is
deterministic (seeded), so the benchmark scores exactly the lines the model never saw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from siyada.lang.labels import LANGUAGE_LABELS, Label

DEV_FRACTION = 0.1
SUPPLEMENT_DEV_FRACTION = 0.2
SEED = 2026


@dataclass
class LidSplit:
    train: dict[Label, list[str]] = field(default_factory=dict)
    dev: dict[Label, list[str]] = field(default_factory=dict)
    supplement_train: dict[Label, list[str]] = field(default_factory=dict)
    supplement_dev: dict[Label, list[str]] = field(default_factory=dict)


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _split(lines: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    shuffled = sorted(set(lines))
    random.Random(seed).shuffle(shuffled)
    cut = max(1, round(len(shuffled) * fraction)) if shuffled else 0
    return shuffled[cut:], shuffled[:cut]


def load_lid_split(data_dir: Path, supplement_dir: Path | None = None) -> LidSplit:
    """Train/dev split of the shared pack and of the hand-written supplement."""
    split = LidSplit()
    train_dir = data_dir / "lid" / "train"
    if not train_dir.is_dir():
        raise FileNotFoundError(
            f"{train_dir} not found: pass the shared data directory (../shared/data)"
        )
    for label in LANGUAGE_LABELS:
        lines = _read_lines(train_dir / f"{label.value}.txt")
        split.train[label], split.dev[label] = _split(lines, DEV_FRACTION, SEED)
        if supplement_dir is not None:
            # The hand-written lines of a first and a second author (more/), split together.
            extra = _read_lines(supplement_dir / f"{label.value}.txt") + _read_lines(
                supplement_dir / "more" / f"{label.value}.txt"
            )
            split.supplement_train[label], split.supplement_dev[label] = _split(
                extra, SUPPLEMENT_DEV_FRACTION, SEED
            )
    return split


def word_windows(line: str, rng: random.Random, count: int, max_words: int = 8) -> list[str]:
    """``count`` random runs of 1..max_words consecutive words of ``line``."""
    words = line.split()
    if len(words) < 2:
        return []
    windows = []
    for _ in range(count):
        size = rng.randint(1, min(max_words, len(words) - 1))
        start = rng.randint(0, len(words) - size)
        windows.append(" ".join(words[start : start + size]))
    return windows


LabelledTexts = tuple[list[str], list[str]]
"""Parallel lists: gold label names and texts."""


def _select(source: dict[Label, list[str]], min_words: int, max_words: int) -> LabelledTexts:
    gold: list[str] = []
    texts: list[str] = []
    for label, lines in source.items():
        for line in lines:
            if min_words <= len(line.split()) <= max_words:
                gold.append(label.value)
                texts.append(line)
    return gold, texts


def dev_sets(split: LidSplit) -> dict[str, LabelledTexts]:
    """The evaluation sets reported in the model card and by benchmarks/lang.py.

    Whole dev lines of 3+ words; random 1-8 word windows of dev lines (short texts, and the same
    length for Darija and Standard Arabic, whose training lines differ in length); and the
    held-out part of the hand-written Moroccan supplement.
    """
    rng = random.Random(7)
    windows = {
        label: [w for line in lines for w in word_windows(line, rng, 1)]
        for label, lines in split.dev.items()
    }
    sets = {
        "dev lines, 3+ words": _select(split.dev, 3, 10**6),
        "dev windows, 3-8 words": _select(windows, 3, 8),
        "dev windows, 1-2 words": _select(windows, 1, 2),
        "hand-written dev, 3+ words": _select(split.supplement_dev, 3, 10**6),
        "hand-written dev, 1-2 words": _select(split.supplement_dev, 1, 2),
    }
    return {name: labelled for name, labelled in sets.items() if labelled[1]}
