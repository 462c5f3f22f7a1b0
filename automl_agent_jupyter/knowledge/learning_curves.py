"""Learning-curve priors: how a probe's measurements extrapolate to the full-size model, with an interval.

A probe fits a candidate at a fixed effort (a subsample of the train split, catalogue-default parameters at
full size, a fixed number of epochs for networks). The full run spends more effort; the ratio of the two is
the *effort ratio* r (train items x epochs, full over probe). Each curve key (``<modality>:<family>``, e.g.
``tabular:gradient_boosting``) has power laws fitted from measurements (``learning_curves.json``, written by
``benchmarks/fit_learning_curves.py`` from ``benchmarks/ranking.py``'s records):

* error  (1 - score for bounded scores, the metric itself for error metrics):
  ln(err_full) = ln(err_probe) + c - b * log10(r) (b: natural-log drop per decade of effort; c: an offset,
  fitted where the measurements span several probe efforts, else 0), residual standard deviation ``sigma``
  (natural log);
* latency: ln(lat_full) = ln(lat_probe) + a * log10(r), residual ``sigma``;
* size:    ln(size_full) = ln(size_probe) + a * log10(r), residual ``sigma``.

A key without measurements falls back to the family across modalities, then to a wide default derived
from the catalogue's ``learning_curve`` (the share of the error gap closed per 10x rows). Intervals are
``INTERVAL_Z`` residual standard deviations wide on each side (80% under a normal residual).

The same file holds the probes' cost model (``probe_costs``): per catalogue model, the reference CPU seconds
of one probe as ``s0 + s1 * units``, where ``units`` is the work the task module counts for a probe of a given
size (rows x features x classes, items x epochs x item size, ...). The model agent sizes the probes' effort
from the run's budget with it, so the effort follows from the data and the budget, never from a clock.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

INTERVAL_Z = 1.2816  # 80% two-sided interval under normal residuals
DEFAULT_SIGMA = 0.35  # residual (natural log) of an unfitted error curve: wide on purpose
# latency/size growth with the effort ratio when no measurement says otherwise (per 10x rows)
GROWS_WITH_ROWS = {"instance_based": 2.3, "kernel": 2.0, "bagged_trees": 0.7}  # ln units per decade
BOUNDED = ("accuracy", "f1", "f1_weighted", "f1_macro", "precision", "recall", "roc_auc", "rand_index",
           "adjusted_rand_index", "r2", "silhouette")


@lru_cache(maxsize=1)
def priors() -> dict[str, Any]:
    """The fitted priors file (``{"curves": {key: {...}}, "source": ..., ...}``); empty when absent."""
    try:
        text = resources.files(__package__).joinpath("learning_curves.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"curves": {}}
    return json.loads(text)


DEFAULT_COST = {"s0": 0.05, "s1": 0.5}  # reference CPU s of a probe per work unit, for a model never measured


def probe_cost_s(name: str, family: str, units: float, costs: dict[str, Any] | None = None,
                 upper: bool = False) -> float:
    """Reference CPU seconds of one probe of catalogue model ``name`` doing ``units`` of work: its own fitted
    cost, else its family's, else a cautious default. Data, not a clock: the same inputs give the same cost.
    ``upper``: the 80% interval's upper end (the fit's residual ``sigma``), for sizing probes within a share: a
    model whose cost the units predict poorly (an MLP that iterates until it converges) is priced high."""
    costs = priors().get("probe_costs", {}) if costs is None else costs
    c = costs.get(name) or costs.get(f"family:{family}") or DEFAULT_COST
    return float(c["s0"] + c["s1"] * units) * (math.exp(INTERVAL_Z * c.get("sigma", DEFAULT_SIGMA)) if upper else 1.0)


def curve_key(modality: str, family: str) -> str:
    return f"{modality}:{family}"


def curve(modality: str, family: str, catalogue_gain: float = 0.1,
          curves: dict[str, Any] | None = None) -> dict[str, Any]:
    """The prior for one family on one modality: {"metric": {b, sigma, n}, "latency": {...}, "size": {...},
    "key": the key the numbers come from (or "default")}; ``curves`` replaces the shipped ones (benchmarks)."""
    curves = priors().get("curves", {}) if curves is None else curves
    own = curves.get(curve_key(modality, family))
    if own:
        return {**own, "key": curve_key(modality, family)}
    same = [v for k, v in curves.items() if k.split(":", 1)[1] == family]
    if same:  # the family measured on other modalities: the mean slopes, the widest residuals
        out: dict[str, Any] = {"key": f"*:{family}"}
        for part in ("metric", "latency", "size"):
            vals = [v[part] for v in same if part in v]
            if vals:
                slope = "b" if part == "metric" else "a"
                out[part] = {slope: sum(v[slope] for v in vals) / len(vals),
                             "sigma": max(v["sigma"] for v in vals), "n": sum(v.get("n", 0) for v in vals)}
        return out
    b = -math.log(max(1e-3, 1 - min(0.95, catalogue_gain)))  # the error falls by (1 - gain) per decade
    grow = GROWS_WITH_ROWS.get(family, 0.0)
    return {"key": "default", "metric": {"b": b, "sigma": DEFAULT_SIGMA, "n": 0},
            "latency": {"a": grow, "sigma": 0.7, "n": 0}, "size": {"a": grow, "sigma": 0.7, "n": 0}}


def network_ratio(n_train: int, n_probe: int, epochs: int, full_epochs: int, fit_cpu_s: float,
                  share_s: float) -> float:
    """The effort ratio of a network: item passes its training can afford, over the probe's. Training runs
    ``full_epochs`` over ``n_train`` items or what ``share_s`` effort seconds buy at ``fit_cpu_s`` (the probe's
    CPU cost as the cost model predicts it: no clock) per item pass, whichever is less; snapped to an octave
    grid."""
    per_pass = fit_cpu_s / max(1, n_probe * epochs)
    passes = min(n_train * full_epochs, share_s / max(per_pass, 1e-9))
    ratio = max(1.0, passes / max(1, n_probe * epochs))
    return float(2 ** round(math.log2(ratio)))


# A table's plans are ranked on their best candidate's predicted score and only the first is trained, so the family
# whose predictions scatter most (an MLP's probe: residual sd 0.6 in log error, boosting's 0.4) wins the ranking more
# often than it wins training (the winner's curse). The tabular model agent predicts half a residual sd toward the
# worse end: over 15 tables (benchmarks/results/ranking/*: every plan trained, priors refitted leaving each table out)
# the plans it ranks first lose 16% of validation score in all against the best plan, 27% without (0.8 sd: 17%;
# benchmarks/plan_choice.py).
CAUTION = 0.5
ROW_EXPONENT = {"kernel": 2.0}  # how a fit's CPU grows with its train rows (an RBF SVM's about quadratically; else linearly)
PREDICT_GROWS = ("kernel", "instance_based")  # every prediction searches the train rows (support vectors, neighbours)


def affordable_ratio(family: str, data_ratio: float, probe_cost_s: float, probe_queries: int, queries: int,
                     share_s: float) -> float:
    """The effort ratio a tabular candidate's training can afford in ``share_s`` effort seconds, at most ``data_ratio``
    (train rows over the probe's). From the probe's price in the cost model (``probe_cost_s``: data, not a clock, so
    the same on a busy machine): at r times the probe's rows the fit costs ``probe_cost_s * r ** ROW_EXPONENT`` and,
    for kernel and neighbour models, predicting the ``queries`` rows it will predict (validation and test) another
    ``probe_cost_s * r * queries / probe_queries``. The train cell fits SVMs and k-NN on the rows their time affords
    and stops boosting, forests and networks at their time, so a large table's full-size prediction is extrapolated
    to that effort, not to every row."""
    def cost(r: float) -> float:
        c = probe_cost_s * r ** ROW_EXPONENT.get(family, 1.0)
        if family in PREDICT_GROWS:
            c += probe_cost_s * r * queries / max(1, probe_queries)
        return c

    if data_ratio <= 1.0 or cost(data_ratio) <= share_s:
        return max(1.0, data_ratio)
    if cost(1.0) >= share_s:
        return 1.0
    lo, hi = 1.0, data_ratio  # cost grows with r: bisection in log space
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if cost(mid) <= share_s else (lo, mid)
    return round(lo, 3)


def to_error(metric: str, value: float, higher: bool) -> float:
    """The quantity the power law is fitted on: the gap to a perfect score, or the error metric itself."""
    err = (1.0 - value) if higher and metric in BOUNDED or metric.startswith("f1") else abs(value)
    return max(err, 1e-4)


def from_error(metric: str, err: float, higher: bool) -> float:
    return 1.0 - err if higher and metric in BOUNDED or metric.startswith("f1") else err


def extrapolate_metric(metric: str, higher: bool, probe_value: float, ratio: float,
                       prior: dict[str, Any], caution: float = 0.0) -> tuple[float, float, float]:
    """(prediction, interval low, interval high) for the full-size score, in the metric's own units. ``caution``
    (residual sds) moves the prediction toward the interval's worse end, the interval stays: a cautious estimate,
    for choosing among noisy predictions (see CAUTION)."""
    m = prior["metric"]
    log_r = math.log10(max(1.0, ratio))
    err = to_error(metric, probe_value, higher)
    mid = math.log(err) + m.get("c", 0.0) - m["b"] * log_r
    width = INTERVAL_Z * m["sigma"]
    vals = sorted(from_error(metric, math.exp(x), higher) for x in (mid - width, mid, mid + width))
    pred = from_error(metric, math.exp(mid + caution * m["sigma"]), higher)
    if metric in BOUNDED or metric.startswith("f1"):  # a score stays within [0, 1] (r2 at most 1)
        low = -math.inf if metric == "r2" else 0.0
        vals = [min(1.0, max(low, v)) for v in vals]
        pred = min(1.0, max(low, pred))
    return pred, vals[0], vals[2]


def extrapolate_cost(part: str, probe_value: float, ratio: float, prior: dict[str, Any]) -> tuple[float, float, float]:
    """(prediction, low, high) for latency or size at full size."""
    c = prior[part]
    mid = math.log(max(probe_value, 1e-6)) + c["a"] * math.log10(max(1.0, ratio))
    width = INTERVAL_Z * c["sigma"]
    return math.exp(mid), math.exp(mid - width), math.exp(mid + width)


def describe(prior: dict[str, Any]) -> str:
    m = prior["metric"]
    where = "fitted on " + str(m.get("n", 0)) + " measurements" if prior["key"] != "default" else \
        "unfitted default from the catalogue"
    return f"learning curve {prior['key']} (error x r^-{m['b']:.2f}, +-{m['sigma']:.2f} log; {where})"
