"""PII benchmark: recall and precision per type on generated Moroccan text, look-alikes, speed,
side by side with Microsoft Presidio's default recognizers when it is installed.

    make bench-pii   # or: .venv-bench/bin/python benchmarks/pii.py [--per-type 400] [--seed 7]

- Positives: checksum-valid synthetic identifiers of every type (RIB, IBAN, ICE, phone, CIN,
  passport, CNSS, Massar, e-mail), in Western, Arabic-Indic or Extended Arabic-Indic digits,
  grouped with spaces, dots, dashes or not at all, inside French, Standard Arabic, Darija
  (Arabic script) and Darija (Arabizi) sentence templates, after a context phrase (always for
  the types with no check digit, half the time for the others). The context phrases are the
  benchmark's own; the "unseen paraphrases" line uses phrasings that the tables do not list.
- Negatives: look-alikes that must not be reported: numbers failing mod 97 (15 and 24 digits),
  Moroccan IBANs with wrong check digits, phone numbers outside the plan or cut short, dates,
  amounts, invoice numbers, order and product references, IMEI and card numbers (Luhn; about
  1 in 97 random 15-digit IMEIs also passes the ICE check and is reported as an ICE), parcel
  tracking numbers, postal codes, years.
- Scoring is entity-level and exact: a hit is the right type on exactly the right span.
- Speed: scan() on one core over the generated corpus (dense: one identifier per sentence) and
  over the 40 procedure documents of benchmarks/data/knowledge plus 80 generated sentences.
- Presidio (presidio-analyzer, never a Siyada dependency): its default recognizers with the
  no-op NLP engine (no spaCy model, nothing downloaded), language "en" (the only one its
  defaults support). Its PHONE_NUMBER, EMAIL_ADDRESS and IBAN_CODE are mapped to PHONE, EMAIL
  and IBAN; "any type" counts a gold span as found when some entity of any type covers it
  exactly, and every reported entity on a negative as a false positive.
"""

from __future__ import annotations

import argparse
import importlib
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from siyada.governance.pii import DEFAULT_MIN_SCORE, ENTITY_TYPES, scan

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "benchmarks" / "data" / "knowledge" / "docs"
ZEROS = {"western": "0", "arabic-indic": "٠", "extended": "۰"}
SEPARATORS = (" ", ".", "-")

# ---------------------------------------------------------------- check digits (own formulas)


def _mod97(number: str) -> int:
    remainder = 0
    for char in number:
        remainder = (remainder * 10 + int(char)) % 97
    return remainder


def with_key(body: str) -> str:
    return body + f"{(97 - _mod97(body + '00')) % 97:02d}"


