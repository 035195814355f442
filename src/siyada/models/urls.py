"""Endpoint and download URLs, checked before anything is sent."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def check_http_url(url: str) -> SplitResult:
    """``url`` split, if it is an http(s) URL with a host and a valid port; else ValueError."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as error:
        raise ValueError(f"{url!r} is not a valid URL ({error})") from None
    try:
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number from 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r} (expected e.g. http://127.0.0.1:8000/v1)")
    return parts
