"""Rebuild ``src/siyada/lang/data/darija_words.tsv``: Arabic-script word frequencies that the
Arabizi -> Arabic transliterator uses to choose between spellings.

    python scripts/build_darija_words.py --data ../shared/data

Counts words of the Darija lines of the shared pack (NLLB-Seed ary_Arab, CC BY-SA 4.0) and of the
hand-written supplement, plus Standard Arabic lines (Tatoeba, UD Arabic-PUD) at a tenth of the
weight so that Darija spellings win where both exist.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "siyada" / "lang" / "data" / "darija_words.tsv"
ARABIC_WORD = re.compile(r"[\u0621-\u064A\u066E-\u06D3\u06FA-\u06FF]+")
DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u0640]")
STANDARD_ARABIC_WEIGHT = 0.1
MIN_COUNT = 2


def count_words(path: Path, weight: float, counts: defaultdict[str, float]) -> None:
    text = DIACRITICS.sub("", path.read_text(encoding="utf-8"))
    for word in ARABIC_WORD.findall(text):
        counts[word] += weight


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    counts: defaultdict[str, float] = defaultdict(float)
    count_words(args.data / "lid" / "train" / "ary_Arab.txt", 1.0, counts)
    for supplement in (
        REPO / "scripts" / "lid_supplement" / "ary_Arab.txt",
        REPO / "scripts" / "lid_supplement" / "more" / "ary_Arab.txt",
    ):
        if supplement.exists():
            count_words(supplement, 3.0, counts)
    count_words(args.data / "lid" / "train" / "arb_Arab.txt", STANDARD_ARABIC_WEIGHT, counts)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    rows = [(w, round(c)) for w, c in ranked if c >= MIN_COUNT or len(w) <= 2]
    rows = [(w, max(c, 1)) for w, c in rows if len(w) > 1]
    with args.out.open("w", encoding="utf-8") as out:
        out.write("word\tcount\n")
        for word, count in rows:
            out.write(f"{word}\t{count}\n")
    print(f"wrote {len(rows)} words to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