def luhn(body: str) -> str:
    """``body`` + its Luhn check digit (card numbers, IMEI)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (1 if position % 2 else 2)
        total += digit - 9 if digit > 9 else digit
    return body + str(-total % 10)


def iban_of(rib: str) -> str:
    digits = rib + "".join(str(ord(c) - 55) for c in "MA") + "00"
    return f"MA{98 - _mod97(digits):02d}{rib}"


# ---------------------------------------------------------------- templates and context

TEMPLATES = {
    "fra": [
        "Bonjour, {ctx} {id}, merci de vérifier mon dossier.",
        "Veuillez trouver ci-joint {ctx} : {id}.",
        "{ctx} {id} — je n'arrive pas à finaliser la demande en ligne.",
        "Madame, Monsieur, {ctx} est le {id}. Cordialement.",
    ],
    "arb": [
        "السلام عليكم، {ctx} {id}، المرجو التحقق من الملف.",
        "{ctx}: {id}",
        "أود تجديد الوثيقة، {ctx} هو {id} وشكرا.",
    ],
    "ary_Arab": [
        "سلام، {ctx} ديالي هو {id} عافاك شوف ليا الملف",
        "واش ممكن تعاوني؟ {ctx} {id}",
    ],
    "ary_Latn": [
        "salam, {ctx} dyali howa {id} 3afak chouf lia dossier",
        "wach t9der t3awni? {ctx}: {id}",
        "{ctx} {id}, chokran bzaf a khouya",
    ],
}
CONTEXT = {
    "CIN": {
        "fra": ["numéro de CIN", "CIN", "N° CIN", "ma carte nationale", "numéro de la CNIE"],
        "arb": ["رقم البطاقة الوطنية", "البطاقة الوطنية للتعريف", "رقم بطاقة التعريف الوطنية"],
        "ary_Arab": ["رقم لاكارط", "البطاقة الوطنية", "نمرة لاكارط"],
        "ary_Latn": ["ra9m dial la carte", "lbita9a lwatania", "cin", "la carte nationale"],
    },
    "PASSPORT": {
        "fra": ["passeport n°", "numéro de passeport", "mon passeport"],
        "arb": ["رقم جواز السفر", "جواز السفر"],
        "ary_Arab": ["الباسبور", "رقم الباسبور"],
        "ary_Latn": ["lpaspor", "passeport", "ra9m dial passeport"],
    },
    "MASSAR": {
        "fra": ["code Massar", "le code Massar de mon fils", "CNE"],
        "arb": ["رمز مسار", "رقم مسار"],
        "ary_Arab": ["كود مسار", "رمز مسار"],
        "ary_Latn": ["code massar", "lmassar dyal weldi", "massar"],
    },
    "CNSS": {
        "fra": ["numéro CNSS", "n° d'immatriculation", "immatriculation CNSS"],
        "arb": ["رقم الضمان الاجتماعي", "رقم التسجيل في الضمان الاجتماعي"],
        "ary_Arab": ["نمرة الضمان الاجتماعي", "رقم الانخراط"],
        "ary_Latn": ["ra9m cnss", "lcnss", "cnss"],
    },
    "ICE": {
        "fra": ["ICE", "l'ICE de la société", "identifiant commun de l'entreprise"],
        "arb": ["المعرف الموحد للمقاولة", "المعرف الموحد"],
        "ary_Arab": ["ICE ديال الشركة", "المعرف الموحد"],
        "ary_Latn": ["ice dyal charika", "l'ICE"],
    },
    "RIB": {
        "fra": ["RIB", "mon RIB", "numéro de compte"],
        "arb": ["رقم الحساب", "الحساب البنكي"],
        "ary_Arab": ["الريب", "رقم الحساب"],
        "ary_Latn": ["rib", "ra9m l compte", "lcompte"],
    },
    "IBAN": {
        "fra": ["IBAN", "code IBAN", "mon IBAN"],
        "arb": ["رقم الحساب الدولي IBAN", "رقم الحساب"],
        "ary_Arab": ["الايبان", "IBAN"],
        "ary_Latn": ["iban", "l'IBAN"],
    },
    "PHONE": {
        "fra": ["tél", "mon portable", "appelez-moi au", "numéro de téléphone"],
        "arb": ["رقم الهاتف", "الهاتف النقال"],
        "ary_Arab": ["نمرة التيليفون", "عيط ليا ف"],
        "ary_Latn": ["nmra dyali", "3ayet liya f", "tel", "whatsapp"],
    },
    "EMAIL": {
        "fra": ["mon e-mail", "courriel", "adresse mail"],
        "arb": ["البريد الإلكتروني", "بريدي الإلكتروني"],
        "ary_Arab": ["الإيميل", "الايميل"],
        "ary_Latn": ["lemail dyali", "email", "mail"],
    },
}
UNSEEN = {
    # Phrasings that context.json does not list verbatim.
    "CIN": ["pièce d'identité marocaine n°", "رقم التعريف الوطني", "nmra d la cart"],
    "PASSPORT": ["جواز سفري رقم", "le passeport de ma fille porte le numéro", "basbor dyali"],
    "MASSAR": ["identifiant élève", "الرقم الوطني للتلميذ", "ra9m dial tilmid"],
    "CNSS": ["numéro d'assuré", "رقم المنخرط", "ra9m dyal ddaman"],
}
CONTEXT_FREE = ("RIB", "IBAN", "ICE", "PHONE", "EMAIL")

# ---------------------------------------------------------------- generators


def _script(text: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in text)


def _group(text: str, size: int, sep: str) -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def identifier(rng: random.Random, entity_type: str) -> str:
    zero = rng.choice(list(ZEROS.values()))
    sep = rng.choice(SEPARATORS)
    if entity_type == "RIB":
        rib = with_key(_digits(rng, 22))
        written = rng.choice(
            [rib, f"{rib[:3]}{sep}{rib[3:6]}{sep}{rib[6:22]}{sep}{rib[22:]}", _group(rib, 4, sep)]
        )
    elif entity_type == "IBAN":
        iban = iban_of(with_key(_digits(rng, 22)))
        written = rng.choice([iban, _group(iban, 4, " ")])
    elif entity_type == "ICE":
        ice = with_key(_digits(rng, 13))
        written = rng.choice([ice, _group(ice, 3, sep)])
    elif entity_type == "PHONE":
        national = rng.choice("5678") + _digits(rng, 8)
        pairs = _group(national[1:], 2, sep)
        written = rng.choice(
            [
                "0" + national,
                f"0{national[0]}{sep}{pairs}",
                "+212" + national,
                f"+212 {national[0]} {_group(national[1:], 2, ' ')}",
                "00212" + national,
                f"(+212) {national}",
                f"+212 (0){national[0]} {_group(national[1:], 2, ' ')}",
            ]
        )
    elif entity_type == "CIN":
        prefix = "".join(rng.choice(LETTERS) for _ in range(rng.choice((1, 2, 2))))
        written = prefix + _digits(rng, rng.choice((5, 6, 6)))
    elif entity_type == "PASSPORT":
        written = rng.choice(LETTERS) + rng.choice(LETTERS) + _digits(rng, 7)
    elif entity_type == "MASSAR":
        written = rng.choice(LETTERS) + _digits(rng, 9)
    elif entity_type == "CNSS":
        cnss = _digits(rng, 9)
        written = rng.choice([cnss, _group(cnss, 3, sep)])
    else:
        name = rng.choice(["ahmed", "fatima.zahra", "y.benali", "contact", "k.amrani2024"])
        domain = rng.choice(["gmail.com", "menara.ma", "um5.ac.ma", "entreprise.co.ma"])
        return f"{name}@{domain}"
    return _script(written, zero)


@dataclass
class Example:
    text: str
    gold: list[tuple[str, int, int]]
    language: str
    context: str  # "table phrase", "unseen paraphrase", "none"


def positive(rng: random.Random, entity_type: str, phrases: dict[str, list[str]] | None) -> Example:
    language = rng.choice(list(TEMPLATES))
    template = rng.choice(TEMPLATES[language])
    written = identifier(rng, entity_type)
    if phrases is None:
        context, kind = "", "none"
        template = template.replace("{ctx} ", "").replace("{ctx}: ", "").replace("{ctx} : ", "")
        template = template.replace("{ctx}", "")
    else:
        pool = phrases.get(language) or [p for ps in phrases.values() for p in ps]
        context, kind = rng.choice(pool), "table phrase"
    before, after = template.split("{id}")
    before = before.replace("{ctx}", context)
    after = after.replace("{ctx}", context)
    return Example(
        before + written + after,
        [(entity_type, len(before), len(before) + len(written))],
        language,
        kind,
    )


def positives(rng: random.Random, per_type: int) -> list[Example]:
    examples = []
    for entity_type in ENTITY_TYPES:
        for number in range(per_type):
            with_context = entity_type not in CONTEXT_FREE or number % 2 == 0
            examples.append(
                positive(rng, entity_type, CONTEXT[entity_type] if with_context else None)
            )
    return examples


def unseen_paraphrases(rng: random.Random, per_type: int) -> list[Example]:
    out = []
    for entity_type, phrases in UNSEEN.items():
        for _ in range(per_type):
            example = positive(rng, entity_type, {"any": phrases})
            example.context = "unseen paraphrase"
            out.append(example)
    return out


def without_context(rng: random.Random, per_type: int) -> list[Example]:
    return [
        positive(rng, entity_type, None)
        for entity_type in UNSEEN  # the types with no check digit
        for _ in range(per_type)
    ]


def negatives(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(kind, text) look-alikes that hold no identifier."""

    def bad_mod97(length: int) -> str:
        while True:
            number = _digits(rng, length)
            if _mod97(number):
                return number

    def bad_iban() -> str:
        iban = iban_of(with_key(_digits(rng, 22)))
        return f"MA{rng.choice([n for n in range(2, 99) if n != int(iban[2:4])]):02d}{iban[4:]}"

    makers: dict[str, Callable[[], str]] = {
        "15 digits failing mod 97": lambda: f"ICE {bad_mod97(15)}",
        "24 digits failing mod 97": lambda: f"RIB : {_group(bad_mod97(24), 4, ' ')}",
        "IBAN MA, wrong check digits": lambda: f"IBAN {bad_iban()}",
        "phone outside the plan": lambda: rng.choice(
            [
                f"tél +212 {rng.choice('012349')}{_digits(rng, 8)}",
                f"tel 0{rng.choice('1234')}{_digits(rng, 8)}",
                f"+33 6 {_group(_digits(rng, 8), 2, ' ')}",
            ]
        ),
        "date": lambda: rng.choice(
            [
                f"le {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2030)}",
                f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"بتاريخ {_script(f'{rng.randint(1, 28)}/{rng.randint(1, 12)}/2024', '٠')}",
                f"{rng.randint(1, 28)}.{rng.randint(1, 12):02d}.{rng.randint(1990, 2030)} à 10h30",
            ]
        ),
        "amount": lambda: rng.choice(
            [
                f"montant : {rng.randint(1, 999)} {rng.randint(0, 999):03d} "
                f"{rng.randint(0, 999):03d},00 DH",
                f"Cotisations CNSS : {rng.randint(100, 999)} {rng.randint(0, 999):03d} "
                f"{rng.randint(0, 999):03d} DH",
                f"المبلغ {_script(str(rng.randint(10**8, 10**9)), '٠')} درهم",
                f"khlst {rng.randint(10**8, 10**9)} dh",
            ]
        ),
        "invoice number": lambda: rng.choice(
            [
                f"Facture n° FA{_digits(rng, 6)}",
                f"Facture N° {rng.randint(2019, 2026)}/{_digits(rng, 5)}",
                f"فاتورة رقم {_digits(rng, 9)}",
                f"facture FA-{rng.randint(2019, 2026)}-{_digits(rng, 6)}",
            ]
        ),
        "order / product reference": lambda: rng.choice(
            [
                f"Réf. produit {rng.choice(LETTERS)}{_digits(rng, 5)}",
                f"commande n° {rng.choice(LETTERS)}{rng.choice(LETTERS)}{_digits(rng, 6)}",
                f"article {rng.choice(LETTERS)}{_digits(rng, 9)}",
                f"lcommande dyali {rng.choice(LETTERS)}{rng.choice(LETTERS)}{_digits(rng, 7)}",
                f"N° de dossier {rng.choice(LETTERS)}{_digits(rng, 6)}",
            ]
        ),
        "IMEI / card number (Luhn)": lambda: rng.choice(
            [
                f"IMEI {luhn(_digits(rng, 14))}",
                f"carte bancaire {_group(luhn('4' + _digits(rng, 14)), 4, ' ')}",
            ]
        ),
        "truncated phone": lambda: f"tel 0{rng.choice('67')} {_group(_digits(rng, 7), 2, ' ')}",
        "parcel tracking": lambda: (
            f"colis {rng.choice(['RR', 'CP', 'LX'])}{_digits(rng, 9)}MA en route"
        ),
        "postal code / year": lambda: rng.choice(
            [
                f"{rng.choice(['20250', '10000', '30000', '90000'])} Casablanca",
                f"BP {_digits(rng, 4)}",
                f"en {rng.randint(1956, 2030)}, {rng.randint(2, 30)} ans",
            ]
        ),
    }
    kinds = list(makers)
    return [(kind, makers[kind]()) for kind in (kinds[i % len(kinds)] for i in range(count))]


