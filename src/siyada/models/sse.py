"""Server-sent events (the WHATWG event-stream format) as OpenAI-compatible servers stream them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each event in a stream of lines (line ends already removed).

    An event ends at an empty line; its ``data:`` lines are joined with newlines; comment
    lines (``:``) and other fields (``event:``, ``id:``, ``retry:``) are skipped. An event left
    open when the stream ends is still delivered, as servers often omit the last blank line.
    """
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
