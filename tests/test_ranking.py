"""The model agent's training-free ranking: the same effort for every candidate (so the same ranking on a
busy machine), predictions with intervals from the learning-curve priors, and after training each
candidate's realized numbers beside its predictions."""
from __future__ import annotations

import math
import multiprocessing as mp

import pytest
from shared_data import dataset

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.agents.model import ModelAgent
from automl_agent_jupyter.knowledge import learning_curves as lc
from automl_agent_jupyter.schema import Candidate

BANANA = "Classify banana Quality as Good or Bad from the measurements; report the F1 score."
SMS = "Classify SMS messages as spam or ham; report the F1 score."


def _busy(stop) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def _ranking(instruction: str, data: str, tmp_path, name: str) -> tuple[str | None, dict]:
    from benchmarks.ranking import fresh_probes

    fresh_probes()  # probe again: a task module keeps a dataset's probes while its data object lives
    rec = AutoMLAgent(budget_s=4).run(instruction, data=data, out=tmp_path / name, auto=False).record
    assert rec.status == "planned", rec.message
    return rec.selected_plan, {p.id: [(c.name, c.predicted_metric, c.predicted_interval) for c in p.candidates]
                               for p in rec.plans}


@pytest.mark.parametrize("instruction,data", [
    (BANANA, "banana_quality/banana_quality.csv"), (SMS, "sms_spam/SMSSpamCollection.tsv")])
def test_same_ranking_with_two_busy_loops_beside_it(instruction, data, tmp_path):
    path = dataset(data)
    quiet = _ranking(instruction, path, tmp_path, "quiet")
    stop = mp.Event()
    procs = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        busy = _ranking(instruction, path, tmp_path, "busy")
    finally:
        stop.set()
        for p in procs:
            p.join()
    assert busy == quiet  # the chosen plan, every plan's order and every prediction and interval


def test_probe_fits_full_size_models_on_the_same_rows(tmp_path):
    rec = AutoMLAgent(budget_s=4, top_k=10).run(BANANA, data=dataset("banana_quality/banana_quality.csv"),
                                                out=tmp_path / "r", auto=False).record
    cands = [c for p in rec.plans for c in p.candidates]
    effort = rec.probe_effort
    assert {c.probe["items"] for c in cands} == {effort["items"]} and {c.probe["valid_items"] for c in cands} == {1000}
    for c in cands:
        lo, hi = c.predicted_interval
        assert lo <= c.predicted_metric <= hi and lo < hi
        assert "learning curve" in c.basis
        # full-size models, but for a forest's trees and a multi-class booster's rounds, which the basis names
        assert "full size" in c.basis or ("trees" in c.probe and f"50 of its {c.probe['trees_full']} trees" in c.basis)
        assert c.probe["effort"] == effort["effort"] and c.probe["fit_cpu_s"] > 0 and c.probe["units"] > 0
    # the record says what effort was used and why, with the cost model's price beside the measured CPU
    assert effort["predicted_cpu_s"] > 0 and effort["measured_cpu_s"] > 0 and "budget" in effort["why"]


def test_overlapping_intervals_stay_in_the_top_k():
    def cand(name, m, lo, hi):
        return Candidate(name=name, predicted_metric=m, predicted_interval=[lo, hi])

    probed = [cand("a", 0.95, 0.94, 0.96), cand("b", 0.93, 0.92, 0.945), cand("c", 0.925, 0.90, 0.935),
              cand("d", 0.80, 0.78, 0.82)]
    top = ModelAgent._keep_overlapping(probed[:1], probed, "f1", {}, 1)
    assert [c.name for c in top] == ["a", "b"]  # b's interval reaches a's: both kept; c and d are clearly worse
    top = ModelAgent._keep_overlapping(probed[:2], probed, "f1", {}, 2)
    assert [c.name for c in top] == ["a", "b", "c"]
    # an error metric: lower is better, overlap is on the other side
    probed = [cand("a", 0.10, 0.09, 0.11), cand("b", 0.105, 0.10, 0.12), cand("c", 0.2, 0.18, 0.22)]
    assert [c.name for c in ModelAgent._keep_overlapping(probed[:1], probed, "rmse", {}, 1)] == ["a", "b"]


def test_extrapolation_and_fit_agree():
    from benchmarks.fit_learning_curves import fit

    # the error halves per 10x effort on three datasets: the fit recovers b = ln 2 (per decade) with no residual
    rows = [{"dataset": d, "plan": "P1", "task": "tabular_classification", "metric": "accuracy", "family": "toy",
             "probe": {"metric": 1 - e, "effort_ratio": r, "data_ratio": r, "latency_ms": 1.0, "size_mb": 1.0},
             "realized": {"valid_metric": 1 - e * 0.5 ** math.log10(r), "latency_ms": r, "size_mb": 1.0}}
            for d, e, r in (("x", 0.2, 10), ("y", 0.1, 100), ("z", 0.3, 4))]
    curves = fit(rows)
    prior = lc.curve("tabular", "toy", curves=curves)
    assert prior["key"] == "tabular:toy"
    assert prior["metric"]["b"] == pytest.approx(math.log(2), abs=1e-3)
    assert prior["latency"]["a"] == pytest.approx(math.log(10), abs=1e-3)  # latency grows with the rows here
    pred, lo, hi = lc.extrapolate_metric("accuracy", True, 0.8, 10, prior)
    assert pred == pytest.approx(0.9, abs=1e-3) and lo < pred < hi
    pred, lo, hi = lc.extrapolate_metric("rmse", False, 2.0, 10, prior)  # an error metric falls the same way
    assert pred == pytest.approx(1.0, abs=1e-3) and lo < pred < hi
    assert lc.curve("tabular", "unmeasured_family", 0.3, curves=curves)["key"] == "default"


