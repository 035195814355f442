"""Running the real ``siyada`` command in tests, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENV = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}


def siyada(
    data_dir: Path, *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m siyada --data-dir DATA_DIR ARGS...`` with ``stdin`` as its input."""
    return subprocess.run(
        [sys.executable, "-m", "siyada", "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=ENV,
        timeout=timeout,
        check=False,
    )
