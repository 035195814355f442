"""Rebuild the shipped language-ID model ``src/siyada/lang/data/lid.npz`` and its card.

    python scripts/train_lid.py --data ../shared/data

Needs the ``train`` extra (scikit-learn, scipy). Deterministic for a given data pack.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from siyada.eval.lid_data import LidSplit, dev_sets, load_lid_split, word_windows
from siyada.eval.metrics import darija_vs_standard_arabic_f1, f1_per_label, macro_f1
from siyada.lang.features import BUCKET_BITS, feature_key, featurize_keys
from siyada.lang.identify import LanguageIdentifier
from siyada.lang.labels import LANGUAGE_LABELS, Label
from siyada.lang.translit import transliterate
from siyada.lang.translit.arabizi import lexicon_entries

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "siyada" / "lang" / "data"
SUPPLEMENT = REPO / "scripts" / "lid_supplement"
WINDOWS_PER_LINE = 2
SUPPLEMENT_REPEATS = 4
SYNTHETIC_ARABIZI_LINES = 3000
EXTRA_BERBER_LATIN_LINES = 1500


# Spelling habits of Arabizi writers, applied at random to the romanized Darija so the model
# learns the variation (bzaf/bezzaf, ch/sh, 9/q, ou/u/o, kh/5, 7/h) rather than one convention.
ARABIZI_VARIATION = (
    ("ch", "sh", 0.25), ("9", "q", 0.25), ("ou", "u", 0.2), ("ou", "o", 0.15),
    ("kh", "5", 0.2), ("7", "h", 0.15), ("gh", "8", 0.03), ("3", "a", 0.05), ("y", "i", 0.1),
)  # fmt: skip
CONSONANT_CLUSTER = re.compile(r"([bcdfghjklmnqrstvwxyz])(?=[bcdfghjklmnqrstvwxz])")
# Informal Latin Tamazight as people type it without IRCAM letters.
INFORMAL_TAMAZIGHT = (
    ("ɣ", "gh"), ("ɛ", "3"), ("x", "kh"), ("c", "ch"), ("ḍ", "d"), ("ṭ", "t"), ("ṣ", "s"),
    ("ẓ", "z"), ("ṛ", "r"), ("ḥ", "h"), ("ʷ", "w"),
)  # fmt: skip


def vary_arabizi(text: str, rng: random.Random) -> str:
    for old, new, probability in ARABIZI_VARIATION:
        if old in text and rng.random() < probability:
            text = text.replace(old, new)
    if rng.random() < 0.3:  # writers often add the short vowels Arabic script leaves out
        text = CONSONANT_CLUSTER.sub(lambda m: m.group(1) + rng.choice(("e", "", "", "")), text)
    return text


def synthetic_arabizi(lines: list[str], rng: random.Random) -> list[str]:
    """Romanize windows of Arabic-script Darija with Siyada's own rules and lexicon."""
    variants = {arabic: latin for arabic, latin in lexicon_entries()}
    chosen = rng.sample(lines, min(SYNTHETIC_ARABIZI_LINES, len(lines)))
    out = []
    for line in chosen:
        window = rng.choice(word_windows(line, rng, 1, max_words=12) or [line])
        words = []
        for word in window.split():
            if word in variants:
                words.append(rng.choice(variants[word]))
            else:
                words.append(vary_arabizi(transliterate(word, Label.ARY_ARAB, Label.ARY_LATN), rng))
        out.append(" ".join(words))
    return out


def synthetic_latin_tamazight(lines: list[str], rng: random.Random) -> list[str]:
    """Tifinagh lines in IRCAM Latin and, for half of them, in informal Latin spelling."""
    out = []
    for line in lines:
        latin = transliterate(line, Label.ZGH_TFNG, Label.BER_LATN)
        if rng.random() < 0.5:
            for old, new in INFORMAL_TAMAZIGHT:
                latin = latin.replace(old, new)
        out.append(latin)
    return out