# ---------------------------------------------------------------- systems

Predict = Callable[[str], list[tuple[str, int, int]]]


def siyada_predict(text: str) -> list[tuple[str, int, int]]:
    return [(e.type, e.start, e.end) for e in scan(text)]


PRESIDIO_TYPES = {"PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "IBAN_CODE": "IBAN"}


def presidio_predictors() -> tuple[dict[str, Predict], Predict | None]:
    """Presidio at two score thresholds (one analysis per text, cached), and the uncached
    analysis for the speed measurement; nothing when Presidio is not installed."""
    # Imported by name: Presidio is optional, and has no type stubs.
    try:
        tldextract: Any = importlib.import_module("tldextract")
        analyzer: Any = importlib.import_module("presidio_analyzer")
        no_op: Any = importlib.import_module("presidio_analyzer.nlp_engine.no_op_nlp_engine")
    except Exception as error:  # not installed, or broken
        print(f"Presidio not installed ({type(error).__name__}: {error})")
        return {}, None
    # The e-mail recognizer calls tldextract, which would fetch the public-suffix list: use
    # the snapshot bundled in the wheel instead (nothing is downloaded).
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    engine = analyzer.AnalyzerEngine(
        nlp_engine=no_op.NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
        supported_languages=["en"],
    )
    names = sorted({r.name for r in engine.registry.recognizers if r.supported_language == "en"})
    print(f"Presidio {version('presidio-analyzer')}, no-op NLP engine, recognizers: {names}")

    def analyze(text: str) -> list[tuple[str, int, int, float]]:
        return [
            (PRESIDIO_TYPES.get(r.entity_type, r.entity_type), r.start, r.end, r.score)
            for r in engine.analyze(text, language="en")
        ]

    cache: dict[str, list[tuple[str, int, int, float]]] = {}

    def make(threshold: float) -> Predict:
        def predict(text: str) -> list[tuple[str, int, int]]:
            if text not in cache:
                cache[text] = analyze(text)
            return [(t, s, e) for t, s, e, score in cache[text] if score >= threshold]

        return predict

    return (
        {"Presidio (default, score >= 0)": make(0.0), "Presidio (score >= 0.5)": make(0.5)},
        lambda text: [(t, s, e) for t, s, e, _ in analyze(text)],
    )


# ---------------------------------------------------------------- scoring


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in row) + " |")


