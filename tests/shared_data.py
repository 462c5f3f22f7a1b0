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


def check_plots(run, expected: set[str]) -> dict[str, Path]:
    """The run's plots: each expected one is a non-empty PNG in the run folder, listed in run.json's artifacts;
    none failed to draw. Returns name -> path."""
    import json

    record = json.loads((Path(run.folder) / "run.json").read_text())
    plots = {k.split(":", 1)[1]: Path(v) for k, v in record["artifacts"].items() if k.startswith("plot:")}
    assert expected <= set(plots), (expected, sorted(plots))
    for name, path in plots.items():
        assert path.parent == Path(run.folder) / "plots", path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000, name
    results = json.loads((Path(run.folder) / "results.json").read_text())
    assert not [n for n in results.get("plot_notes", []) if "Error" in n or "Exception" in n], results["plot_notes"]
    assert results["main_plot"] in plots
    assert 0 < record["timings"]["plots"] < record["timings"]["total"]
    return plots


def banana_sample(folder: Path, rows: int = 900) -> str:
    """A small real banana table (a fixed random sample of the shared one) written into folder."""
    import pandas as pd

    path = Path(folder) / f"banana_{rows}.csv"
    pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(rows, random_state=0).to_csv(path, index=False)
    return str(path)
