"""The model agent's training-free ranking, checked against what training then shows.

For every benchmark dataset the offline pipeline plans as usual, with top-k large enough that every
candidate of every plan is probed and kept. Each plan's candidates are then trained by the plan's own
generated cells (setup .. train), three at a time as in a default run (top-k 3 shares the budget three
ways), and each candidate's realized validation score, latency and size are read from the train cell's
RESULTS["tuning"] (ModelAgent.check), beside the probe's raw measurements and its predictions.

    .venv/bin/python -m benchmarks.ranking run              # all datasets -> benchmarks/results/ranking/records.json
    .venv/bin/python -m benchmarks.ranking report           # the table: Spearman and latency error, with the
                                                            # priors now in knowledge/learning_curves.json
    .venv/bin/python -m benchmarks.ranking load             # same ranking and plan with two busy loops beside it?
    .venv/bin/python -m benchmarks.ranking accuracy         # a default MNIST run with two busy loops beside it
    .venv/bin/python -m benchmarks.ranking probes           # every candidate probed at every probe effort ->
                                                            # results/ranking/probes.json (the cost model's
                                                            # measurements; the priors' refit at every effort)
    .venv/bin/python -m benchmarks.ranking report --probes  # the table at the effort a default run sizes: probes
                                                            # from probes.json, realized numbers from records.json

``report`` re-applies the current priors to the stored raw probe measurements, so refitting the priors
(benchmarks/fit_learning_curves.py) needs no new training; ``--loo`` refits them leaving each dataset out.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "ranking"
DATASETS_DIR = Path(os.environ.get("AUTOML_AGENT_DATASETS", HERE.parent.parent / "shared" / "datasets"))
if not DATASETS_DIR.exists():
    DATASETS_DIR = HERE.parent.parent.parent / "shared" / "datasets"

# key -> (path under the datasets dir, instruction)
DATASETS = {
    "banana_quality": ("banana_quality/banana_quality.csv",
                       "Classify banana Quality as Good or Bad from the measurements; report the F1 score."),
    "software_defects": ("software_defects/jm1.csv",
                         "Predict whether a software module has defects (the defects column); report the F1 score."),
    "mfeat_factors": ("mfeat_factors/mfeat_factors.csv",
                      "Classify handwritten digits into their class (the class column); report the weighted F1."),
    "smoker_status": ("smoker_status/smoker_status_biosignals.csv",
                      "Predict smoking status (the smoking column) from bio-signals; report the F1 score."),
    "crab_age": ("crab_age/CrabAgePrediction.csv", "Predict the Age of crabs; report RMSLE."),
    "mnist": ("mnist_test_images/mnist_test_10k.npz", "Classify the handwritten digits; report accuracy."),
    "sms_spam": ("sms_spam/SMSSpamCollection.tsv", "Classify SMS messages as spam or ham; report the F1 score."),
    "sick": ("textual_entailment_sick/sick_text1_text2_label.csv",
             "Classify the entailment label of each sentence pair; report accuracy."),
    "etth1": ("etth1_timeseries/ETTh1.csv", "Forecast the OT column of ETTh1 96 steps ahead from 96; report MSE."),
    "cora": ("cora", "Classify the Cora papers (node classification); report accuracy."),
}
LOAD_DATASETS = ("banana_quality", "software_defects", "mnist", "sms_spam")
GROUP = 3  # candidates trained together, as top-k 3 does by default
# what the cells of a default run get: 0.75 of the default 60 s run budget (the model agent's TRAIN_SHARE)
CELL_BUDGET_S = 45.0


def _agent(**settings: Any):
    from automl_agent_jupyter.api import AutoMLAgent

    return AutoMLAgent(**settings)


def dataset_source(key: str) -> tuple[Path, str]:
    """(data path, instruction) of a shared dataset, or of a wide bench table of the dev half (``--datasets
    cps_wages,...``: written by benchmarks.registry on first use). The check half is never run here."""
    if key in DATASETS:
        path, instruction = DATASETS[key]
        return DATASETS_DIR / path, instruction
    from benchmarks import registry

    if key not in registry.HALVES["dev"]:
        raise SystemExit(f"{key}: neither a shared dataset nor a dev table of the wide bench")
    entry = registry.BY_KEY[key]
    registry.materialise(entry)
    return registry.DATA_DIR / entry.folder / entry.data, entry.instructions["cf"]


def plan_all(key: str, budget_s: float, seed: int, folder: Path) -> Any:
    """The offline pipeline's plans with every candidate probed and kept (top-k 20), as a Manager."""
    path, instruction = dataset_source(key)
    m = _agent(budget_s=budget_s, top_k=20, seed=seed).manager()
    m.plan(instruction, data=str(path), out=folder)
    return m


