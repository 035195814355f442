"""What a model backend sees of personal data, by the tenant's policy.

Everything sent to a model (the question, the conversation, the sources) goes through
``outgoing``; what comes back goes through ``restorer``. Search runs on the raw question: it
never leaves the process.
"""

from __future__ import annotations

from siyada.assistant.errors import PersonalDataRefused
from siyada.governance.access import PiiPolicy
from siyada.governance.pii import Pseudonymizer, StreamRestorer, mask, scan


class PrivacyGuard:
    def __init__(self, policy: PiiPolicy) -> None:
        self.policy = policy
        self._pseudonymizer = Pseudonymizer()

    def outgoing(self, text: str, *, from_asker: bool = False) -> str:
        """``text`` as the model may see it. ``from_asker``: the question or an earlier turn,
        which the refuse policy refuses when it holds an identifier."""
        if self.policy is PiiPolicy.PSEUDONYMIZE:
            return self._pseudonymizer.pseudonymize(text)
        entities = scan(text)
        if entities and from_asker and self.policy is PiiPolicy.REFUSE:
            kinds = ", ".join(sorted({entity.type for entity in entities}))
            raise PersonalDataRefused(
                f"the question holds personal data ({kinds}); this tenant's policy refuses such "
                "questions: ask again without it"
            )
        return mask(text, entities)

    def restorer(self) -> StreamRestorer | None:
        """Puts the real values back into a streamed answer (pseudonymize only)."""
        if self.policy is PiiPolicy.PSEUDONYMIZE:
            return self._pseudonymizer.restorer()
        return None

    @property
    def replaced(self) -> int:
        """Distinct identifiers replaced by placeholders so far."""
        return len(self._pseudonymizer)
