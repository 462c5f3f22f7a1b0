"""What the image, text, time-series and graph tasks share: candidate availability, split policy,
the rendered stage cells, and probes that run the plan's own generated code on a subsample.

A probe executes the plan's setup, load_split and preprocess cells and the definitions of its train
cell (``<task>/train_defs``) in a private namespace, shrinks the train/valid data, and times
``fit_candidate`` / ``predict_labels`` for a few seconds per candidate. The measured score is then
extrapolated to the full data and the plan's time budget with the catalogue's learning-curve prior.
"""
from __future__ import annotations

import contextlib
import io
import math
import tempfile
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from .. import templates
from ..knowledge import catalogue, model_entry, recipe_text
from ..schema import Candidate, CellSpec, DataReport, Plan, Requirements
from .base import TaskModule, importable
from .scoring import CLASSIFICATION_METRICS

STAGES = [("setup", "Setup: seeds, device (CUDA / MPS / CPU), paths"),
          ("load_split", "Load data and split train/valid/test"),
          ("preprocess", "Preprocessing"),
          ("train", "Train the candidates within the time budget"),
          ("evaluate", "Evaluate on the held-out test split"),
          ("measure", "Measure latency, model size and parameters"),
          ("save", "Save model, predict entry point and results"),
          ("predict", "Predict with the saved model")]
TRAIN_SHARE = 0.75  # the part of a run's budget its training gets, nominally (the rest: planning, evaluation)
PROBE_TIME_CAP_S = 600.0  # a probe's fit never stops on time below this (it stops on its epochs); a safety net
PROBE_LATENCY_ITEMS = 10  # single-item predictions timed per candidate


@contextlib.contextmanager
def _one_thread():
    """Probes run single-threaded (BLAS, OpenMP and torch), so CPU time measures the work done."""
    from threadpoolctl import threadpool_limits

    torch = None
    if importable("torch"):
        import torch
    before = torch.get_num_threads() if torch else None
    try:
        with threadpool_limits(limits=1):
            if torch:
                torch.set_num_threads(1)
            yield
    finally:
        if torch and before:
            torch.set_num_threads(before)


def _cpu_latency_ms(ns: dict[str, Any], model: Any) -> float:
    """Median CPU milliseconds of one prediction on one raw item, as a user passes it (after a warm-up)."""
    items = ns["PROBE_ITEMS"]
    ns["predict_raw"](model, items[:1])
    lat = []
    for i in range(min(PROBE_LATENCY_ITEMS, len(items))):
        t = time.process_time()
        ns["predict_raw"](model, items[i:i + 1])
        lat.append((time.process_time() - t) * 1000.0)
    return float(np.median(lat))



def random_split(n: int, user: dict[str, float] | None, seed: int, stratified: bool,
                 default_test: float = 0.1, default_valid: float = 0.1) -> dict[str, Any]:
    """The split policy of the random-split tasks (image, text without a given split)."""
    user = user or {}
    test = float(user.get("test", default_test))
    valid = float(user.get("valid", max(0.0, 1 - test - float(user["train"])) if "train" in user else default_valid))
    valid = valid or default_valid
    n_test = math.ceil(test * n)
    n_valid = math.ceil(valid * n)
    return {"method": ("user-given " if user else "") + ("stratified " if stratified else "") + "random split",
            "seed": seed, "ratios": {"train": round(1 - test - valid, 4), "valid": round(valid, 4),
                                     "test": round(test, 4)},
            "sizes": {"train": n - n_test - n_valid, "valid": n_valid, "test": n_test},
            "test_size": round(test, 6), "valid_size_of_rest": round(valid / (1 - test), 6)}