def train_group(m: Any, plan: Any, names: list[str], folder: Path) -> dict[str, Any]:
    """Run the plan's own cells (setup .. train) for the named candidates; RESULTS of the run (the test split is
    never scored: only validation scores, latency and size as trained are read)."""
    from automl_agent_jupyter.agents.model import ModelAgent
    from automl_agent_jupyter.execution import NamespaceExecutor
    from automl_agent_jupyter.tasks import for_task

    cands = ModelAgent._budget([c for c in plan.candidates if c.name in names], m.settings.budget_s)
    sub = plan.model_copy(update={"candidates": cands})
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"run_id": folder.name, "run_dir": str(folder), "seed": m.settings.seed, "storage": None,
                "budget_s": CELL_BUDGET_S}
    pl = m.planning
    cells = for_task(pl.requirements.task).cells(sub, pl.requirements, pl.report, settings)
    ex = NamespaceExecutor()
    for cell in cells:
        if cell.stage in ("evaluate", "measure", "save", "predict"):  # what training realized is all it needs
            break
        res = ex.run(cell.source, cell.stage)
        if not res.ok:
            return {"error": f"{cell.stage}: {res.error_type}: {res.error}"[:300]}
    return ex.namespace.get("RESULTS", {})


def run(keys: list[str], budget_s: float, seed: int, save: Any = None) -> list[dict[str, Any]]:
    """Every candidate of every plan trained (GROUP at a time); ``save(rows)`` after each dataset."""
    from automl_agent_jupyter.agents.model import ModelAgent

    rows = []
    work = Path(tempfile.mkdtemp(prefix="ranking-bench-"))
    for key in keys:
        t0 = time.time()
        m = plan_all(key, budget_s, seed, work / key)
        rec = m.record
        if rec.status != "planned":
            print(f"{key}: {rec.status} {rec.message}", flush=True)
            continue
        metric = m.metric
        for plan in rec.plans:
            ok = [c for c in plan.candidates if c.predicted_metric is not None]
            for i in range(0, len(ok), GROUP):
                names = [c.name for c in ok[i:i + GROUP]]
                results = train_group(m, plan, names, work / key / f"{plan.id}-{i}")
                if "error" in results:
                    print(f"{key} {plan.id} {names}: {results['error']}", flush=True)
                    continue
                checked = ModelAgent.check(plan.model_copy(update={"candidates": [
                    c for c in plan.candidates if c.name in names]}), results, metric)
                for c in checked.candidates:
                    rows.append({"dataset": key, "task": m.planning.requirements.task, "metric": metric,
                                 "plan": plan.id,
                                 "share_s": CELL_BUDGET_S / len(names),
                                 "recipe": plan.preprocessing.get("recipe"), "candidate": c.name, "family": c.family,
                                 "n_train": rec.data_report.split["sizes"]["train"],
                                 "predicted_metric": c.predicted_metric, "interval": c.predicted_interval,
                                 "predicted_latency_ms": c.predicted_latency_ms, "predicted_size_mb": c.predicted_size_mb,
                                 "probe": c.probe, "realized": c.realized})
                    r = c.realized
                    print(f"{key:17s} {plan.id} {c.name:22s} predicted {c.predicted_metric} "
                          f"{c.predicted_interval} realized {r.get('valid_metric')} | latency "
                          f"{c.predicted_latency_ms} vs {r.get('latency_ms')}", flush=True)
        print(f"{key}: {time.time() - t0:.0f} s", flush=True)
        if save:
            save(rows)
    return rows


