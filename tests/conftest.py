"""Shared fixtures: the real datasets and small budgets."""
from __future__ import annotations

import pytest
from shared_data import dataset


@pytest.fixture
def banana() -> str:
    return dataset("banana_quality/banana_quality.csv")
