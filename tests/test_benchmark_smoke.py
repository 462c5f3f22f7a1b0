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

from benchmarks import harness, scoring
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