def probes(keys: list[str], budget_s: float, seed: int, save: Any = None) -> list[dict[str, Any]]:
    """Every candidate of every plan probed at each of PROBE_EFFORTS (and the effort the budget sizes, marked
    ``sized``), with its measured CPU seconds and the cost model's work units: no training."""
    from automl_agent_jupyter.agents.model import ModelAgent
    from automl_agent_jupyter.tasks import for_task
    from automl_agent_jupyter.tasks.base import PROBE_EFFORTS

    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="ranking-probes-"))
    for key in keys:
        path, instruction = dataset_source(key)
        sized = None
        for effort in PROBE_EFFORTS:
            fresh_probes()
            m = _agent(budget_s=budget_s, top_k=20, seed=seed, probe_effort=effort).manager()
            t0 = time.time()
            rec = m.plan(instruction, data=str(path), out=work / f"{key}-{effort:g}")
            if rec.status != "planned":
                print(f"{key}: {rec.status} {rec.message}", flush=True)
                break
            if sized is None:  # what a default run at this budget would use
                task = for_task(m.planning.requirements.task)
                sized = ModelAgent.probe_effort(task, rec.plans, m.planning.report,
                                                {"budget_s": budget_s, "probe_share": m.settings.probe_share})
            for plan in rec.plans:
                for c in plan.candidates:
                    rows.append({"dataset": key, "task": m.planning.requirements.task, "metric": m.metric,
                                 "plan": plan.id, "recipe": plan.preprocessing.get("recipe"), "candidate": c.name,
                                 "family": c.family, "n_train": rec.data_report.split["sizes"]["train"],
                                 "effort": effort, "sized": effort == sized["effort"],
                                 "predicted_metric": c.predicted_metric, "interval": c.predicted_interval,
                                 "predicted_latency_ms": c.predicted_latency_ms, "probe": c.probe})
            print(f"{key} effort {effort:g}: planning {time.time() - t0:.1f} s, probes measured "
                  f"{rec.probe_effort.get('measured_cpu_s')} CPU s, predicted {rec.probe_effort.get('predicted_cpu_s')}"
                  f"{' (the budget-sized effort)' if effort == sized['effort'] else ''}", flush=True)
        if save:
            save(rows)
    return rows


def sized_rows(probe_rows: list[dict[str, Any]], budget_s: float = 60.0) -> list[dict[str, Any]]:
    """The probe rows at the effort a run with ``budget_s`` sizes with the cost model as it is now (the model
    agent's rule: the largest effort whose probes, one per recipe and candidate, each at its 80% upper cost, fit the
    budget's share)."""
    from automl_agent_jupyter.knowledge import learning_curves as lc
    from automl_agent_jupyter.tasks import for_task

    out = []
    for key in dict.fromkeys(r["dataset"] for r in probe_rows):
        rows = [r for r in probe_rows if r["dataset"] == key]
        efforts = sorted({r["effort"] for r in rows}, reverse=True)
        cost = {}
        for e in efforts:
            seen = {(r.get("recipe"), r["candidate"]): r for r in rows if r["effort"] == e}
            cost[e] = sum(lc.probe_cost_s(r["candidate"], r["family"], r["probe"]["units"], upper=True)
                          for r in seen.values() if r["probe"].get("units") is not None)
        share = for_task(rows[0]["task"]).probe_share
        effort = next((e for e in efforts if cost[e] <= share * budget_s), efforts[-1])
        out += [r for r in rows if r["effort"] == effort]
    return out


