"""The tabular engine: decisions on validation only, one wall-clock budget, replayable training, the
one-row predict.py path. Real data (../shared/datasets), real runs, small budgets."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from shared_data import banana_sample, dataset, import_file

from automl_agent_jupyter import AutoMLAgent

INSTRUCTION = "Classify banana quality as Good or Bad; I need an F1 of at least 0.95 and predictions under 5 ms each."


@pytest.fixture(scope="module")
def banana_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    data = tmp / "banana.csv"
    pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(3000, random_state=1).to_csv(data, index=False)
    return AutoMLAgent(budget_s=15, n_plans=2).run(INSTRUCTION, data=str(data), out=tmp / "run")


def _replay(folder: Path, poison: bool) -> dict:
    """pipeline.py as written by the run (trials fixed, no clock), optionally with the test rows poisoned:
    labels flipped and feature rows shuffled after the split. Returns its results.json."""
    script = (folder / "pipeline.py").read_text()
    marker = 'print("split sizes:", RESULTS["split"]["sizes"])'
    assert marker in script
    if poison:
        script = script.replace(marker, marker + "\ny_test = 1 - y_test\nX_test = X_test.sample(frac=1.0, random_state=7)"
                                "\nX_test.index = y_test.index\n", 1)
    out = folder / ("poisoned" if poison else "clean")
    out.mkdir(exist_ok=True)
    script = script.replace(str(folder), str(out))  # its own folder and Optuna storage
    (out / "pipeline.py").write_text(script)
    proc = subprocess.run([sys.executable, "pipeline.py"], cwd=out, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "results.json").read_text())


def _decisions(results: dict) -> dict:
    """What the train stage decided, without the timings (seconds, measured latency)."""
    sel = results["selection"]
    return {"chosen": sel["chosen"], "too_slow": sel["too_slow"], "refit": sel["refit_on_train_valid"],
            "trials": {n: [(t["source"], t["valid"], t.get("rounds")) for t in c["trials"]]
                       for n, c in sel["candidates"].items()}}


def test_no_decision_reads_the_test_rows(banana_run):
    """Poisoning the test rows changes the test score and nothing that was decided: candidates, their
    trials, the ensemble, the threshold and the validation numbers are the same."""
    rec = banana_run.record
    assert rec.status in ("succeeded", "failed") and rec.metrics["test"]
    clean, poisoned = _replay(banana_run.folder, False), _replay(banana_run.folder, True)
    ran = json.loads((banana_run.folder / "results.json").read_text())
    for key in ("model", "params", "threshold"):
        assert clean[key] == ran[key] == poisoned[key], key
    assert _decisions(clean) == _decisions(ran) == _decisions(poisoned)
    assert clean["metrics"]["valid"] == poisoned["metrics"]["valid"] == ran["metrics"]["valid"]
    assert clean["metrics"]["test"]["f1"] == ran["metrics"]["test"]["f1"]  # the replay reproduces the run
    assert poisoned["metrics"]["test"]["f1"] < clean["metrics"]["test"]["f1"] - 0.3  # the test score did change
    # run.json: every plan trained with the validation numbers that decided
    assert rec.trained and all(t["valid"].get("f1") is not None for t in rec.trained)
    assert ran["selection"]["decided_on"].startswith("validation split")


def test_revisions_are_decided_on_validation(tmp_path):
    """The manager revises on the validation verdict: a test miss is reported, not chased; a validation miss
    revises even when the test rows would have passed."""
    data = banana_sample(tmp_path, rows=1500)
    m = AutoMLAgent(budget_s=600).manager()
    m.plan("Classify banana quality as Good or Bad with F1 of at least 0.95", data=str(data), out=tmp_path / "run")
    good, bad = {"f1": 0.97, "accuracy": 0.97}, {"f1": 0.90, "accuracy": 0.90}
    m.start().conclude({"metrics": {"valid": good, "test": bad}, "measured": {}})
    assert m.record.status == "failed"  # reported on test, honestly
    assert m.revise() is None  # but validation met the target: nothing to chase
    m.start(m.record.plans[1].id).conclude({"metrics": {"valid": bad, "test": good}, "measured": {}})
    nxt = m.revise()
    assert nxt is not None and m.record.revisions[-1]["decided_on"] == "validation"
    assert m.record.revisions[-1]["validation"]["f1"] == 0.90 and "test" not in m.record.revisions[-1]
    assert [t["passed_on_validation"] for t in m.record.trained] == [True, False]


def test_a_plan_that_misses_on_validation_is_never_tested(tmp_path):
    """With time for a revision, a plan that misses a target on validation is set aside before its test
    split is scored; the test split is scored once, for the plan that is best on validation (kept)."""
    data = banana_sample(tmp_path, rows=1500)
    run = AutoMLAgent(budget_s=30, n_plans=2, max_revisions=1).run(
        "Classify banana quality as Good or Bad with F1 of at least 0.9999", data=str(data), out=tmp_path / "run")
    rec = run.record
    assert len(rec.trained) == 2 and sum(t["test_scored"] for t in rec.trained) == 1, rec.trained
    assert [r["kind"] for r in rec.revisions] == ["revision"] and rec.revisions[0]["decided_on"] == "validation"
    # the kept plan is the best on validation (both missed the target), whichever trained last; two plans can
    # tie (the same model family wins inside both), and a tie may keep either
    top = max(t["valid"]["f1"] for t in rec.trained)
    best = next(t for t in rec.trained if t["plan"] == rec.kept["plan"] and t["valid"]["f1"] == top)
    assert rec.kept["plan"] == best["plan"] == rec.selected_plan and rec.kept["decided_on"] == "validation"
    assert rec.kept["valid"]["f1"] == best["valid"]["f1"] and rec.kept["over"][0]["plan"] != best["plan"]
    assert next(t for t in rec.trained if t["test_scored"])["plan"] == best["plan"]
    assert sum(a.stage == "evaluate" for a in rec.attempts) == 1
    assert next(a for a in rec.attempts if a.stage == "evaluate").plan_id == best["plan"]
    saved = json.loads((run.folder / "results.json").read_text())  # what the kept plan's own cells wrote
    assert saved["plan_id"] == best["plan"] and saved["metrics"]["valid"]["f1"] == best["valid"]["f1"]


def test_the_best_plan_on_validation_is_kept_with_its_own_names(tmp_path):
    """Three plans all miss on validation; the first is the best there: it is kept after the third trained,
    its names (model, results) and its predict.py are back, and only its test split is scored."""
    data = banana_sample(tmp_path, rows=1500)
    m = AutoMLAgent(budget_s=600, n_plans=3, max_revisions=2).manager()
    m.plan("Classify banana quality as Good or Bad with F1 of at least 0.99", data=str(data), out=tmp_path / "run")
    ns: dict = {"user_frame": "the user's own name"}
    first = m.start(None, ns)
    scores = {}
    for f1 in (0.96, 0.93, 0.95):
        impl = m.impl
        scores[impl.plan.id] = f1
        ns.update(MODEL=f"model of {impl.plan.id}", RESULTS={"metrics": {"valid": {"f1": f1, "accuracy": f1}},
                                                             "measured": {}})
        (m.folder.path / "predict.py").write_text(f"# predict.py of {impl.plan.id}")
        impl.files = {"predict.py": f"# predict.py of {impl.plan.id}"}
        nxt = m.before_test(ns)
    assert len(scores) == 3 and nxt.kind == "run" and m.impl is first and nxt.index == first.gate
    assert m.impl.cells[nxt.index].stage == "evaluate"
    assert ns["MODEL"] == f"model of {first.plan.id}" and ns["RESULTS"]["metrics"]["valid"]["f1"] == 0.96
    assert ns["user_frame"] == "the user's own name"
    assert (m.folder.path / "predict.py").read_text() == f"# predict.py of {first.plan.id}"
    rec = m.record
    assert rec.kept["plan"] == first.plan.id == rec.selected_plan and rec.kept["valid"]["f1"] == 0.96
    assert sorted(o["f1"] for o in rec.kept["over"]) == [0.93, 0.95]
    m.impl.conclude({**ns["RESULTS"], "metrics": {"valid": {"f1": 0.96, "accuracy": 0.96},
                                                  "test": {"f1": 0.95, "accuracy": 0.95}}})
    assert [(t["plan"], t["test_scored"]) for t in rec.trained] == [(p, p == first.plan.id) for p in scores]
    assert rec.metrics["test"]["f1"] == 0.95 and rec.status == "failed"  # reported as it is, never chased


def test_a_plan_that_fails_after_one_set_aside_keeps_the_one_set_aside(tmp_path):
    """The first plan misses on validation and is set aside; the revision's plan fails before its test split:
    with no revision left, the plan set aside is kept (its names restored) and its test split scored."""
    data = banana_sample(tmp_path, rows=1500)
    m = AutoMLAgent(budget_s=600, n_plans=2, max_revisions=1).manager()
    m.plan("Classify banana quality as Good or Bad with F1 of at least 0.99", data=str(data), out=tmp_path / "run")
    ns: dict = {}
    first = m.start(None, ns)
    ns.update(MODEL="model of the first", RESULTS={"metrics": {"valid": {"f1": 0.96, "accuracy": 0.96}}})
    assert m.before_test(ns).kind == "revise" and m.impl is not first
    ns.update(MODEL="half a model", RESULTS={"metrics": {}})  # the second plan's train cell failed for good
    nxt = m.after_failure(ns)
    assert nxt.kind == "run" and m.impl is first and nxt.index == first.gate
    assert ns["MODEL"] == "model of the first" and m.record.kept["plan"] == first.plan.id
    assert [t["failed_checks"] for t in m.record.trained] == [["f1"], ["execution"]]


def test_one_row_predictions_use_the_array_path(banana_run):
    predict = import_file(banana_run.folder / "predict.py")
    assert predict.ARTIFACT["layout"] is not None  # numeric columns: no DataFrame for one row
    rows = pd.read_csv(banana_run.record.data_report.path).drop(columns=["Quality"]).head(30)
    one_by_one = [predict.predict(r)[0] for r in rows.to_dict("records")]
    assert one_by_one == predict.predict(rows)
    measured = json.loads((banana_run.folder / "results.json").read_text())["measured"]
    assert measured["inference_latency"] > 0


def test_a_20_s_budget_holds_for_the_whole_run(tmp_path):
    """budget_s is the whole run, instruction to saved model: software_defects (10k rows) in 20 s ends
    within 27 s, under whatever else this machine runs."""
    t0 = time.perf_counter()
    run = AutoMLAgent(budget_s=20).run("Predict whether a software module has defects; report F1.",
                                       data=dataset("software_defects/jm1.csv"), out=tmp_path / "run")
    wall = time.perf_counter() - t0
    assert run.record.metrics["test"]["f1"] > 0.3
    assert wall <= 27, (wall, run.record.timings)


def test_target_scale_and_cross_fit_bag_are_decided_and_replayed(tmp_path):
    """RMSE on a non-negative target: the train cell fits the first configuration on the raw target and on log1p
    and keeps the better on validation; on a small table the boosting members' final fit is a 5-fold cross-fit
    bag. pipeline.py replays both decisions (the same scale, the same fold rounds, the same test RMSE)."""
    data = tmp_path / "crab.csv"
    pd.read_csv(dataset("crab_age/CrabAgePrediction.csv")).sample(1500, random_state=0).to_csv(data, index=False)
    run = AutoMLAgent(budget_s=15, n_plans=1).run("Predict the Age of crabs and report the RMSE.", data=str(data),
                                                  out=tmp_path / "run")
    ran = json.loads((run.folder / "results.json").read_text())
    sel = ran["selection"]
    choice = sel["target_transform"]
    assert set(choice) == {"none", "log1p", "chosen"} and choice["none"] is not None and choice["log1p"] is not None
    assert choice["chosen"] == ("log1p" if choice["log1p"] > choice["none"] else "none")  # the better on validation
    first = next(iter(sel["candidates"]))
    assert [t["source"] for t in sel["candidates"][first]["trials"][:2]] == ["portfolio 0", "portfolio 0, log1p target"]
    assert ran["replay"]["bag"] and sel["final_fit"].startswith("5-fold cross-fit bag"), sel["final_fit"]
    assert all(len(r) == 5 for r in ran["replay"]["bag_rounds"].values())
    clean = _replay(run.folder, False)
    assert clean["selection"]["target_transform"] == choice and clean["replay"]["bag_rounds"] == ran["replay"]["bag_rounds"]
    assert clean["metrics"]["test"]["rmse"] == ran["metrics"]["test"]["rmse"]


def test_kernel_and_neighbour_fits_take_the_rows_their_time_affords(tmp_path):
    """An SVM's fit (rows squared) and a k-NN's search over its rows cannot stop partway: on smoker_status (18k train
    rows) with 25 s for the whole run, each is fitted on the rows its time affords, predictions of the test rows
    included, and the whole run holds its budget. pipeline.py replays the same rows (the same trials, the same test F1)."""
    data = tmp_path / "smoker.csv"  # 25,000 rows: 18,000 train rows, under the SVM's 20,000 (catalogue max_rows)
    pd.read_csv(dataset("smoker_status/smoker_status_biosignals.csv")).sample(25_000, random_state=0).to_csv(data, index=False)
    t0 = time.perf_counter()
    run = AutoMLAgent(budget_s=25, n_plans=1).run(
        "Predict smoking status (the smoking column) with an SVM or k nearest neighbours; report the F1 score.",
        data=str(data), out=tmp_path / "run")
    wall = time.perf_counter() - t0
    rec = run.record
    assert wall <= 1.1 * 25 + 5, (wall, rec.timings)
    n_train = rec.data_report.split["sizes"]["train"]
    ran = json.loads((run.folder / "results.json").read_text())
    trials = ran["selection"]["candidates"]["svm_rbf"]["trials"]
    capped = [t for t in trials if t.get("rounds")]
    assert capped and all(t["rounds"] < n_train and t["cut_rounds"] == t["rounds"] for t in capped), trials
    clean = _replay(run.folder, False)
    assert [t.get("rounds") for t in clean["selection"]["candidates"]["svm_rbf"]["trials"]] == \
        [t.get("rounds") for t in trials]
    assert clean["metrics"]["test"]["f1"] == ran["metrics"]["test"]["f1"]


def test_the_model_agent_extrapolates_to_the_effort_a_candidate_can_afford(tmp_path):
    """A probe's score is extrapolated to what the candidate's training can afford in its share of the budget (the
    cost model's price, no clock): on a large table with little time an SVM (fit ~ rows squared, predictions ~ rows)
    and a k-NN (predictions ~ rows) are extrapolated to far fewer rows than the table has, not to every row; with
    time enough, to every row."""
    from automl_agent_jupyter.knowledge import learning_curves as lc

    assert lc.affordable_ratio("gradient_boosting", 10.0, 0.1, 1000, 5000, 15.0) == 10.0  # affordable: every row
    svm = lc.affordable_ratio("kernel", 100.0, 0.05, 1000, 10_000, 15.0)
    assert 1.0 < svm < 100.0 and abs(0.05 * svm ** 2 + 0.05 * svm * 10 - 15.0) < 0.1  # the share, spent
    data = tmp_path / "smoker.csv"
    pd.read_csv(dataset("smoker_status/smoker_status_biosignals.csv")).sample(25_000, random_state=0).to_csv(data, index=False)
    rec = AutoMLAgent(budget_s=6, n_plans=1).run(
        "Predict smoking status (the smoking column) with an SVM or k nearest neighbours; report the F1 score.",
        data=str(data), out=tmp_path / "run", auto=False).record
    cands = {c.name: c for c in rec.plans[0].candidates}
    for name in ("svm_rbf", "knn"):
        p = cands[name].probe
        assert p["effort_ratio"] < p["row_ratio"] and "affords" in cands[name].basis, (name, p)
        prior = lc.curve("tabular", cands[name].family)
        at_effort, at_rows = (round(lc.extrapolate_metric("f1", True, p["metric"], p[k], prior, lc.CAUTION)[0], 4)
                              for k in ("effort_ratio", "row_ratio"))
        assert cands[name].predicted_metric == at_effort != at_rows  # extrapolated to what it can afford


def test_a_table_plan_names_one_family_more_and_the_probes_keep_the_top_k(tmp_path):
    """The kernel / neighbour / neural plan of a classification table also names logistic regression (never probed
    when a plan stopped at top-k families): all four are probed, and the best predicted top-k are kept."""
    data = banana_sample(tmp_path, rows=1500)
    rec = AutoMLAgent(budget_s=10, top_k=3).run("Classify banana quality as Good or Bad; report F1.", data=data,
                                                out=tmp_path / "run", auto=False).record
    scaled = next(p for p in rec.plans if p.preprocessing.get("recipe") == "scaled")
    assert scaled.model_families == ["svm_rbf", "knn", "mlp", "logistic_regression"]
    probed = {c.name for c in scaled.candidates}
    assert 3 <= len(probed) <= 4 and probed <= set(scaled.model_families)
    kept = [c.predicted_metric for c in scaled.candidates[:3]]
    assert kept == sorted(kept, reverse=True)  # the top-3 by prediction (an overlapping fourth may follow)
