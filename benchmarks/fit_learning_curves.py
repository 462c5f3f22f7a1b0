"""Fit the model agent's learning-curve priors from measurements; write them as package data.

Input: the records of ``benchmarks/ranking.py run`` (benchmarks/results/ranking/records.json): for every
(dataset, plan, candidate) the probe's raw measurements (its validation score at the probe's effort, the
effort ratio to the full run, its CPU latency and size) and what the plan's own train cell then realized
(validation score after tuning within the budget, latency and size as trained).

Per curve key ``<modality>:<family>`` (see automl_agent_jupyter/knowledge/learning_curves.py), least squares
through the origin, in log space:

* error:   ln(err_realized / err_probe)   = -b * log10(effort ratio)   (effort_ratio: as the model agent
  computes it, for a network from the share of the budget its training had)
* latency: ln(lat_realized / lat_probe)   =  a * log10(data ratio)   (CPU ms of one prediction, both)
* size:    ln(size_realized / size_probe) =  a * log10(data ratio)

``sigma`` is the residual standard deviation (n - 1 degrees of freedom; at least SIGMA_FLOOR, and wider
for keys with fewer than three measurements), the interval's width.

With ``benchmarks/ranking.py probes``' measurements (results/ranking/probes.json: every candidate probed at
every probe effort), the curves are fitted on those probes joined with the records' realized numbers (so the
priors hold from every effort the budget may size), and the probes' cost model is fitted too: per catalogue
model (and pooled per family, ``family:<name>``), non-negative least squares of the measured probe CPU seconds
on the task module's work units, ``cpu_s = s0 + s1 * units``; ``sigma`` is the residual sd of
ln(measured / predicted).

    .venv/bin/python -m benchmarks.fit_learning_curves [records.json [learning_curves.json [probes.json]]] [--wide FILE]

``--wide FILE`` (repeatable; default results/ranking/records-wide.json when present) adds the records of
``benchmarks.ranking run --datasets <dev tables of the wide bench>``: real tables up to 255,000 rows, each row with
its own probe, or joined with ``probes-wide.json`` beside it (``benchmarks.ranking probes --datasets ... --probes
results/ranking/probes-wide.json``: the tables probed at every effort as the model agent probes now); a table's
effort ratio is what its training share affords (learning_curves.affordable_ratio).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "results" / "ranking" / "records.json"
PROBES = HERE / "results" / "ranking" / "probes.json"
WIDE_RECORDS = HERE / "results" / "ranking" / "records-wide.json"  # dev tables of the wide bench (registry.py)
TARGET = HERE.parent / "automl_agent_jupyter" / "knowledge" / "learning_curves.json"
SIGMA_FLOOR = 0.08
FEW = 3  # fewer measurements than this: the residual is widened
MIN_SPAN = 0.5  # decades of effort ratio the measurements must span for a fitted intercept
B_RANGE = (-0.5, 3.0)


def _line(xs: list[float], ys: list[float], lo: float = -5.0, hi: float = 5.0) -> tuple[float, float, float]:
    """(intercept, slope, residual sd) of ys on xs by least squares, where the xs span at least MIN_SPAN (probes
    at several efforts); else the line through the origin (``_slope``) with intercept 0."""
    if len(xs) < FEW or max(xs) - min(xs) < MIN_SPAN:
        slope, sd = _slope(xs, ys, lo, hi)
        return 0.0, slope, sd
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = min(hi, max(lo, sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx))
    icept = my - slope * mx
    res = [y - icept - slope * x for x, y in zip(xs, ys)]
    sd = max(SIGMA_FLOOR, math.sqrt(sum(r * r for r in res) / max(1, n - 2)))
    return icept, slope, sd


def _slope(xs: list[float], ys: list[float], lo: float = -5.0, hi: float = 5.0) -> tuple[float, float]:
    """(slope through the origin, residual sd) of ys on xs; a flat x (all near 0) gives slope 0."""
    sxx = sum(x * x for x in xs)
    slope = sum(x * y for x, y in zip(xs, ys)) / sxx if sxx > 1e-6 else 0.0
    slope = min(hi, max(lo, slope))
    res = [y - slope * x for x, y in zip(xs, ys)]
    n = len(res)
    sd = math.sqrt(sum(r * r for r in res) / max(1, n - 1)) if n > 1 else abs(res[0]) if res else 0.0
    sd = max(SIGMA_FLOOR, sd) * (1.0 if n >= FEW else 1.5)
    return slope, sd


CELL_BUDGET_S = 45.0  # what benchmarks/ranking.py gives each group's cells (a default run's training part)
GROUP = 3


def annotate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with ``share_s``, the effort seconds its candidate's training had (CELL_BUDGET_S over its group:
    consecutive chunks of GROUP candidates per plan, as ranking.py trains them) when the record lacks it."""
    seen: dict[tuple, int] = {}
    sizes: dict[tuple, int] = {}
    for r in rows:
        sizes[(r["dataset"], r["plan"])] = sizes.get((r["dataset"], r["plan"]), 0) + 1
    out = []
    for r in rows:
        key = (r["dataset"], r["plan"])
        i = seen.get(key, 0)
        seen[key] = i + 1
        if "share_s" not in r:
            start = i - i % GROUP
            r = {**r, "share_s": CELL_BUDGET_S / min(GROUP, sizes[key] - start)}
        out.append(r)
    return out


