"""Metrics and their directions, in one place.

The model agent's probes and the verification use the functions here; the generated code gets the very
same functions: the templates render their source (``{{ metric_functions }}``, see :func:`generated_source`),
so a generated cell stays standalone and computes every metric exactly as the agent does. RMSLE is
defined for non-negative targets only: with a negative target it is left out (the primary metric is then
RMSE), never computed on clipped targets.
"""
from __future__ import annotations

import inspect

import numpy as np

# metric -> higher is better
METRIC_DIRECTION = {
    "accuracy": True, "f1": True, "f1_macro": True, "f1_weighted": True, "precision": True, "recall": True,
    "roc_auc": True, "rand_index": True, "adjusted_rand_index": True, "silhouette": True, "r2": True,
    "rmsle": False, "rmse": False, "mae": False, "mse": False,
}
LOWER_IS_BETTER = tuple(m for m, higher in METRIC_DIRECTION.items() if not higher)
CLASSIFICATION_METRICS = ("f1", "f1_weighted", "f1_macro", "accuracy", "precision", "recall")
REGRESSION_METRICS = ("rmsle", "rmse", "mae", "mse", "r2")
CLUSTERING_METRICS = ("rand_index", "adjusted_rand_index", "silhouette")


def higher_is_better(metric: str) -> bool:
    return METRIC_DIRECTION.get(metric, True)


# ---------------------------------------------------------------- rendered into the generated code as they are
def score_classification(y_true, pred, n_classes):
    """Accuracy and F1 / precision / recall (two classes: for class code 1; more: weighted), weighted and
    macro F1."""
    from sklearn import metrics as skm

    avg = "binary" if n_classes == 2 else "weighted"
    return {"accuracy": float(skm.accuracy_score(y_true, pred)),
            "f1": float(skm.f1_score(y_true, pred, average=avg, zero_division=0)),
            "f1_weighted": float(skm.f1_score(y_true, pred, average="weighted", zero_division=0)),
            "f1_macro": float(skm.f1_score(y_true, pred, average="macro", zero_division=0)),
            "precision": float(skm.precision_score(y_true, pred, average=avg, zero_division=0)),
            "recall": float(skm.recall_score(y_true, pred, average=avg, zero_division=0))}


def score_regression(y_true, pred):
    """RMSE, MAE, MSE, R2; RMSLE (predictions clipped at 0) only when no target is negative."""
    import numpy as np
    from sklearn import metrics as skm

    y_true, pred = np.asarray(y_true, float), np.asarray(pred, float)
    out = {"rmse": float(np.sqrt(skm.mean_squared_error(y_true, pred))),
           "mae": float(skm.mean_absolute_error(y_true, pred)),
           "mse": float(skm.mean_squared_error(y_true, pred)), "r2": float(skm.r2_score(y_true, pred))}
    if (y_true >= 0).all():
        out["rmsle"] = float(np.sqrt(np.mean((np.log1p(np.clip(pred, 0, None)) - np.log1p(y_true)) ** 2)))
    return out


def generated_source() -> str:
    """The metric definitions for a generated cell: the functions above and the metrics' directions."""
    return (f"LOWER_IS_BETTER = {LOWER_IS_BETTER!r}  # the error metrics (negated where higher must be better)\n\n\n"
            + "\n\n".join(inspect.getsource(f) for f in (score_classification, score_regression)).rstrip("\n"))


# ---------------------------------------------------------------- the agent's own use
def score(metric: str, y_true, pred) -> float:
    """One metric on held-out rows (the probes)."""
    from sklearn import metrics as skm

    y_true, pred = np.asarray(y_true), np.asarray(pred)
    if metric in CLASSIFICATION_METRICS:
        return score_classification(y_true, pred, 2 if len(np.unique(y_true)) <= 2 else 3)[metric]
    if metric == "rand_index":
        return float(skm.rand_score(y_true, pred))
    if metric == "adjusted_rand_index":
        return float(skm.adjusted_rand_score(y_true, pred))
    if metric in REGRESSION_METRICS:
        values = score_regression(y_true, pred)
        if metric not in values:
            raise ValueError("rmsle is undefined for negative targets")
        return values[metric]
    raise ValueError(f"unknown metric {metric!r}")
