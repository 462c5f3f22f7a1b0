"""Metric functions shared by the model agent's probes and the verification of reported numbers."""
from __future__ import annotations

import numpy as np

from .base import METRIC_DIRECTION


def higher_is_better(metric: str) -> bool:
    return METRIC_DIRECTION.get(metric, True)


def score(metric: str, y_true, pred) -> float:
    from sklearn import metrics as skm

    y_true, pred = np.asarray(y_true), np.asarray(pred)
    binary = len(np.unique(y_true)) <= 2
    if metric == "accuracy":
        return float(skm.accuracy_score(y_true, pred))
    if metric in ("f1", "precision", "recall"):
        fn = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}[metric]
        return float(fn(y_true, pred, average="binary" if binary else "weighted", zero_division=0))
    if metric in ("f1_weighted", "f1_macro"):
        return float(skm.f1_score(y_true, pred, average=metric.split("_")[1], zero_division=0))
    if metric == "rand_index":
        return float(skm.rand_score(y_true, pred))
    if metric == "adjusted_rand_index":
        return float(skm.adjusted_rand_score(y_true, pred))
    y_true, pred = y_true.astype(float), pred.astype(float)
    if metric == "rmsle":
        return float(np.sqrt(np.mean((np.log1p(np.clip(pred, 0, None)) - np.log1p(np.clip(y_true, 0, None))) ** 2)))
    if metric == "rmse":
        return float(np.sqrt(np.mean((pred - y_true) ** 2)))
    if metric == "mse":
        return float(np.mean((pred - y_true) ** 2))
    if metric == "mae":
        return float(np.mean(np.abs(pred - y_true)))
    if metric == "r2":
        return float(skm.r2_score(y_true, pred))
    raise ValueError(f"unknown metric {metric!r}")
