"""Where the real datasets are: ../shared/datasets beside the clone (tests skip when it is missing)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def dataset(relative: str) -> str:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"dataset not found: {path}")
    return str(path)


def import_file(path: str | Path, name: str | None = None) -> ModuleType:
    """A run's generated script (predict.py, serve.py) imported from disk, as a user would."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(name or f"{path.stem}_{path.parent.name}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