def effort_ratio(r: dict[str, Any]) -> float:
    """A record's effort ratio as the model agent computes it: rows for the tabular task and classical models,
    the affordable item passes over the probe's for a network (its training share in effort seconds)."""
    from automl_agent_jupyter.knowledge import learning_curves as lc
    from automl_agent_jupyter.knowledge import model_entry

    p = r["probe"]
    if not p.get("epochs"):
        if p.get("row_ratio") and r.get("share_s"):  # a table: the effort its training share affords (as the probe does)
            return lc.affordable_ratio(r["family"], p["row_ratio"], lc.probe_cost_s(r["candidate"], r["family"],
                                                                                    p["units"]),
                                       p["valid_items"], p["queries"], r["share_s"])
        return p["effort_ratio"]
    full = int(model_entry(r["candidate"]).get("defaults", {}).get("max_epochs", 1))
    # the cost model's price of the probe (as the model agent now computes it), else the measured CPU of old records
    cost = lc.probe_cost_s(r["candidate"], r["family"], p["units"]) if "units" in p else p["fit_cpu_s"]
    return lc.network_ratio(int(r["n_train"]), int(p["items"]), int(p["epochs"]), full, cost, r["share_s"])


def fit(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Curve key -> {"metric": {b, sigma, n}, "latency": {a, sigma, n}, "size": {a, sigma, n}, "datasets"}."""
    from automl_agent_jupyter.knowledge import learning_curves as lc
    from automl_agent_jupyter.tasks.scoring import higher_is_better

    groups: dict[str, dict[str, Any]] = {}
    for r in annotate(rows):
        real, p = r.get("realized") or {}, r.get("probe") or {}
        if real.get("valid_metric") is None or p.get("metric") is None:
            continue
        modality = {"image_classification": "image", "text_classification": "text",
                    "time_series_forecasting": "time_series", "node_classification": "graph"}.get(r["task"], "tabular")
        g = groups.setdefault(lc.curve_key(modality, r["family"]), {"m": ([], []), "l": ([], []), "s": ([], []),
                                                                   "datasets": set()})
        g["datasets"].add(r["dataset"])
        higher = higher_is_better(r["metric"])
        g["m"][0].append(math.log10(max(1.0, effort_ratio(r))))
        g["m"][1].append(math.log(lc.to_error(r["metric"], real["valid_metric"], higher)
                                  / lc.to_error(r["metric"], p["metric"], higher)))
        data_ratio = math.log10(max(1.0, p.get("data_ratio", p["effort_ratio"])))
        real_lat = real.get("latency_cpu_ms") or real.get("latency_ms")
        for part, real_v, probe_v in (("l", real_lat, p.get("latency_ms")), ("s", real.get("size_mb"), p.get("size_mb"))):
            if real_v and probe_v:
                g[part][0].append(data_ratio)
                g[part][1].append(math.log(real_v / probe_v))
    curves = {}
    for key, g in sorted(groups.items()):
        icept, slope, sb = _line(*g["m"], -B_RANGE[1], -B_RANGE[0])  # error falls as effort grows: b = -slope
        out: dict[str, Any] = {"metric": {"b": round(-slope, 4), "c": round(icept, 4), "sigma": round(sb, 4),
                                          "n": len(g["m"][0])},
                               "datasets": sorted(g["datasets"])}
        for part, name in (("l", "latency"), ("s", "size")):
            if g[part][0]:
                a, sa = _slope(*g[part])
                out[name] = {"a": round(a, 4), "sigma": round(sa, 4), "n": len(g[part][0])}
            else:
                out[name] = {"a": 0.0, "sigma": 0.7, "n": 0}
        curves[key] = out
    return curves


def fit_costs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Catalogue model (and ``family:<name>``) -> {"s0", "s1", "sigma", "n"}: a probe's reference CPU seconds
    as s0 + s1 * units, from the probes' measured CPU seconds (one thread) and the task modules' units."""
    import numpy as np
    from scipy.optimize import nnls

    groups: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        p = r.get("probe") or {}
        if p.get("cpu_s") is None or p.get("units") is None:
            continue
        for key in (r["candidate"], f"family:{r['family']}"):
            groups.setdefault(key, []).append((float(p["units"]), float(p["cpu_s"])))
    out = {}
    for key, pts in sorted(groups.items()):
        u = np.array([x for x, _ in pts])
        y = np.array([max(1e-3, v) for _, v in pts])
        w = 1.0 / y  # relative errors: a small probe's seconds count as much as a large one's
        (s0, s1), _ = nnls(np.column_stack([np.ones_like(u), u]) * w[:, None], y * w)
        pred = np.maximum(1e-3, s0 + s1 * u)
        res = np.log(y / pred)
        out[key] = {"s0": round(float(s0), 5), "s1": round(float(s1), 5),
                    "sigma": round(float(np.sqrt((res ** 2).mean())), 3), "n": len(pts)}
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wide = []  # --wide FILE: records of `benchmarks.ranking run --datasets <dev tables of the wide bench>`, joined in
    while "--wide" in argv:
        i = argv.index("--wide")
        wide.append(Path(argv[i + 1]).resolve())
        del argv[i:i + 2]
    if not wide and WIDE_RECORDS.exists():
        wide = [WIDE_RECORDS]
    src = Path(argv[0]).resolve() if argv else RECORDS
    target = Path(argv[1]) if len(argv) > 1 else TARGET
    probes_path = Path(argv[2]) if len(argv) > 2 else PROBES
    data = json.loads(src.read_text())
    where = src.relative_to(HERE.parent) if src.is_relative_to(HERE.parent) else src
    out: dict[str, Any] = {
        "source": f"benchmarks/ranking.py run (budget {data.get('budget_s')} s, seed {data.get('seed')}, measured "
                  f"{data.get('measured')}) on the benchmark datasets; records in {where}",
        "fitted_by": "benchmarks/fit_learning_curves.py: least squares through the origin in log space per "
                     "<modality>:<family>; sigma = residual sd (widened below 3 measurements)",
        "fitted": time.strftime("%Y-%m-%d")}
    rows = data["rows"]
    if probes_path.exists():
        from benchmarks.ranking import join_realized

        probe_data = json.loads(probes_path.read_text())
        rows = join_realized(probe_data["rows"], data["rows"])
        out["source"] += (f"; probes re-measured at every probe effort by benchmarks/ranking.py probes (measured "
                          f"{probe_data.get('measured')}, {len(probe_data['rows'])} probes; load average "
                          f"{probe_data.get('load')}) and joined with those records' realized numbers")
        out["probe_costs_source"] = ("benchmarks/ranking.py probes: every candidate's probe at every effort, one "
                                     "thread, measured CPU seconds (fit, scoring, latency) against the task "
                                     "module's work units; cpu_s = s0 + s1 * units by non-negative least squares")
        out["probe_costs"] = fit_costs(probe_data["rows"])
    for path in wide:  # what training realized on wide-bench dev tables, joined with their probes at every effort
        extra = json.loads(path.read_text())
        name = path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path
        probes_path = path.with_name(path.name.replace("records", "probes"))
        if probes_path.exists():  # re-probed as the model agent probes now (benchmarks.ranking probes)
            from benchmarks.ranking import join_realized

            joined = join_realized(json.loads(probes_path.read_text())["rows"], extra["rows"])
            how = f"{len(joined)} probes at every effort ({probes_path.name}) joined with"
        else:  # each record's own probe, at the effort its run sized
            joined, how = extra["rows"], "with"
        rows = rows + joined
        out["source"] += (f"; {how} {len(extra['rows'])} records of wide-bench dev tables "
                          f"({', '.join(sorted({r['dataset'] for r in extra['rows']}))}; budget {extra.get('budget_s')} s, "
                          f"measured {extra.get('measured')}, load {extra.get('load')}) in {name}")
    curves = fit(rows)
    out["curves"] = curves
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target} ({len(curves)} curves from {len(rows)} records)")
    for k, v in out.get("probe_costs", {}).items():
        print(f"cost {k:32s} s0 {v['s0']:.4f} s1 {v['s1']:.4f} sigma {v['sigma']:.2f} n {v['n']}")
    for k, v in curves.items():
        print(f"{k:32s} b {v['metric']['b']:+.3f} sd {v['metric']['sigma']:.3f} n {v['metric']['n']} | latency a "
              f"{v['latency']['a']:+.2f} sd {v['latency']['sigma']:.2f} | size a {v['size']['a']:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