def test_run_record_puts_realized_numbers_beside_predictions(tmp_path):
    rec = AutoMLAgent(budget_s=4).run(BANANA, data=dataset("banana_quality/banana_quality.csv"),
                                      out=tmp_path / "r").record
    assert rec.status == "succeeded", rec.message
    tried = next(p for p in rec.plans if p.id == rec.selected_plan)
    trained = [c for c in tried.candidates if c.realized]  # a candidate the budget left no time for has none
    assert trained
    for c in trained:
        r = c.realized
        assert 0.5 < r["valid_metric"] <= 1 and r["latency_ms"] > 0 and r["size_mb"] > 0, c
        assert isinstance(r["within_interval"], bool)
    chosen = [c for c in tried.candidates if c.realized.get("chosen")]
    if chosen:  # a single model was kept (not an ensemble): its cost is the saved model's
        assert chosen[0].realized["measured_on"] == "saved model"
    others = [p for p in rec.plans if p.id != rec.selected_plan]
    assert all(not c.realized for p in others for c in p.candidates)  # not trained: nothing claimed


def test_the_budget_sizes_the_probe_effort_deterministically(tmp_path):
    """The effort follows from the budget and the data's shape through the cost model, before any probe runs:
    the same inputs give the same effort (no clock), a smaller budget a smaller one, and every candidate of
    every plan is probed at it."""
    from automl_agent_jupyter.tasks import for_task
    from automl_agent_jupyter.tasks.base import PROBE_EFFORTS

    m = AutoMLAgent(budget_s=4, n_plans=3).manager()
    rec = m.plan(BANANA, data=dataset("banana_quality/banana_quality.csv"), out=tmp_path / "r")
    pl, agent = m.planning, m.planner.model_agent
    task = for_task(pl.requirements.task)

    def effort(budget_s, share=None):
        return agent.probe_effort(task, rec.plans, pl.report, {"budget_s": budget_s, "probe_share": share})

    big, small = effort(600.0), effort(4.0)
    assert effort(600.0) == big and effort(4.0) == small  # deterministic
    assert big["effort"] == PROBE_EFFORTS[0] and big["items"] == 2000  # a long run affords the nominal probe
    assert small["effort"] < big["effort"] and small["items"] < big["items"]  # a short one a smaller probe
    assert big["predicted_cpu_s"] <= big["allowed_cpu_s"] and small["predicted_cpu_s"] < big["predicted_cpu_s"]
    efforts = [effort(b)["effort"] for b in (4.0, 15.0, 30.0, 60.0, 120.0, 240.0, 600.0)]
    assert efforts == sorted(efforts)  # more budget never buys a smaller probe
    assert effort(60.0, share=0.5)["effort"] >= effort(60.0)["effort"]
    # a fixed effort (the benchmarks') is honoured, and the probes all use it
    settings = {**m.settings.as_dict(), "probe_effort": 0.25}
    plans = agent._probe_all(task, rec.plans, pl.requirements, pl.report, pl.data, settings)
    cands = [c for p in plans for c in p.candidates]
    assert {c.probe["effort"] for c in cands} == {0.25} and {c.probe["items"] for c in cands} == {500}
    assert agent.effort["why"].startswith("fixed by the settings")


