"""Real-world tables do not crash: rare classes, a target with missing values, date/time, free-text, ID and
high-cardinality columns, gzip CSV and Parquet; every repair the debugger proposes changes the cell it
repairs. The table is the real banana data with such columns added."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shared_data import dataset, import_file

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.agents import OperationAgent
from automl_agent_jupyter.execution import NamespaceExecutor
from automl_agent_jupyter.schema import Repair
from automl_agent_jupyter.tasks.tabular import safe_stratify

INSTRUCTION = "Classify banana quality; report weighted F1."


def _messy(n: int = 1500) -> pd.DataFrame:
    df = pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(n, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    df.insert(0, "row_id", [f"B{i:05d}" for i in range(n)])
    days = pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    df["harvested"] = (pd.Timestamp("2024-01-01") + days).strftime("%Y-%m-%d")
    df["remark"] = [f"inspector remark {i % (n * 3 // 4)}: batch looked fine, shipped on time" for i in range(n)]
    df["farm"] = [f"farm_{i}" for i in rng.integers(0, 300, n)]
    df.loc[:2, "Quality"] = "Rotten"  # a class of 3 rows
    df.loc[3, "Quality"] = "Unknown"  # a class of 1 row
    df.loc[10:14, "Quality"] = np.nan  # 5 rows without a target
    return df


@pytest.fixture(scope="module")
def messy_gz(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("messy")
    path = tmp / "bananas.csv.gz"
    _messy().to_csv(path, index=False)
    return AutoMLAgent(budget_s=12, n_plans=1).run(INSTRUCTION, data=str(path), out=tmp / "run", target="Quality")


def test_a_messy_gzip_table_runs_and_the_report_says_what_was_done(messy_gz):
    rec = messy_gz.record
    assert rec.status == "succeeded", rec.message
    assert rec.metrics["test"]["f1_weighted"] > 0.9
    notes = "\n".join(rec.data_report.notes)
    for expected in ("gzip-compressed", "5 rows without a 'Quality' value are left out", "'row_id' looks like an ID",
                     "'harvested' holds dates/times", "'remark' is free text", "'farm' is a high-cardinality",
                     "rare class(es)", "'Unknown': 1"):
        assert expected in notes, expected
    kinds = {c.name: c.kind for c in rec.data_report.column_profiles}
    assert kinds["harvested"] == "datetime" and kinds["remark"] == "text" and kinds["row_id"] == "id"


def test_predict_py_takes_raw_rows_with_dates(messy_gz):
    predict = import_file(messy_gz.folder / "predict.py")
    raw = _messy().drop(columns=["Quality"]).tail(25)
    one_by_one = [predict.predict(r)[0] for r in raw.to_dict("records")]
    assert one_by_one == predict.predict(raw)
    assert set(one_by_one) <= {"Good", "Bad", "Rotten", "Unknown"}


def test_parquet(tmp_path):
    path = tmp_path / "bananas.parquet"
    _messy(1000).to_parquet(path)
    rec = AutoMLAgent(budget_s=10, n_plans=1).run(INSTRUCTION, data=str(path), out=tmp_path / "run",
                                                  target="Quality").record
    assert rec.status == "succeeded", rec.message
    assert "read as Parquet" in rec.data_report.notes


def test_safe_stratify():
    y = np.array([0] * 50 + [1] * 47 + [2] * 2 + [3])  # class 3: one row
    assert (safe_stratify(y[:97], 0.1) == y[:97]).all()  # every class can be split: the labels as they are
    strata = safe_stratify(y, 0.1)
    assert strata[-1] == 2 and (strata[:99] == y[:99]).all()  # the single row joins the smallest class
    many_rare = np.array([0] * 60 + [1] * 30 + [2, 3, 4])
    assert set(safe_stratify(many_rare, 0.1)[-3:]) == {-1}  # rare classes pooled into one stratum
    assert safe_stratify(np.array([0, 0, 1, 1]), 1) is None  # one test row cannot hold two strata


@pytest.mark.parametrize("params,stage", [({"stratify": False}, "load_split"),
                                          ({"max_train_fraction": 0.5}, "load_split"),
                                          ({"mixed_as_categorical": True}, "preprocess")])
def test_every_repair_changes_the_cell_it_repairs(tmp_path, params, stage):
    path = tmp_path / "bananas.csv"
    _messy(600).to_csv(path, index=False)
    m = AutoMLAgent(budget_s=30, n_plans=1).manager()
    m.plan(INSTRUCTION, data=str(path), out=tmp_path / "run", target="Quality")
    impl = m.start()
    plan = OperationAgent.apply(Repair(diagnosis="test", action="rerender", params=params), impl.plan)
    after = {c.stage: c.source for c in impl.agent.write(plan, m.planning.requirements, m.planning.report,
                                                             impl.cell_settings(), previous=impl.cells)}
    before = {c.stage: c.source for c in impl.cells}
    assert after[stage] != before[stage]
    assert [s for s in after if after[s] != before[s]] == [stage]  # only the repaired cell
    ns = NamespaceExecutor()
    for s in ("setup", "load_split"):
        assert ns.run(after[s], s).ok
    if "stratify" in params:
        assert ns.namespace["stratify"] is None
    if "max_train_fraction" in params:
        assert len(ns.namespace["X_train"]) == round(0.5 * m.record.split["sizes"]["train"])
    if "mixed_as_categorical" in params:  # a numeric column that holds text in these rows
        for name in ("X_train", "X_valid", "X_test"):
            ns.namespace[name]["Size"] = ns.namespace[name]["Size"].round(1).astype(str).where(
                ns.namespace[name]["Size"] > 0, "n/a")
        broken = NamespaceExecutor(dict(ns.namespace)).run(before["preprocess"], "preprocess")
        assert not broken.ok  # the unrepaired cell fails on the text
        assert ns.run(after["preprocess"], "preprocess").ok
        assert "Size" in ns.namespace["CAT_COLS"] and "Size" not in ns.namespace["NUM_COLS"]