@dataclass
class Counts:
    tp: int = 0
    gold: int = 0
    predicted: int = 0

    def precision(self) -> float | str:
        return self.tp / self.predicted if self.predicted else "-"

    def recall(self) -> float | str:
        return self.tp / self.gold if self.gold else "-"


def evaluate(
    predict: Predict, examples: Sequence[Example], negative_texts: Sequence[str], typed: bool
) -> tuple[dict[str, Counts], Counts, Counter[str]]:
    """Per gold type (and overall) counts; ``typed=False`` ignores the predicted type.
    Predictions on positives are attributed to the type they predict (typed) or to the gold
    type; those on negatives count against precision."""
    per: dict[str, Counts] = defaultdict(Counts)
    total = Counts()
    stray: Counter[str] = Counter()
    for example in examples:
        predicted = predict(example.text)
        gold_spans = {(s, e): t for t, s, e in example.gold}
        for t, _, _ in example.gold:
            per[t].gold += 1
            total.gold += 1
        for t, s, e in predicted:
            label = t if typed else gold_spans.get((s, e), t)
            hit = (s, e) in gold_spans and (not typed or gold_spans[(s, e)] == t)
            per[label].predicted += 1
            total.predicted += 1
            if hit:
                per[label].tp += 1
                total.tp += 1
            else:
                stray[t] += 1
    for text in negative_texts:
        for t, _, _ in predict(text):
            per[t].predicted += 1
            total.predicted += 1
            stray[t] += 1
    return per, total, stray