def test_probe_units_count_the_data_shape():
    """The cost model's units grow with rows, features and (for per-class models) classes; nothing measured."""
    from automl_agent_jupyter.schema import ColumnProfile, DataReport
    from automl_agent_jupyter.tasks import for_task

    task = for_task("tabular_classification")

    def report(rows, features, classes):
        return DataReport(path="x", rows=rows, columns=features + 1, target="y",
                          features=[f"f{i}" for i in range(features)],
                          column_profiles=[ColumnProfile(name=f"f{i}", dtype="float64", kind="numeric")
                                           for i in range(features)],
                          class_counts={str(i): rows // classes for i in range(classes)},
                          split={"sizes": {"train": int(rows * 0.7), "valid": int(rows * 0.2)}})

    small, wide, many = report(5000, 10, 2), report(5000, 40, 2), report(5000, 10, 10)
    for name in ("lightgbm", "random_forest", "svm_rbf", "knn", "logistic_regression"):
        u = [task.probe_units(name, task.probe_size(e, small), small) for e in (1.0, 0.5, 0.25)]
        assert u[0] > u[1] > u[2] > 0, name
        assert task.probe_units(name, task.probe_size(1.0, wide), wide) > u[0], name
    # a multi-class booster's probe grows as many trees as a binary one (fewer rounds); its full-size fit grows
    # one tree per class and round
    assert task.probe_units("lightgbm", task.probe_size(1.0, many), many) == \
        task.probe_units("lightgbm", task.probe_size(1.0, small), small)
    full = {**task.probe_size(1.0, small), "full": True}
    assert task.probe_units("lightgbm", full, many) == 10 * task.probe_units("lightgbm", full, small)
    assert task.probe_cost_s("svm_rbf", 1.0, small) == task.probe_cost_s("svm_rbf", 1.0, small)


def test_boosting_probes_keep_rounds_times_learning_rate_within_a_tree_budget():
    """A ten-class booster is probed on 30 rounds at learning rate 0.5 (300 trees, as a binary probe) rather than
    3,000 trees; two classes and regression keep the catalogue's 300 rounds; the rate never exceeds 0.5."""
    from automl_agent_jupyter.tasks.tabular import PROBE_MAX_LR, PROBE_TREES, probe_boosting

    lgbm = {"n_estimators": 300, "learning_rate": 0.05}
    assert probe_boosting(lgbm, 2) == (300, 0.05) and probe_boosting(lgbm, 0) == (300, 0.05)
    assert probe_boosting(lgbm, 10) == (30, 0.5)
    rounds, lr = probe_boosting({"max_iter": 300, "learning_rate": 0.05}, 3)
    assert rounds * 3 <= PROBE_TREES and math.isclose(rounds * lr, 15.0)
    rounds, lr = probe_boosting(lgbm, 26)  # too many classes for the tree budget: the rate stays at its cap
    assert lr <= PROBE_MAX_LR and math.isclose(rounds * lr, 15.0)


def test_planning_is_charged_its_wall_time(tmp_path):
    """The budget is wall-clock seconds for the whole run: planning is charged its wall time (its CPU seconds are
    recorded beside it), so on a busy machine the run trains less rather than ending late."""
    m = AutoMLAgent(budget_s=60).manager()
    rec = m.plan(BANANA, data=dataset("banana_quality/banana_quality.csv"), out=tmp_path / "r")
    charge = rec.planning_charge
    assert charge["wall_s"] == rec.timings["agent_stages"] and charge["cpu_s"] > 0
    assert "wall-clock seconds are charged" in charge["rule"]
    log = m.log
    for wall, cpu in ((40.0, 6.0), (8.0, 6.0), (5.0, 7.0)):
        log.record.timings["agent_stages"], log.record.planning_charge["cpu_s"] = wall, cpu
        assert log.remaining_s() == pytest.approx(60.0 - wall)


@pytest.mark.parametrize("task_name,models,extra,sizes", [
    ("image_classification", ["cnn", "pixel_mlp", "hog_svm"], {"height": 28, "width": 28, "channels": 1},
     {"train": 8000, "valid": 1000}),
    ("text_classification", ["text_logreg", "text_embedding_bag"], {}, {"train": 4000, "valid": 600}),
    ("time_series_forecasting", ["dlinear", "gru_forecast"],
     {"input_seq_len": 96, "pred_seq_len": 96, "channels": list("abcdefg")}, {"train": 8000, "valid": 2000}),
    ("node_classification", ["gcn", "gat"], {"nodes": 2708, "features": 1433, "edges": 10556},
     {"train": 140, "valid": 500}),
])
def test_every_modality_sizes_its_probes_from_the_budget(task_name, models, extra, sizes):
    """Every task module counts its probes' work from the data's shape, so the model agent sizes the effort of
    images, texts, series and graphs from the budget the same way: deterministic, smaller for a smaller budget."""
    from automl_agent_jupyter.schema import DataReport, Plan
    from automl_agent_jupyter.tasks import for_task

    task = for_task(task_name)
    report = DataReport(path="x", rows=sum(sizes.values()), columns=1, target="y", extra=extra,
                        split={"sizes": {**sizes, "test": 100}})
    plans = [Plan(id="P1", title="t", model_families=models)]
    units = [[task.probe_units(m, task.probe_size(e, report), report) for e in (1.0, 0.5, 0.25, 0.125)]
             for m in models]
    assert all(u[0] >= u[1] >= u[2] >= u[3] > 0 for u in units) and any(u[0] > u[3] for u in units)

    def effort(budget_s):
        return ModelAgent.probe_effort(task, plans, report, {"budget_s": budget_s})

    assert effort(60.0) == effort(60.0)  # nothing measured: the same inputs, the same effort
    assert effort(10_000.0)["effort"] == 1.0 and effort(0.5)["effort"] == 0.125
    assert effort(0.5)["predicted_cpu_s"] < effort(10_000.0)["predicted_cpu_s"]
    small, big = task.probe_size(0.125, report), task.probe_size(1.0, report)
    assert (small["items"], small["epochs"]) < (big["items"], big["epochs"])  # fewer items, or (graphs) epochs