def join_realized(probe_rows: list[dict[str, Any]], trained: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Probe rows with the realized numbers (and training share) of the same dataset, plan and candidate from a
    training run's records (else the same recipe and candidate); rows without a match are left out."""
    from benchmarks.fit_learning_curves import annotate

    by_plan, by_recipe = {}, {}
    for r in annotate(trained):
        by_plan.setdefault((r["dataset"], r["plan"], r["candidate"]), r)
        by_recipe.setdefault((r["dataset"], r.get("recipe"), r["candidate"]), r)
    out = []
    for r in probe_rows:
        t = by_plan.get((r["dataset"], r["plan"], r["candidate"]))
        if t is None or t.get("recipe") != r.get("recipe"):
            t = by_recipe.get((r["dataset"], r.get("recipe"), r["candidate"]))
        if t is not None and t.get("realized"):
            out.append({**r, "realized": t["realized"], "share_s": t["share_s"]})
    return out


# ---------------------------------------------------------------------------------------- report
def nps(metric: str, value: float) -> float:
    """The paper's normalised performance score: the metric itself, or 1/(1+error) for an error metric."""
    from automl_agent_jupyter.tasks.scoring import higher_is_better

    return value if higher_is_better(metric) else 1.0 / (1.0 + value)


def repredict(row: dict[str, Any], curves: dict[str, Any] | None = None) -> tuple[float, float, tuple]:
    """(predicted metric, predicted latency, metric interval) from the stored raw probe with the given (else current) priors."""
    from automl_agent_jupyter.knowledge import learning_curves as lc
    from automl_agent_jupyter.knowledge import model_entry
    from automl_agent_jupyter.tasks.scoring import higher_is_better
    from benchmarks.fit_learning_curves import effort_ratio

    p = row["probe"]
    entry = model_entry(row["candidate"])
    prior = lc.curve(lc_modality(row["task"]), entry["family"], entry.get("learning_curve", 0.1), curves)
    higher = higher_is_better(row["metric"])
    pred, lo, hi = lc.extrapolate_metric(row["metric"], higher, p["metric"], effort_ratio(row), prior,
                                         caution=lc.CAUTION if lc_modality(row["task"]) == "tabular" else 0.0)
    lat = lc.extrapolate_cost("latency", p["latency_ms"], p.get("data_ratio", p["effort_ratio"]), prior)[0]
    return pred, lat, (lo, hi)


def lc_modality(task: str) -> str:
    return {"image_classification": "image", "text_classification": "text", "time_series_forecasting":
            "time_series", "node_classification": "graph"}.get(task, "tabular")


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else float("nan")


def report(rows: list[dict[str, Any]], loo: bool = False) -> str:
    from benchmarks.fit_learning_curves import annotate

    rows = [r for r in annotate(rows) if r["realized"].get("valid_metric") is not None]
    head = ("| dataset | plan | candidate | predicted (80% interval) | realized valid | in interval | "
            "predicted latency ms | measured CPU latency ms | ratio |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    preds, reals, ratios, wall_ratios, per, inside = [], [], [], [], {}, 0
    for r in rows:
        curves = None
        if loo:
            from benchmarks.fit_learning_curves import fit

            curves = fit([x for x in rows if x["dataset"] != r["dataset"]])
        pred, lat, (lo, hi) = repredict(r, curves)
        real = r["realized"]["valid_metric"]
        inside += lo <= real <= hi
        preds.append(nps(r["metric"], pred))
        reals.append(nps(r["metric"], real))
        per.setdefault(r["dataset"], ([], []))
        per[r["dataset"]][0].append(pred)
        per[r["dataset"]][1].append(real)
        m_lat = r["realized"].get("latency_cpu_ms") or r["realized"].get("latency_ms")
        ratio = lat / m_lat if m_lat else float("nan")
        if m_lat:
            ratios.append(ratio)
        wall = r["realized"].get("latency_ms")
        if wall:
            wall_ratios.append(lat / wall)
        lines.append(f"| {r['dataset']} | {r['plan']} | {r['candidate']} | {pred:.4f} ({lo:.3f}-{hi:.3f}) | "
                     f"{real:.4f} | {'yes' if lo <= real <= hi else 'no'} | {lat:.3g} | "
                     f"{m_lat if m_lat is None else f'{m_lat:.3g}'} | {ratio:.2f} |")
    within = sum(1 for x in ratios if 0.5 <= x <= 2.0)
    out = [f"Pairs: {len(rows)} (dataset, plan, candidate) over {len(per)} datasets"
           + (" — priors refitted leaving each dataset out" if loo else " — priors as shipped"),
           f"Spearman, predicted vs realized validation score (NPS scale, all pairs): {spearman(preds, reals):.3f}",
           "Spearman within each dataset: " + ", ".join(
               f"{k} {spearman(*v):.2f}" for k, v in per.items() if len(v[0]) > 2),
           (f"Predicted latency within 2x of measured (CPU ms of one prediction, as trained): {within}/{len(ratios)} "
            f"= {within / max(1, len(ratios)):.0%}; within 2x of wall-clock ms: "
            f"{sum(1 for x in wall_ratios if 0.5 <= x <= 2.0)}/{len(wall_ratios)} (wall time grows with the load)"),
           f"Realized validation score inside the predicted 80% interval: {inside}/{len(rows)}",
           "", *lines]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- load
def _busy(stop: Any) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def fresh_probes() -> None:
    """Forget the task modules' probe caches (a module keeps one dataset's probes while its data object lives,
    and the tabular reader keeps the last table), so the next planning probes every candidate again."""
    from automl_agent_jupyter.tasks import for_task

    for task in ("tabular_classification", "image_classification", "text_classification",
                 "time_series_forecasting", "node_classification"):
        for_task(task)._probe_data = None


def ranking_of(key: str, seed: int, budget_s: float) -> dict[str, Any]:
    fresh_probes()
    m = _agent(budget_s=budget_s, seed=seed).manager()
    path, instruction = DATASETS[key]
    with tempfile.TemporaryDirectory() as tmp:
        rec = m.plan(instruction, data=str(DATASETS_DIR / path), out=Path(tmp) / key)
    return {"plans": [p.id for p in rec.plans], "selected": rec.selected_plan,
            "ranking": {p.id: [(c.name, c.predicted_metric, c.predicted_interval) for c in p.candidates]
                        for p in rec.plans},
            "trials": {p.id: [c.params.get("n_trials") for c in p.candidates] for p in rec.plans},
            "wall_s": rec.timings.get("agent_stages")}


def load(keys: list[str], seed: int, budget_s: float, processes: int = 2) -> bool:
    """The plans, their order and every candidate's prediction and trial count, without and with
    ``processes`` busy Python loops beside the run; True when both agree on every dataset."""
    same = True
    for key in keys:
        quiet = ranking_of(key, seed, budget_s)
        stop = mp.Event()
        procs = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(processes)]
        for p in procs:
            p.start()
        try:
            busy = ranking_of(key, seed, budget_s)
        finally:
            stop.set()
            for p in procs:
                p.join()
        agree = {k: quiet[k] == busy[k] for k in ("plans", "selected", "ranking")}
        same &= all(agree.values())
        print(f"{key}: selected {quiet['selected']} / {busy['selected']} | same plan order, ranking, predictions "
              f"and intervals: {all(agree.values())} | trial counts {quiet['trials']} / {busy['trials']} | planning "
              f"{quiet['wall_s']} s without, {busy['wall_s']} s with {processes} busy loops", flush=True)
        if not all(agree.values()):
            print(json.dumps({"without": quiet, "with": busy}, indent=1))
    return same


def accuracy(key: str, seed: int, busy: int) -> dict[str, Any]:
    """One default run (the default budget) on ``key`` with ``busy`` busy Python loops beside it: the chosen
    plan and model, the test metric, and the CPU effort the chosen model's training had."""
    load_before = os.getloadavg()
    stop = mp.Event()
    procs = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(busy)]
    for p in procs:
        p.start()
    try:
        path, instruction = DATASETS[key]
        with tempfile.TemporaryDirectory() as tmp:
            run = _agent(seed=seed).run(instruction, data=str(DATASETS_DIR / path), out=Path(tmp) / key)
            rec = run.record
    finally:
        stop.set()
        for p in procs:
            p.join()
    tried = next((p for p in rec.plans if p.id == rec.selected_plan), None)
    out = {"dataset": key, "busy_loops": busy, "status": rec.status, "selected": rec.selected_plan,
           "model": rec.environment.get("model"), "test": rec.primary_metric,
           "planning_s": rec.timings.get("agent_stages"), "total_s": rec.timings.get("total"),
           "planning_charge": rec.planning_charge, "probe_effort": rec.probe_effort,
           "cells_s": {a.stage: round(a.seconds, 2) for a in rec.attempts},
           "load_before": load_before, "load_after": os.getloadavg(),
           "realized": {c.name: c.realized for c in (tried.candidates if tried else [])}}
    print(json.dumps(out, indent=1, default=str), flush=True)
    return out