def throughput(predict: Predict, texts: Sequence[str], repeats: int = 3) -> float:
    size = sum(len(t.encode("utf-8")) for t in texts)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            predict(text)
        timings.append(time.perf_counter() - start)
    return size / min(timings) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-type", type=int, default=400, help="positives per type")
    parser.add_argument("--negatives", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    examples = positives(rng, args.per_type)
    negative_set = negatives(rng, args.negatives)
    negative_texts = [text for _, text in negative_set]
    print(
        f"{len(examples)} positive sentences ({args.per_type} per type), "
        f"{len(negative_texts)} look-alikes, seed {args.seed}"
    )
    scan("warm-up CIN AB123456")  # load the tables once, outside the timings

    presidio, presidio_uncached = presidio_predictors()
    systems: dict[str, Predict] = {"Siyada": siyada_predict, **presidio}
    results = {
        name: evaluate(p, examples, negative_texts, typed=True) for name, p in systems.items()
    }

    per, total, _ = results["Siyada"]
    rows = [[t, per[t].gold, per[t].recall(), per[t].precision()] for t in ENTITY_TYPES]
    rows.append(["all", total.gold, total.recall(), total.precision()])
    table("Siyada, per type (exact type and span)", ["type", "n", "recall", "precision"], rows)

    by_group: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_group[example.language].append(example)
        by_group[f"context: {example.context}"].append(example)
    rows = []
    for group, members in sorted(by_group.items()):
        _, counts, _ = evaluate(siyada_predict, members, [], typed=True)
        rows.append([group, counts.gold, counts.recall()])
    seen_rng = random.Random(args.seed + 1)
    _, counts, _ = evaluate(siyada_predict, unseen_paraphrases(seen_rng, 100), [], typed=True)
    rows.append(["unseen paraphrases (CIN, passport, CNSS, Massar)", counts.gold, counts.recall()])
    bare = without_context(seen_rng, 100)
    _, counts, _ = evaluate(siyada_predict, bare, [], typed=True)
    rows.append(["no context (CIN, passport, CNSS, Massar)", counts.gold, counts.recall()])
    table("Siyada recall by language and context", ["set", "n", "recall"], rows)

    def low_threshold(text: str) -> list[tuple[str, int, int]]:
        return [(e.type, e.start, e.end) for e in scan(text, min_score=0.3)]

    _, low, _ = evaluate(low_threshold, bare, negative_texts, typed=True)
    print(
        f"\nWith min_score=0.3 instead of {DEFAULT_MIN_SCORE}, the no-context set has recall "
        f"{low.recall():.3f}, and {sum(bool(low_threshold(t)) for t in negative_texts)} of "
        f"{len(negative_texts)} look-alikes are flagged (order references, parcel numbers...)."
    )

    false_positives: Counter[str] = Counter()
    for kind, text in negative_set:
        false_positives[kind] += bool(siyada_predict(text))
    kinds = Counter(kind for kind, _ in negative_set)
    table(
        "Siyada on look-alikes: texts with any entity reported",
        ["look-alike", "n", "reported"],
        [[kind, kinds[kind], false_positives[kind]] for kind in kinds],
    )

    rows = []
    for name, predict in systems.items():
        _, typed_total, stray = results[name]
        _, any_total, _ = evaluate(predict, examples, negative_texts, typed=False)
        negative_hits = sum(bool(predict(text)) for text in negative_texts)
        mapped = {t: results[name][0][t] for t in ("PHONE", "EMAIL", "IBAN")}
        rows.append(
            [
                name,
                typed_total.recall(),
                typed_total.precision(),
                any_total.recall(),
                f"{negative_hits}/{len(negative_texts)}",
                " ".join(f"{t}:{c.recall():.2f}" for t, c in mapped.items() if c.gold),
                ", ".join(f"{t} {n}" for t, n in stray.most_common(4)) or "-",
            ]
        )
    table(
        "Side by side on the same sentences",
        [
            "system",
            "typed recall",
            "typed precision",
            "any-type recall",
            "look-alikes flagged",
            "recall PHONE/EMAIL/IBAN",
            "most frequent wrong types",
        ],
        rows,
    )

    documents = [path.read_text("utf-8") for path in sorted(DOCS.glob("*.md"))]
    mixed = documents + [e.text for e in examples[:: max(1, len(examples) // 80)][:80]]
    dense = [e.text for e in examples] + negative_texts
    timed: dict[str, Predict] = {"Siyada": siyada_predict}
    if presidio_uncached is not None:
        timed["Presidio"] = presidio_uncached
    speed_rows = [
        [
            name,
            throughput(predict, dense, repeats=3 if name == "Siyada" else 1),
            throughput(predict, mixed, repeats=3 if name == "Siyada" else 1),
            throughput(predict, ["\n".join(mixed)], repeats=3 if name == "Siyada" else 1),
        ]
        for name, predict in timed.items()
    ]
    mixed_size = sum(len(t.encode()) for t in mixed)
    table(
        f"Speed, MB/s on one core (dense: {sum(len(t.encode()) for t in dense) / 1e6:.2f} MB of "
        f"sentences; mixed: {mixed_size / 1e6:.2f} MB of procedure documents + 80 sentences)",
        ["system", "dense, per sentence", "mixed, per document", "mixed, one text"],
        speed_rows,
    )
    per_sentence = [len(e.text) for e in examples]
    print(f"\nmedian sentence: {statistics.median(per_sentence):.0f} characters")


if __name__ == "__main__":
    main()
