"""Rewriting an answer while it streams: citations checked, the answer-script policy applied.

Text is released in pieces that end at a safe boundary, so that what the terminal shows as it
streams is exactly the final answer: a word boundary, or a sentence boundary when the script
policy transliterates (language spans need their sentence); never inside what may still become
a citation marker, and never with whitespace at either end of the answer.
"""

from __future__ import annotations

import re

from siyada.assistant.citations import MARKER_START, Citations
from siyada.assistant.script import ScriptPolicy

_SENTENCE_END = re.compile(r"(?:[.!?؟۔…:]\s|\n)")
_SPACE = re.compile(r"\s")
MAX_HELD_CHARS = 400
"""Text held back while it may still become a citation marker, at most (then it is plain)."""


class AnswerRewriter:
    def __init__(
        self, citations: Citations, policy: ScriptPolicy, *, check_citations: bool = True
    ) -> None:
        self.citations = citations
        self.policy = policy
        self.check_citations = check_citations
        self._pending = ""
        self._started = False

    def _cut(self) -> int:
        """How much of the pending text can be released now."""
        boundary = _SENTENCE_END if self.policy.converts else _SPACE
        ends = [match.end() for match in boundary.finditer(self._pending)]
        if not ends:
            return 0
        cut = ends[-1]
        opened = self._pending.rfind("[", 0, cut)
        if (
            opened > self._pending.rfind("]", 0, cut)
            and cut - opened < MAX_HELD_CHARS
            and MARKER_START.fullmatch(self._pending[opened:cut])
        ):
            earlier = [end for end in ends if end <= opened]
            cut = earlier[-1] if earlier else 0
        return cut

    def _render(self, text: str) -> str:
        if self.check_citations:
            text = self.citations.rewrite(text)
        return self.policy.apply(text)

    def _release(self, ready: str) -> str:
        if not self._started:
            ready = ready.lstrip()
            self._started = bool(ready)
        # Trailing whitespace waits for the text after it: the answer never ends with it, and
        # a dropped citation takes the space before it along.
        kept = ready.rstrip()
        self._pending = ready[len(kept) :] + self._pending
        return self._render(kept) if kept else ""

    def feed(self, text: str) -> str:
        self._pending += text
        cut = self._cut()
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._release(ready)

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        if not self._started:
            rest = rest.lstrip()
        return self._render(rest.rstrip()) if rest.strip() else ""
