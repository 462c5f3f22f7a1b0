"""Where the real datasets are: ../shared/datasets beside the clone (tests skip when it is missing)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def dataset(relative: str) -> str:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"dataset not found: {path}")
    return str(path)
