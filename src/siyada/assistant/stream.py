"""Rewriting an answer while it streams: citations checked, the answer-script policy applied.

Text is released in pieces that end at a safe boundary, so that what the terminal shows as it
streams is exactly the final answer: a word boundary, or a sentence boundary when the script
policy transliterates (language spans need their sentence), never inside ``[...]``.
"""

from __future__ import annotations

import re

from siyada.assistant.citations import Citations
from siyada.assistant.script import ScriptPolicy

_SENTENCE_END = re.compile(r"(?:[.!?؟۔…:]\s|\n)")
_SPACE = re.compile(r"\s")
OPEN_BRACKET_CHARS = 40
"""A '[' this far from the end with no ']' after it is plain text, not a marker being written."""


class AnswerRewriter:
    def __init__(self, citations: Citations, policy: ScriptPolicy) -> None:
        self.citations = citations
        self.policy = policy
        self._pending = ""

    def _cut(self) -> int:
        """How much of the pending text can be released now."""
        boundary = _SENTENCE_END if self.policy.converts else _SPACE
        ends = [match.end() for match in boundary.finditer(self._pending)]
        if not ends:
            return 0
        cut = ends[-1]
        opened = self._pending.rfind("[", 0, cut)
        if opened > self._pending.rfind("]", 0, cut) and cut - opened < OPEN_BRACKET_CHARS:
            earlier = [end for end in ends if end <= opened]
            cut = earlier[-1] if earlier else 0
        return cut

    def _render(self, text: str) -> str:
        return self.policy.apply(self.citations.rewrite(text))

    def feed(self, text: str) -> str:
        self._pending += text
        cut = self._cut()
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._render(ready) if ready else ""

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        return self._render(rest) if rest else ""