FOREIGN_MIN_COUNT = 3
DARIJA_EXCESS = 20.0
"""A word is Darija if it is this many times more frequent (relatively) in Arabizi than in
European text: Arabizi lines are full of code-switches, so plain 'more frequent' is not enough."""


def foreign_vocabulary(split: LidSplit) -> frozenset[str]:
    """Words of French, English and Spanish text that are not markedly Arabizi words.

    Relative frequencies are compared, so Darija words that happen to exist in a European
    language (``rana``, ``ana``) stay; short words, words with digits and lexicon words are
    always kept as Darija.
    """
    foreign: Counter[str] = Counter()
    for label in (Label.FRA_LATN, Label.ENG_LATN, Label.SPA_LATN):
        for line in split.train[label]:
            foreign.update(feature_key(line).split())
    # The pack's Arabizi only: the hand-written lines are few and on few topics, so one
    # loanword repeated there (rendez-vous) would look like Darija.
    darija: Counter[str] = Counter()
    for line in split.train[Label.ARY_LATN]:
        darija.update(feature_key(line).split())
    lexicon = {feature_key(v) for _, variants in lexicon_entries() for v in variants}
    foreign_total, darija_total = sum(foreign.values()), sum(darija.values())
    return frozenset(
        word
        for word, count in foreign.items()
        if count >= FOREIGN_MIN_COUNT
        and len(word) >= 3
        and not any(char.isdigit() for char in word)
        and word not in lexicon
        and darija[word] / darija_total < DARIJA_EXCESS * count / foreign_total
    )


def without_code_switches(lines: list[str], foreign: frozenset[str]) -> list[str]:
    """Arabizi lines with their French/English/Spanish words removed.

    Arabizi is written with code-switching; left in, those words would be learned as Darija
    and word-level spans could not find them.
    """
    cleaned = []
    for line in lines:
        kept = [word for word in line.split() if not set(feature_key(word).split()) & foreign]
        if kept:
            cleaned.append(" ".join(kept))
    return cleaned


MARKER_MIN_COUNT = 5
PRESENT_TENSE = re.compile(r"^(?:ك|ت)(?:ا|ي|ن|ت)")
MARKER_EXCESS = 10.0


def darija_markers(split: LidSplit) -> frozenset[str]:
    """Arabic-script words at least MARKER_EXCESS times more frequent in Darija than in MSA.

    The pack's Darija is formal Wikipedia text: a short window of it without any such word
    reads as Standard Arabic, and labelled Darija it would teach that formal means Darija.
    """
    darija: Counter[str] = Counter()
    standard: Counter[str] = Counter()
    for line in split.train[Label.ARY_ARAB] + split.supplement_train.get(Label.ARY_ARAB, []):
        darija.update(feature_key(line).split())
    for line in split.train[Label.ARB_ARAB] + split.supplement_train.get(Label.ARB_ARAB, []):
        standard.update(feature_key(line).split())
    # Topic words of the Wikipedia lines are rare in the MSA pack too; a marker must also be
    # everyday Darija: a lexicon word, a word of the hand-written lines, or a ka-/ki- verb.
    everyday = {feature_key(arabic) for arabic, _ in lexicon_entries()}
    for line in split.supplement_train.get(Label.ARY_ARAB, []):
        everyday.update(feature_key(line).split())
    darija_total, standard_total = sum(darija.values()), sum(standard.values())
    return frozenset(
        word
        for word, count in darija.items()
        if count >= MARKER_MIN_COUNT
        and count / darija_total > MARKER_EXCESS * (standard[word] + 1) / standard_total
        and (word in everyday or PRESENT_TENSE.match(word))
    )


FREQUENT_WORDS = 3000


