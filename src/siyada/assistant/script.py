"""The answer-script policy: which language and script the model is asked to write in, and how
its answer is brought back to the script the asker wrote in.

Models write Darija far better in Arabic script than in Arabizi, and spend about three tokens
per Tifinagh character, so an Arabizi question is answered in Arabic script and a Tifinagh one
in Tamazight Latin letters; the answer is then transliterated word for word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from siyada.lang import Label, identify_spans, transliterate

_NOT_WORDS = re.compile(r"[^\s@]+@[^\s@]+\.\w+|[\w-]*\d{3,}[\w-]*")
"""E-mail addresses, and tokens with three digits in a row (CIN, phone, RIB, amounts): left
as they are. Arabizi words have digits too (3, 7, 9), never three in a row."""


class ArabiziAnswer(StrEnum):
    LATIN = "latin"
    """Answer an Arabizi question in Arabizi (transliterated from Arabic script)."""
    ARABIC = "arabic"
    """Answer it in Arabic script."""


@dataclass(frozen=True)
class ScriptPolicy:
    question: Label
    writes: Label
    """What the model is asked to write."""
    answer: Label
    """What the asker reads."""
    converts: frozenset[Label] = frozenset()
    """Spans of the answer in these languages are transliterated to ``answer``'s script."""

    def _convert(self, text: str) -> str:
        """``text`` in the answer's script, but for identifiers, numbers and e-mail addresses
        (a CIN's letters or an address written in Tifinagh would be wrong)."""
        pieces = []
        position = 0
        for kept in _NOT_WORDS.finditer(text):
            pieces.append(transliterate(text[position : kept.start()], self.writes, self.answer))
            pieces.append(kept.group())
            position = kept.end()
        pieces.append(transliterate(text[position:], self.writes, self.answer))
        return "".join(pieces)

    def apply(self, text: str) -> str:
        if not self.converts or not text.strip():
            return text
        pieces = []
        position = 0
        for span in identify_spans(text):
            if span.label not in self.converts:
                continue
            pieces.append(text[position : span.start])
            pieces.append(self._convert(span.text))
            position = span.end
        pieces.append(text[position:])
        return "".join(pieces)


def script_policy(
    question: Label, arabizi: ArabiziAnswer = ArabiziAnswer.LATIN, *, generative: bool = True
) -> ScriptPolicy:
    """The policy for a question labelled ``question``.

    A generative model's whole answer is in the asker's language, so every span in the script it
    was asked to write is converted. Quotes (extractive answers) are the documents' own words:
    only Tamazight quotes in Latin letters are shown in Tifinagh to a Tifinagh asker; Arabic
    script quotes stay as written (span-level language ID cannot tell a Darija quote from a
    Standard Arabic one reliably enough to rewrite a citizen's document).
    """
    if question is Label.ZGH_TFNG:
        converts = {Label.BER_LATN, Label.ARY_LATN} if generative else {Label.BER_LATN}
        return ScriptPolicy(question, Label.BER_LATN, Label.ZGH_TFNG, frozenset(converts))
    if question is Label.ARY_LATN and arabizi is ArabiziAnswer.LATIN:
        converts = {Label.ARY_ARAB, Label.ARB_ARAB} if generative else set()
        return ScriptPolicy(question, Label.ARY_ARAB, Label.ARY_LATN, frozenset(converts))
    if question is Label.ARY_LATN:
        return ScriptPolicy(question, Label.ARY_ARAB, Label.ARY_ARAB)
    return ScriptPolicy(question, question, question)
