"""The paper's scores: success rate (SR), normalised performance score (NPS), comprehensive score (CS).

* SR: 1 when the run produced a model whose test metric was measured, else 0.
* NPS: the metric itself for accuracy / F1 / Rand index (higher is better, in [0, 1]);
  1 / (1 + s) for an error metric s (RMSLE, RMSE, ...). 0 when nothing was measured.
* CS = 0.5 * SR + 0.5 * NPS.

Pure functions, no third-party imports: the harness, the baseline worker (another venv) and the tests
all use them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

ERROR_METRICS = {"rmsle", "rmse", "mae", "mse"}


def nps(metric: str, value: float | None) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0.0
    if metric in ERROR_METRICS:
        return 1.0 / (1.0 + float(value))
    return float(value)


def cs(sr: float, nps_value: float) -> float:
    return 0.5 * sr + 0.5 * nps_value


def score_row(metric: str, value: float | None) -> dict[str, float]:
    sr = 0.0 if value is None else 1.0
    n = nps(metric, value) if sr else 0.0
    return {"SR": sr, "NPS": n, "CS": cs(sr, n)}


def mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def ratio(baseline: float | None, ours: float | None) -> float | None:
    """baseline / ours (below 1: ours is better on a higher-is-better score such as NPS)."""
    if baseline is None or ours is None or ours == 0:
        return None
    return baseline / ours


def check(name: str, target: float, value: float | None, higher_is_better: bool) -> bool | None:
    if value is None:
        return None
    return value >= target if higher_is_better else value <= target


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the rows that ran (rows marked unsupported or not run are left out, and counted)."""
    ran = [r for r in rows if r.get("status") not in ("unsupported", "not_run")]
    held = [r["constraints_all_held"] for r in ran if r.get("constraints_all_held") is not None]
    return {
        "n_rows": len(rows), "n_ran": len(ran),
        "n_unsupported": sum(1 for r in rows if r.get("status") == "unsupported"),
        "n_not_run": sum(1 for r in rows if r.get("status") == "not_run"),
        "SR": mean(r["scores"]["SR"] for r in ran), "NPS": mean(r["scores"]["NPS"] for r in ran),
        "CS": mean(r["scores"]["CS"] for r in ran),
        "requirements_met": (sum(held) / len(held)) if held else None,
        "wall_s": sum(r.get("wall_s") or 0 for r in ran),
    }
