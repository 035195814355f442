from __future__ import annotations

import csv
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def lid_examples() -> list[tuple[str, str]]:
    with (DATA / "lid_examples.tsv").open(encoding="utf-8") as handle:
        return [(row["label"], row["text"]) for row in csv.DictReader(handle, delimiter="\t")]
