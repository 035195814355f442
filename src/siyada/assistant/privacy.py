"""What a model backend sees of personal data, by the tenant's policy.

Everything sent to a model (the question, the conversation, the sources and their document
names) goes through ``outgoing``; what comes back goes through ``restorer``. Search runs on the
raw question: it never leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterable

from siyada.assistant.errors import PersonalDataRefused
from siyada.governance.access import PiiPolicy
from siyada.governance.pii import Entity, Pseudonymizer, StreamRestorer, mask, scan
from siyada.governance.pii.pseudonymize import with_known_spellings

ANSWER_PATH_MIN_SCORE = 0.3
"""Lower than detection's default (0.5): on the way to a model, a CIN, passport or Massar
number with no context word is replaced too. A false positive costs little here: a
pseudonym comes back restored; only the refuse policy's decision keeps the default."""


class PrivacyGuard:
    def __init__(self, policy: PiiPolicy) -> None:
        self.policy = policy
        self._pseudonymizer = Pseudonymizer(min_score=ANSWER_PATH_MIN_SCORE)
        self._spellings: dict[str, str] = {}
        self._scanned: dict[str, list[Entity]] = {}

    def _scan(self, text: str) -> list[Entity]:
        """Each text of the exchange scanned once (``learn``, then ``outgoing``)."""
        if text not in self._scanned:
            self._scanned[text] = scan(text, min_score=ANSWER_PATH_MIN_SCORE)
        return self._scanned[text]

    def learn(self, texts: Iterable[str]) -> None:
        """Note the identifiers in every text of the exchange first, so that each is replaced
        wherever it appears, even with no context word next to it there."""
        for text in texts:
            if self.policy is PiiPolicy.PSEUDONYMIZE:
                self._pseudonymizer.learn(text)
            else:
                for entity in self._scan(text):
                    self._spellings.setdefault(entity.text, entity.type)

    def outgoing(self, text: str, *, from_asker: bool = False) -> str:
        """``text`` as the model may see it. ``from_asker``: the question or an earlier turn,
        which the refuse policy refuses when it holds an identifier."""
        if self.policy is PiiPolicy.PSEUDONYMIZE:
            return self._pseudonymizer.pseudonymize(text)
        if from_asker and self.policy is PiiPolicy.REFUSE:
            found = scan(text)
            if found:
                kinds = ", ".join(sorted({entity.type for entity in found}))
                raise PersonalDataRefused(
                    f"the question holds personal data ({kinds}); this tenant's policy refuses "
                    "such questions: ask again without it"
                )
        return mask(text, with_known_spellings(text, self._scan(text), self._spellings))

    def restorer(self) -> StreamRestorer | None:
        """Puts the real values back into a streamed answer (pseudonymize only)."""
        if self.policy is PiiPolicy.PSEUDONYMIZE:
            return self._pseudonymizer.restorer()
        return None