def frequent_words(lines: list[str]) -> list[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(word for word in feature_key(line).split() if len(word) >= 3)
    return [word for word, _ in counts.most_common(FREQUENT_WORDS)]


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

    foreign = foreign_vocabulary(split)
    markers = darija_markers(split)
    for label in LANGUAGE_LABELS:
        lines = split.train[label]
        supplement = split.supplement_train.get(label, [])
        if label is Label.ARY_LATN:
            lines = without_code_switches(lines, foreign)
            supplement = without_code_switches(supplement, foreign)
        add(lines, label, "lines")
        windows = [w for line in lines for w in word_windows(line, rng, WINDOWS_PER_LINE)]
        if label is Label.ARY_ARAB:
            windows = [w for w in windows if set(feature_key(w).split()) & markers]
        add(windows, label, "word windows")
        add(supplement * SUPPLEMENT_REPEATS, label, f"hand-written (x{SUPPLEMENT_REPEATS})")
        add([w for line in supplement for w in word_windows(line, rng, 2)], label,
            "hand-written word windows")  # fmt: skip
    for label in (Label.FRA_LATN, Label.ENG_LATN, Label.SPA_LATN, Label.BER_LATN):
        # Single frequent words balance the single Darija words of the lexicon, so that a
        # lone word (a code-switch, a dictionary entry) is judged on its own letters.
        add(frequent_words(split.train[label]), label, "frequent single words")
    add(synthetic_arabizi(split.train[Label.ARY_ARAB], rng), Label.ARY_LATN, "synthetic romanized")
    lexicon = lexicon_entries()
    add([arabic for arabic, _ in lexicon], Label.ARY_ARAB, "lexicon words")
    add([latin for _, variants in lexicon for latin in variants], Label.ARY_LATN, "lexicon words")
    tifinagh = split.train[Label.ZGH_TFNG] + split.supplement_train.get(Label.ZGH_TFNG, [])
    add(synthetic_latin_tamazight(tifinagh, rng), Label.BER_LATN, "Tifinagh lines in Latin")
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


SOURCES = Path(__file__).with_name("lid_sources.md")


def write_card(path: Path, card: dict[str, Any]) -> None:
    lines = [
        "# Siyada language-ID model (`lid.npz`)",
        "",
        f"Trained {card['date']} by `scripts/train_lid.py` from `../shared/data` and the files",
        "listed below. Multinomial logistic regression (scikit-learn, class-balanced, "
        f"C={card['regularization_C']}) over 2^{card['bucket_bits']} hashed buckets of character",
        "1-5-grams and whole words (`siyada/lang/features.py`); weights stored as float16.",
        "The script of a text is decided from its letters first; the model only chooses among",
        "the labels of that script. Texts with fewer than two letters are `und`.",
        "",
        "## Sources and licenses",
        "",
        SOURCES.read_text(encoding="utf-8"),
        "## Training samples",
        "",
        "Synthetic data, said plainly: `ary_Latn synthetic romanized` are windows of Arabic-script",
        "Darija romanized by Siyada's own rules and lexicon with random Arabizi spelling habits;",
        "`ber_Latn Tifinagh lines in Latin` are Tifinagh lines transliterated to IRCAM Latin, half",
        "of them then spelled informally (gh, kh, ch, 3, no dots). Word windows are random runs",
        "of 1-8 words of longer lines, so short texts and both Arabic varieties are seen at all",
        "lengths; a window of the (formal, Wikipedia-style) Darija lines is kept only if it holds",
        "an everyday Darija marker word, since without one it reads as Standard Arabic. French,",
        "English and Spanish words are removed from Arabizi lines (code-switches) before training.",
        "",
        "| label and source | samples |",
        "|---|---:|",
        *[f"| {name} | {count} |" for name, count in card["training_samples"].items()],
        "",
        "## Dev-set figures",
        "",
        "Held out from training: 10% of the pack, 20% of the hand-written lines.",
        "",
        "| set | n | macro-F1 | ary_Arab vs arb_Arab F1 |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {r['n']} | {r['macro_f1']:.3f} | {r['ary_Arab_vs_arb_Arab_f1']:.3f} |"
            for name, r in card["dev"].items()
        ],
        "",
        "Per-label F1 is in `lid.card.json`. Known gaps: ary_Latn training text is mostly",
        "Algerian or synthetic; ber_Latn is mostly Kabyle; ary_Arab is mostly formal.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


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
    write_card(args.out / "MODEL_CARD.md", card)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
