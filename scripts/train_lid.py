"""Rebuild the shipped language-ID model ``src/siyada/lang/data/lid.npz`` and its card.

    python scripts/train_lid.py --data ../shared/data

Needs the ``train`` extra (scikit-learn, scipy). Deterministic for a given data pack.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from siyada.eval.lid_data import LidSplit, dev_sets, load_lid_split, word_windows
from siyada.eval.metrics import darija_vs_standard_arabic_f1, f1_per_label, macro_f1
from siyada.lang.features import BUCKET_BITS, feature_key, featurize_keys
from siyada.lang.identify import LanguageIdentifier
from siyada.lang.labels import LANGUAGE_LABELS, Label
from siyada.lang.translit import transliterate

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "siyada" / "lang" / "data"
SUPPLEMENT = REPO / "scripts" / "lid_supplement"
WINDOWS_PER_LINE = 2
SUPPLEMENT_REPEATS = 4
SYNTHETIC_ARABIZI_LINES = 3000
EXTRA_BERBER_LATIN_LINES = 1500


def synthetic_arabizi(lines: list[str], rng: random.Random) -> list[str]:
    """Romanize Arabic-script Darija with Siyada's own rules: Arabizi-like training text."""
    chosen = rng.sample(lines, min(SYNTHETIC_ARABIZI_LINES, len(lines)))
    out = []
    for line in chosen:
        words = line.split()
        size = rng.randint(2, min(12, max(2, len(words))))
        start = rng.randint(0, max(0, len(words) - size))
        window = " ".join(words[start : start + size])
        out.append(transliterate(window, Label.ARY_ARAB, Label.ARY_LATN))
    return out


def training_samples(
    split: LidSplit, data_dir: Path, rng: random.Random
) -> tuple[list[str], list[Label], Counter[str]]:
    texts: list[str] = []
    labels: list[Label] = []
    provenance: Counter[str] = Counter()

    def add(items: list[str], label: Label, source: str) -> None:
        texts.extend(items)
        labels.extend([label] * len(items))
        provenance[f"{label.value} {source}"] += len(items)

    for label in LANGUAGE_LABELS:
        lines = split.train[label]
        add(lines, label, "lines")
        windows = [w for line in lines for w in word_windows(line, rng, WINDOWS_PER_LINE)]
        add(windows, label, "word windows")
        supplement = split.supplement_train.get(label, [])
        add(supplement * SUPPLEMENT_REPEATS, label, "hand-written (x4)")
    add(synthetic_arabizi(split.train[Label.ARY_ARAB], rng), Label.ARY_LATN, "synthetic romanized")
    taq_path = data_dir / "lid" / "extra" / "taq_Latn.txt"
    if taq_path.exists():
        taq = taq_path.read_text(encoding="utf-8").splitlines()
        add(rng.sample(taq, min(EXTRA_BERBER_LATIN_LINES, len(taq))), Label.BER_LATN, "Tamasheq")
    return texts, labels, provenance


def design_matrix(texts: list[str]) -> sparse.csr_matrix:
    features = featurize_keys([feature_key(t) for t in texts], BUCKET_BITS)
    scale = 1.0 / np.sqrt(np.maximum(features.lengths(), 1))
    matrix = sparse.csr_matrix(
        (scale[features.rows], (features.rows, features.buckets)),
        shape=(len(texts), 1 << BUCKET_BITS),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    return matrix


def dev_report(identifier: LanguageIdentifier, split: LidSplit) -> dict[str, object]:
    report: dict[str, object] = {}
    for name, (gold, texts) in dev_sets(split).items():
        predicted = [r.label.value for r in identifier.identify_batch(texts)]
        per_label = f1_per_label(gold, predicted, sorted(set(gold)))
        report[name] = {
            "n": len(texts),
            "macro_f1": round(macro_f1(gold, predicted), 4),
            "ary_Arab_vs_arb_Arab_f1": round(darija_vs_standard_arabic_f1(gold, predicted), 4),
            **{label: round(score, 4) for label, score in per_label.items()},
        }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--c", type=float, default=20.0, help="inverse regularization strength")
    args = parser.parse_args()

    rng = random.Random(13)
    split = load_lid_split(args.data, SUPPLEMENT)
    texts, labels, provenance = training_samples(split, args.data, rng)
    print(f"training on {len(texts)} samples", file=sys.stderr)
    matrix = design_matrix(texts)
    model = LogisticRegression(C=args.c, max_iter=300, class_weight="balanced", tol=1e-4)
    model.fit(matrix, [label.value for label in labels])
    order = [list(model.classes_).index(label.value) for label in LANGUAGE_LABELS]
    weights = model.coef_.T[:, order].astype(np.float16)
    bias = model.intercept_[order].astype(np.float32)

    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out / "lid.npz",
        weights=weights,
        bias=bias,
        labels=np.array([label.value for label in LANGUAGE_LABELS]),
        bucket_bits=np.array(BUCKET_BITS),
    )
    identifier = LanguageIdentifier(weights, bias, LANGUAGE_LABELS, BUCKET_BITS)
    report = dev_report(identifier, split)
    card = {
        "date": dt.date.today().isoformat(),
        "training_samples": dict(sorted(provenance.items())),
        "dev": report,
        "regularization_C": args.c,
        "bucket_bits": BUCKET_BITS,
    }
    (args.out / "lid.card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