def _row_writer(path: Path, keys: list[str], budget: float, seed: int):
    """A function that writes ``rows`` to the JSON file ``path``, keeping the rows of datasets other than
    ``keys`` that it already holds (a rerun of some datasets replaces only theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {"rows": []}
    kept = [r for r in old["rows"] if r["dataset"] not in keys]

    def save(rows: list[dict[str, Any]]) -> None:
        path.write_text(json.dumps({"budget_s": budget, "seed": seed, "measured": time.strftime("%Y-%m-%d"),
                                    "load": os.getloadavg(), "rows": kept + rows}, indent=1))
        print(f"wrote {path}", flush=True)

    return save


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ranking")
    ap.add_argument("what", choices=("run", "report", "load", "accuracy", "probes"))
    ap.add_argument("--busy", type=int, default=2, help="accuracy: busy loops beside the run")
    ap.add_argument("--datasets", default="")
    ap.add_argument("--budget", type=float, default=60.0, help="the run budget the plans are made for "
                    "(a network's predicted epochs: 0.75 of it over its plan's candidates)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--records", default=str(OUT / "records.json"))
    ap.add_argument("--loo", action="store_true", help="report: refit the priors leaving each dataset out")
    ap.add_argument("--probes", nargs="?", const=str(OUT / "probes.json"), default=None,
                    help="report: probes from this probes.json at the budget-sized effort, joined with the records; "
                    "probes: where to write them (default results/ranking/probes.json)")
    a = ap.parse_args(argv)
    keys = [k for k in a.datasets.split(",") if k] or (list(LOAD_DATASETS) if a.what == "load" else list(DATASETS))
    if a.what == "run":
        run(keys, a.budget, a.seed, _row_writer(Path(a.records), keys, a.budget, a.seed))
    elif a.what == "report":
        rows = json.loads(Path(a.records).read_text())["rows"]
        if a.probes:
            probe_rows = sized_rows(json.loads(Path(a.probes).read_text())["rows"], a.budget)
            rows = join_realized(probe_rows, rows)
        print(report([r for r in rows if r["dataset"] in keys], loo=a.loo))
    elif a.what == "probes":
        probes(keys, a.budget, a.seed, _row_writer(Path(a.probes or OUT / "probes.json"), keys, a.budget, a.seed))
    elif a.what == "accuracy":
        for key in keys if a.datasets else ["mnist"]:
            accuracy(key, a.seed, a.busy)
    else:
        return 0 if load(keys, a.seed, a.budget) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