class ModalityTask(TaskModule):
    """Shared behaviour of the non-tabular tasks; subclasses supply data reading and templates."""

    template_dir = ""
    default_metric = "accuracy"
    allowed_metrics: tuple[str, ...] = CLASSIFICATION_METRICS
    probe_train = 1000  # train items a probe fits on (x the effort)
    probe_valid = 500
    probe_epochs = 2  # epochs every network trains for in its probe (its catalogue max_epochs when fewer)
    probe_min_items = 100  # the fewest train items a smaller probe effort goes down to
    shared_templates = {"setup": "common/setup", "train": "common/train", "evaluate": "common/evaluate_classification",
                        "measure": "common/measure"}

    # ---------------------------------------------------------------- data agent
    @abstractmethod
    def accepts(self, path: str) -> bool:
        """Whether ``path`` holds data of this modality (used by ``tasks.peek_data``); never raises."""

    # ---------------------------------------------------------------- metrics
    def primary_metric(self, req: Requirements, report: DataReport) -> str:
        multiclass = len(report.class_counts) > 2
        for m in req.problem.performance_metrics:
            name = "f1_weighted" if (m.name == "f1" and multiclass) else m.name
            if name in self.allowed_metrics:
                return name
        return self.default_metric

    # ---------------------------------------------------------------- model agent
    def unavailable(self, key: str, entry: dict[str, Any], report: DataReport) -> str | None:
        """Why a catalogue model cannot run here (None: it can)."""
        for need in entry.get("requires", []):
            if need.startswith("weights:"):
                why = self.missing_weights(need.split(":", 1)[1])
                if why:
                    return why
            elif not importable(need):
                return f"{need} is not installed"
        if entry.get("max_rows") and report.split.get("sizes", {}).get("train", 0) > entry["max_rows"]:
            return f"more than {entry['max_rows']} training items"
        return None

    def checkpoint(self, what: str) -> tuple[str | None, str]:
        """(the folder of the pretrained ``what`` weights on this machine, or None; why not)."""
        return None, f"no local {what} weights"

    def missing_weights(self, what: str) -> str | None:
        path, why = self.checkpoint(what)
        return None if path else why

    def candidate_pool(self, req: Requirements, report: DataReport) -> list[str]:
        pool = []
        for key, entry in catalogue()["models"].items():
            if req.task in entry["tasks"] and self.unavailable(key, entry, report) is None:
                pool.append(key)
        return pool

    def align_plan(self, plan: Plan) -> Plan:
        """The models of these tasks take only some recipes (their generated code needs those inputs: the
        catalogue's ``recipes``, else its ``preprocessing``): a plan keeps the models that take its recipe; when
        none does, the recipe becomes the first model's own, keeping the models that take it."""
        recipe = plan.preprocessing.get("recipe")
        takes = {m: model_entry(m).get("recipes") or [model_entry(m).get("preprocessing")] for m in plan.model_families}
        keep = [m for m in plan.model_families if recipe in takes[m]]
        if not keep and plan.model_families:
            recipe = model_entry(plan.model_families[0]).get("preprocessing")
            keep = [m for m in plan.model_families if recipe in takes[m]]
        if keep == list(plan.model_families) and recipe == plan.preprocessing.get("recipe"):
            return plan
        return plan.model_copy(update={"preprocessing": {**plan.preprocessing, "recipe": recipe},
                                       "model_families": keep})

    def pool_notes(self, task: str, report: DataReport) -> list[str]:
        """One note per catalogue model of ``task`` left out, with the reason, and one per pretrained checkpoint
        used, with the models that use it (shown in the data report)."""
        notes, used = [], {}
        for key, entry in catalogue()["models"].items():
            if task in entry["tasks"]:
                why = self.unavailable(key, entry, report)
                if why:
                    notes.append(f"{entry['title']} left out: {why}")
                    continue
                for need in entry.get("requires", []):
                    if need.startswith("weights:"):
                        used.setdefault(self.checkpoint(need.split(":", 1)[1])[0], []).append(entry["title"])
        notes += [f"pretrained checkpoint {path} for: {'; '.join(titles)}" for path, titles in used.items()]
        return notes

    def probe_size(self, effort: float, report: DataReport) -> dict[str, Any]:
        sizes = report.split.get("sizes", {})
        n_train = int(sizes.get("train", self.probe_train))
        return {"items": min(n_train, max(self.probe_min_items, int(self.probe_train * effort))),
                "valid_items": min(int(sizes.get("valid", self.probe_valid)), self.probe_valid),
                "epochs": self.probe_epochs}

    def item_work(self, report: DataReport) -> float:
        """The work of one item relative to the modality's reference item (an MNIST image, an SMS, ...)."""
        return 1.0

    def probe_units(self, name: str, size: dict[str, Any], report: DataReport) -> float:
        """Thousands of items x epochs (a network) x the item's work; an RBF kernel's fit grows with the square of
        the items (and its scoring with items x validation items)."""
        entry = model_entry(name)
        n, v = size["items"] / 1000, size["valid_items"] / 1000
        epochs = min(int(entry["defaults"]["max_epochs"]), int(size["epochs"] or 1)) \
            if "max_epochs" in entry.get("defaults", {}) else 1
        work = n * n + n * v if entry["family"] == "kernel" else n
        return float(work * epochs * self.item_work(report))

    def probe(self, plan: Plan, candidates: list[Candidate], data: Any, report: DataReport,
              req: Requirements, seed: int, budget_s: float, effort: float = 1.0) -> list[Candidate]:
        """Each candidate's own generated code at the same effort: the same train items (``probe_size``), the
        same validation items, the same epochs for every network, one fit of the catalogue defaults for every
        classical model; never a number of seconds."""
        self._budget_s = budget_s
        # shared across the plans of one dataset; holding the object (not its id) so a later run's data
        # can never be mistaken for it
        if getattr(self, "_probe_data", None) is not data or getattr(self, "_probe_effort", None) != effort:
            self._probe_cache: dict[tuple, Candidate] = {}
            self._probe_data = data
            self._probe_effort = effort
            self._base_ns: dict[str, Any] | None = None
        out = []
        for cand in candidates:
            key = (seed, req.task, plan.preprocessing.get("recipe"), cand.name, self._budget_s)
            if key not in self._probe_cache:
                self._probe_cache[key] = self._probe_candidate(plan, cand, req, report, seed, effort)
            out.append(self._probe_cache[key].model_copy(update={"rank": cand.rank}))
        return out

    def _probe_candidate(self, plan: Plan, cand: Candidate, req: Requirements, report: DataReport,
                         seed: int, effort: float = 1.0) -> Candidate:
        from ..knowledge import learning_curves as lc
        from .scoring import higher_is_better

        c = cand.model_copy()
        entry = model_entry(c.name)
        try:
            ns = self._probe_namespace(plan.model_copy(update={"candidates": [cand]}), req, report, seed, effort)
            params = dict(entry.get("defaults", {}))
            epochs = None
            if "max_epochs" in params:  # a network: the same number of epochs for every one
                epochs = min(int(params["max_epochs"]), int(self.probe_size(effort, report)["epochs"]))
                params["max_epochs"] = epochs
            for spec in ns["CANDIDATES"].values():
                spec["n_trials"] = 1  # a probe fits the catalogue defaults once
            with contextlib.redirect_stdout(io.StringIO()), _one_thread():
                cpu0 = t0 = time.process_time()
                fit = ns["fit_candidate"](c.name, params, PROBE_TIME_CAP_S, ns["PROBE_TRAIN"], ns["PROBE_VALID"])
                fit_cpu = time.process_time() - t0
                score = float(fit["valid"])  # higher is better: error metrics come back negated
                lat = _cpu_latency_ms(ns, fit["model"])
                cpu_s = time.process_time() - cpu0
                size_mb = float(ns["model_size_mb"](fit["model"]))
        except Exception as exc:  # noqa: BLE001 - a candidate that fails its probe is ranked last, with the reason
            c.basis = f"probe failed: {type(exc).__name__}: {str(exc)[:120]}"
            c.predicted_metric = None
            return c
        n_train, n_valid = int(report.split["sizes"]["train"]), int(report.split["sizes"].get("valid", 0))
        n_probe = int(ns["PROBE_N"])
        data_ratio = max(1.0, n_train / max(1, n_probe))
        full_epochs = int(entry.get("defaults", {}).get("max_epochs", 1))
        units = self.probe_units(c.name, {"items": n_probe, "valid_items": int(ns["PROBE_VALID_N"]), "epochs": epochs},
                                 report)
        cost_s = lc.probe_cost_s(c.name, entry["family"], units)  # the cost model's CPU seconds: no clock
        # a network trains for as many epochs as its share of the budget buys: the budget in effort seconds
        # (CPU seconds per thread, as common/torch_fit counts it) over the probe's cost per item-epoch, from the
        # cost model (not the measured time, so a busy machine predicts the same); snapped to an octave grid
        share = TRAIN_SHARE * self._budget_s / max(1, len(plan.candidates or [c]))
        ratio = lc.network_ratio(n_train, n_probe, epochs, full_epochs, cost_s, share) if epochs else data_ratio
        metric = self.primary_metric(req, report)
        higher = higher_is_better(metric)
        score = score if higher else -score
        prior = lc.curve(self.modality, entry["family"], entry.get("learning_curve", 0.1))
        pred, lo, hi = lc.extrapolate_metric(metric, higher, score, ratio, prior)
        c.predicted_metric = round(pred, 4)
        c.predicted_interval = [round(lo, 4), round(hi, 4)]
        full = {"items": n_train, "valid_items": n_valid, "epochs": full_epochs}
        c.predicted_train_s = round(float(min(share, cost_s * ratio) if epochs else
                                          lc.probe_cost_s(c.name, entry["family"],
                                                          self.probe_units(c.name, full, report))), 3)
        c.predicted_latency_ms = round(lc.extrapolate_cost("latency", lat, data_ratio, prior)[0], 3)
        c.predicted_size_mb = round(lc.extrapolate_cost("size", size_mb, data_ratio, prior)[0], 4)
        c.probe = {"metric": round(score, 5), "items": n_probe, "valid_items": int(ns["PROBE_VALID_N"]),
                   "epochs": epochs, "effort_ratio": round(ratio, 3), "data_ratio": round(data_ratio, 3),
                   "latency_ms": round(lat, 4), "size_mb": round(size_mb, 5), "fit_cpu_s": round(fit_cpu, 3),
                   "cpu_s": round(cpu_s, 3), "units": round(units, 5), "cost_s": round(cost_s, 4),
                   "curve": prior["key"], "effort": effort, "stopped_by_cap": bool(fit.get("stopped_by_budget")),
                   "share_s": round(share, 3)}
        what = f"{epochs} epoch(s), {fit_cpu:.1f} CPU s" if epochs else f"one default fit, {fit_cpu:.1f} CPU s"
        capped = f"; probe effort {effort:g} of nominal (sized from the budget)" if effort < 1 else ""
        c.basis = (f"probe: the plan's own code, default parameters, trained on {n_probe} train items ({what}), "
                   f"scored on {ns['PROBE_VALID_N']} validation items ({metric} {score:.4f}); {lc.describe(prior)} "
                   f"extrapolates {ratio:.1f}x effort to {n_train} items"
                   + (f" x {ratio * n_probe * epochs / n_train:.1f} epochs (what {share:.0f} s of the budget buys, "
                      f"at most {full_epochs})" if epochs else "") + capped)
        return c

    def _probe_namespace(self, plan: Plan, req: Requirements, report: DataReport, seed: int,
                         effort: float = 1.0) -> dict[str, Any]:
        """Run setup + load_split once per dataset, then this plan's preprocess and train definitions."""
        tmp = Path(tempfile.gettempdir()) / "automl-agent-probe"
        ctx = self.context(plan, req, report, {"run_id": "probe", "run_dir": str(tmp), "seed": seed,
                                               "budget_s": PROBE_TIME_CAP_S})
        with contextlib.redirect_stdout(io.StringIO()):
            if self._base_ns is None:  # setup and load_split once per dataset, shared by every plan's probes
                base: dict[str, Any] = {"__name__": "__automl_probe__"}
                for stage in ("setup", "load_split"):
                    src = templates.render(self.template(stage), **{**ctx, "uses_torch": importable("torch")})
                    exec(compile(src, f"<probe {stage}>", "exec"), base)  # noqa: S102 - our own template
                base["DEADLINE"] = float("inf")  # probes stop on their effort, not on a run's wall clock
                self.shrink(base, seed, effort)
                self._base_ns = base
            ns = dict(self._base_ns)
            for name in ("preprocess", "train_defs"):
                src = templates.render(f"{self.template_dir}/{name}", **ctx)
                exec(compile(src, f"<probe {plan.id} {name}>", "exec"), ns)  # noqa: S102
            self.probe_inputs(ns)
        return ns

    @abstractmethod
    def shrink(self, ns: dict[str, Any], seed: int, effort: float = 1.0) -> None:
        """Reduce the loaded train/valid data in a probe namespace to a subsample (sets PROBE_N, PROBE_VALID_N):
        ``probe_train`` x effort train items, ``probe_valid`` validation items."""

    @abstractmethod
    def probe_inputs(self, ns: dict[str, Any]) -> None:
        """Set PROBE_TRAIN and PROBE_VALID (what ``fit_candidate`` takes, after preprocessing) and PROBE_ITEMS
        (raw validation items, as a user passes them to predict)."""

    # ---------------------------------------------------------------- operation agent
    def base_context(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> dict[str, Any]:
        names = [c.name for c in plan.candidates] or list(plan.model_families)
        budget = float(settings.get("budget_s", 30))
        specs = {}
        for c in plan.candidates or [Candidate(name=n) for n in names]:
            entry = model_entry(c.name)
            specs[c.name] = {"defaults": dict(entry.get("defaults", {})), "space": dict(entry.get("search_space", {})),
                             "n_trials": int(c.params.get("n_trials", 10)),
                             "time_s": round(budget / max(1, len(names)), 2)}
        uses_torch = any("torch" in model_entry(n).get("requires", []) for n in names)
        weights = [need.split(":", 1)[1] for n in names for need in model_entry(n).get("requires", [])
                   if need.startswith("weights:")]
        recipe = plan.preprocessing.get("recipe", "")
        split = report.split
        return {"run_id": settings.get("run_id", ""), "plan_id": plan.id, "plan_title": plan.title,
                "seed": settings.get("seed", 0), "run_dir": settings.get("run_dir", ""), "data_path": report.path,
                "task": req.task, "metric": self.primary_metric(req, report), "budget_s": budget,
                "candidates": names, "candidate_specs": specs, "uses_torch": uses_torch,
                "recipe": recipe, "recipe_text": recipe_text(recipe), "storage": settings.get("storage"),
                "split_text": f"{split['method']}, ratios {split['ratios']}, seed {split['seed']}",
                "split_method": split["method"], "extra": report.extra, "target": report.target,
                "template_dir": self.template_dir,
                # the pretrained checkpoint the plan's models start from (None: none of them needs one)
                "checkpoint": self.checkpoint(weights[0])[0] if weights else None,
                "test_size": split.get("test_size"), "valid_size_of_rest": split.get("valid_size_of_rest"),
                "fit_args": "(TRAIN_INPUT, y_train), (VALID_INPUT, y_valid)"}

    def context(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> dict[str, Any]:
        return self.base_context(plan, req, report, settings)

    def template(self, stage: str) -> str:
        """templates/<task>/<stage>.py.j2 where the task has its own, else templates/common/<stage>."""
        own = f"{self.template_dir}/{stage}"
        if f"{own}.py.j2" in templates.environment().list_templates():
            return own
        return self.shared_templates[stage]

    def cells(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> list[CellSpec]:
        ctx = self.context(plan, req, report, settings)
        return [CellSpec(stage=stage, title=title, source=templates.render(self.template(stage), **ctx),
                         params={"template": self.template(stage), "recipe": ctx["recipe"]})
                for stage, title in STAGES]


def class_report(labels: list[Any]) -> tuple[dict[str, int], float | None]:
    values, counts = np.unique(np.asarray([str(v) for v in labels]), return_counts=True)
    cc = {str(v): int(n) for v, n in sorted(zip(values, counts), key=lambda t: -t[1])}
    return cc, (round(float(counts.max() / counts.min()), 3) if len(counts) > 1 else None)
