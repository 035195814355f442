"""Checksums and downloads of model files."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from siyada.models.base import ModelError
from siyada.models.urls import check_http_url

HASH_BLOCK = 1 << 20
SHA256 = re.compile(r"[0-9a-f]{64}")
Progress = Callable[[int, int | None], None]
"""Called with (bytes done, bytes in all if known)."""


def check_sha256(value: str) -> str:
    cleaned = value.strip().lower()
    if not SHA256.fullmatch(cleaned):
        raise ModelError(f"not a SHA-256 checksum: {value!r} (expected 64 hexadecimal digits)")
    return cleaned


def sha256_file(path: Path, on_progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK):
            digest.update(block)
            done += len(block)
            if on_progress:
                on_progress(done, total)
    return digest.hexdigest()


def file_stamp(path: Path) -> str:
    """What changes when a file's content may have: while it is the same, the file need not be
    hashed again. The inode change time is in it because a user can set the modification time
    back (``touch -r``) but not the change time."""
    status = path.stat()
    return f"{status.st_size}:{status.st_mtime_ns}:{status.st_ctime_ns}:{status.st_ino}"


def download(
    url: str,
    target: Path,
    sha256: str,
    *,
    on_progress: Progress | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``target``, resuming a partial ``target.part``, and check its SHA-256.

    The file appears at ``target`` only once complete and verified; a checksum mismatch deletes
    the partial download so the next attempt starts clean.
    """
    expected = check_sha256(sha256)
    try:
        check_http_url(url)
    except ValueError as error:
        raise ModelError(str(error)) from None
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    done = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={done}-"} if done else {}
    try:
        with httpx.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            if response.status_code == 416:
                pass  # the partial file is already complete
            elif response.status_code == 206 and done:
                total = _total(response, done)
                _append(response, partial, done, total, on_progress, mode="ab")
            elif response.status_code == 200:
                total = _total(response, 0)
                _append(response, partial, 0, total, on_progress, mode="wb")
            else:
                raise ModelError(f"download failed: {url} answered HTTP {response.status_code}")
    except httpx.InvalidURL as error:
        raise ModelError(f"cannot download {url!r}: {error}") from None
    except httpx.HTTPError as error:
        raise ModelError(
            f"download interrupted ({error}); run the same command again to resume"
        ) from None
    except OSError as error:
        raise ModelError(f"cannot write {partial}: {error}") from None
    actual = sha256_file(partial)
    if actual != expected:
        partial.unlink()
        raise ModelError(
            f"checksum mismatch for {url}: expected {expected}, got {actual}; "
            "the download was deleted"
        )
    os.replace(partial, target)
    return target


def _total(response: httpx.Response, offset: int) -> int | None:
    length = response.headers.get("content-length")
    return int(length) + offset if length and length.isdigit() else None


def _append(
    response: httpx.Response,
    partial: Path,
    done: int,
    total: int | None,
    on_progress: Progress | None,
    *,
    mode: str,
) -> None:
    with partial.open(mode) as stream:
        for block in response.iter_bytes(HASH_BLOCK):
            stream.write(block)
            done += len(block)
            if on_progress:
                on_progress(done, total)
