"""Large tables on one machine: gzip CSV and Parquet read with pyarrow in compact dtypes, the same reader in the
generated load cell, profiling on a sample (said in the data report), and a table too big for memory refused in
one line. Real data (crab_age, banana_quality), written as the formats a user brings."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from shared_data import dataset

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.errors import DataError
from automl_agent_jupyter.tasks import tabular


def test_gzip_csv_and_parquet_read_compact_and_train(tmp_path):
    df = pd.read_csv(dataset("crab_age/CrabAgePrediction.csv"))
    gz, pq = tmp_path / "crabs.csv.gz", tmp_path / "crabs.parquet"
    df.to_csv(gz, index=False)
    df.to_parquet(pq, index=False)
    for path in (gz, pq):  # a small table keeps its float64 numbers; repeated text becomes categories
        got, _, _ = tabular.read_table(str(path))
        assert got.shape == df.shape
        assert got["Length"].dtype == np.float64 and isinstance(got["Sex"].dtype, pd.CategoricalDtype)
        assert (got["Age"].to_numpy() == df["Age"].to_numpy()).all()
    big = pd.concat([df] * (tabular_rows() // len(df) + 1), ignore_index=True)  # over 200,000 rows: compact
    big.to_parquet(tmp_path / "big.parquet", index=False)
    got, _, _ = tabular.read_table(str(tmp_path / "big.parquet"))
    assert got["Length"].dtype == np.float32 and got["Age"].dtype.itemsize < 8  # integers downcast exactly
    assert (got["Age"].to_numpy() == big["Age"].to_numpy()).all()
    assert got.memory_usage(deep=True).sum() < 0.6 * big.memory_usage(deep=True).sum()
    # a large CSV is parsed straight into float32 and categories: the same table as pandas' reader, compacted
    reader = tabular._reader()
    fast = reader["compact"](reader["read_csv_compact"](str(gz), {}, keep=["Age"]), keep=["Age"])
    slow = pd.read_csv(gz, engine="pyarrow")
    floats = [c for c in slow.columns if slow[c].dtype == np.float64]
    assert (fast[floats].dtypes == np.float32).all() and (fast[floats] == slow[floats].astype(np.float32)).all().all()
    assert list(fast["Sex"].cat.categories) == sorted(slow["Sex"].unique())
    assert (fast["Sex"].astype(str) == slow["Sex"]).all() and (fast["Age"] == slow["Age"]).all()
    run = AutoMLAgent(budget_s=4, n_plans=1, top_k=1).run("Predict the crab Age (regression)", data=str(gz),
                                                          out=tmp_path / "run")
    assert run.record.status == "succeeded", run.record.message
    assert run.record.metrics["test"]
    source = (run.folder / "pipeline.py").read_text()
    assert 'engine="pyarrow"' in source and "keep=[TARGET]" in source  # the readable cell reads as the agent did
    run = AutoMLAgent(budget_s=4, n_plans=1, top_k=1).run("Predict the crab Age (regression)", data=str(pq),
                                                          out=tmp_path / "run_pq")
    assert run.record.status == "succeeded", run.record.message


def tabular_rows() -> int:
    """Rows over which a table is read compact (the load cell's LARGE_ROWS)."""
    return tabular._reader()["LARGE_ROWS"]


def test_a_large_table_is_profiled_on_a_sample_and_says_so(tmp_path):
    df = pd.read_csv(dataset("banana_quality/banana_quality.csv"))
    big = pd.concat([df] * (tabular.SAMPLE_ROWS // len(df) + 2), ignore_index=True)
    path = tmp_path / "bananas.parquet"
    big.to_parquet(path, index=False)
    from automl_agent_jupyter.schema import Requirements

    req = Requirements.model_validate({"problem": {"downstream_task": "tabular_classification"},
                                       "dataset": [{"target_variables": ["Quality"], "path": str(path)}]})
    report, data = tabular.TabularTask().profile(str(path), req, 0)
    assert report.rows == len(big) and report.extra["profiled_rows"] == tabular.SAMPLE_ROWS
    assert any("random sample of 200,000 rows" in n and "training uses every train row" in n for n in report.notes)
    assert report.class_counts == {str(k): int(v) for k, v in big["Quality"].value_counts().items()}
    assert report.split["sizes"]["train"] + report.split["sizes"]["valid"] + report.split["sizes"]["test"] == len(big)
    from automl_agent_jupyter.planning import Planning

    planning = Planning(requirements=req, report=report, data=data, metric="f1", plans=[])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "RELEASE_MB", 0)  # as a table of millions of rows
        planning.release()
    assert planning.data is None and not tabular._CACHE  # not held beside the cells' own copy while they train...
    assert planning.loaded().equals(data)  # ...and read again for a revision's probes


def test_a_table_that_does_not_fit_in_memory_is_refused_in_one_line(tmp_path):
    path = tmp_path / "crabs.csv"
    pd.read_csv(dataset("crab_age/CrabAgePrediction.csv")).to_csv(path, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOML_AGENT_MEMORY_GB", "0.0001")  # a machine with 100 kB to spare
        with pytest.raises(DataError, match=r"crabs.csv is \d+ (kB|MB) on disk.*sample.*cluster"):
            tabular.read_table(str(path))
    env = {**__import__("os").environ, "AUTOML_AGENT_MEMORY_GB": "0.0001"}
    proc = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "run", "Predict the crab Age",
                           "--data", str(path), "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    out = proc.stdout + proc.stderr
    assert "on disk" in out and "cluster" in out and "status: failed" in out, out


def test_a_large_train_split_trains_on_a_sample_the_cost_model_sizes_and_boosting_stops_at_the_deadline(tmp_path):
    """Where the cost model prices the candidates' default fits on every train row over a third of the budget,
    the load cell keeps a random sample of the train rows (never under SAMPLE_MIN_ROWS; said in the cell and the
    record); HistGradientBoosting on a large split grows in chunks of iterations, so the deadline stops it."""
    from automl_agent_jupyter.execution import NamespaceExecutor
    from automl_agent_jupyter.schema import Candidate, Plan, Requirements

    df = pd.read_csv(dataset("banana_quality/banana_quality.csv"))
    big = pd.concat([df] * 20, ignore_index=True)  # 160,000 rows: 112,000 train rows
    path = tmp_path / "bananas.parquet"
    big.to_parquet(path, index=False)
    req = Requirements.model_validate({"problem": {"downstream_task": "tabular_classification"},
                                       "dataset": [{"target_variables": ["Quality"], "path": str(path)}]})
    task = tabular.TabularTask()
    report, _ = task.profile(str(path), req, 0)
    names = ["lightgbm", "hist_gradient_boosting", "xgboost"]
    assert task.train_sample(names, report, budget_s=600) is None  # every train row fits the budget
    sample = task.train_sample(names, report, budget_s=3)
    assert sample["rows"] == tabular.SAMPLE_MIN_ROWS and sample["of"] == report.split["sizes"]["train"] == 112_000
    assert sample["cost_all_rows_s"] > sample["allowed_s"] == 1.0
    plan = Plan(id="P1", title="HistGradientBoosting", candidates=[Candidate(name="hist_gradient_boosting")],
                preprocessing={"recipe": "trees"})
    cells = task.cells(plan, req, report, {"run_dir": str(tmp_path / "run"), "budget_s": 3, "seed": 0})
    assert "Subsampled for time: one default fit of hist_gradient_boosting" in cells[1].source  # said in the cell
    executor = NamespaceExecutor()
    for cell in cells[:4]:  # setup, load and split, preprocess, train
        result = executor.run(cell.source, cell.stage)
        assert result.ok, (cell.stage, result.error)
    results = executor.namespace["RESULTS"]
    assert results["split"]["sizes"]["train"] == tabular.SAMPLE_MIN_ROWS  # trained on the sample...
    assert results["split"]["train_sample"]["of"] == 112_000  # ...and the record says of how many and why
    assert results["split"]["sizes"]["valid"] == report.split["sizes"]["valid"]  # validation keeps every row
    first = results["selection"]["candidates"]["hist_gradient_boosting"]["trials"][0]
    assert first["cut_rounds"] and first["cut_rounds"] < 100, first  # its defaults' 100 iterations, stopped in time


def test_the_load_cell_takes_over_the_large_table_planning_read_instead_of_parsing_it_again(tmp_path):
    """A large table planning read is handed once to the load cell run in the same process (the same file), so it
    is not parsed twice; a target read inexactly (float32) or a changed file is read from the file."""
    from automl_agent_jupyter.execution import NamespaceExecutor
    from automl_agent_jupyter.planning import Planning
    from automl_agent_jupyter.schema import Candidate, Plan, Requirements

    path = tmp_path / "crabs.csv"
    pd.read_csv(dataset("crab_age/CrabAgePrediction.csv")).to_csv(path, index=False)
    req = Requirements.model_validate({"problem": {"downstream_task": "tabular_regression"},
                                       "dataset": [{"target_variables": ["Age"], "path": str(path)}]})
    task = tabular.TabularTask()
    report, data = task.profile(str(path), req, 0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "RELEASE_MB", 0)  # as a table of millions of rows
        Planning(requirements=req, report=report, data=data, metric="rmse", plans=[]).release()
    assert tabular.take_table(str(tmp_path / "other.csv")) is None  # another file: nothing handed over
    plan = Plan(id="P1", title="trees", candidates=[Candidate(name="lightgbm")], preprocessing={"recipe": "trees"})
    cells = task.cells(plan, req, report, {"run_dir": str(tmp_path / "run"), "budget_s": 5, "seed": 0})
    executor = NamespaceExecutor()
    for cell in cells[:2]:  # setup, load and split
        result = executor.run(cell.source, cell.stage)
        assert result.ok, (cell.stage, result.error)
    assert "not parsed again" in result.stdout
    assert sum(executor.namespace["RESULTS"]["split"]["sizes"].values()) == report.rows
    assert tabular.take_table(str(path), ["Age"]) is None  # handed over once
    result = executor.run(cells[1].source, "load_split")  # run again: reads the file
    assert result.ok and "not parsed again" not in result.stdout
    tabular.read_table(str(path))
    tabular._CACHE["df"] = tabular._CACHE["df"].astype({"Age": np.float32})  # a target compacted to float32
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "RELEASE_MB", 0)
        task.release(report)
    assert tabular.take_table(str(path), ["Age"]) is None  # inexact: the cell reads the file (exact) itself


def _bananas(tmp_path, copies: int):
    """banana_quality repeated ``copies`` times (8,000 rows each), as Parquet, with its requirements."""
    from automl_agent_jupyter.schema import Requirements

    df = pd.read_csv(dataset("banana_quality/banana_quality.csv"))
    path = tmp_path / f"bananas_{copies}.parquet"
    pd.concat([df] * copies, ignore_index=True).to_parquet(path, index=False)
    req = Requirements.model_validate({"problem": {"downstream_task": "tabular_classification"},
                                       "dataset": [{"target_variables": ["Quality"], "path": str(path)}]})
    return path, req


def _load_cell(task, req, report, tmp_path, budget_s: float, name: str) -> dict:
    """The namespace after the setup and load_split cells of a one-candidate plan rendered for ``budget_s``."""
    from automl_agent_jupyter.execution import NamespaceExecutor
    from automl_agent_jupyter.schema import Candidate, Plan

    plan = Plan(id="P1", title="trees", candidates=[Candidate(name="lightgbm")], preprocessing={"recipe": "trees"})
    cells = task.cells(plan, req, report, {"run_dir": str(tmp_path / name), "budget_s": budget_s, "seed": 0})
    executor = NamespaceExecutor()
    for cell in cells[:2]:
        result = executor.run(cell.source, cell.stage)
        assert result.ok, (cell.stage, result.error)
    return executor.namespace


def test_class_codes_follow_the_labels_as_text_without_a_text_copy():
    """The probes number classes as the load cell does (sorted as text): a categorical's codes are renumbered, the
    same codes as going through the labels' text (numbers, mixed case, unused categories, missing labels)."""
    quality = pd.read_csv(dataset("banana_quality/banana_quality.csv"))["Quality"]
    for labels in (quality, quality.map({"Good": 10, "Bad": 9}), quality.map({"Good": "good", "Bad": "Bad"}),
                   quality.where(quality.index % 7 > 0)):
        y = labels.astype("category")
        y = y.cat.add_categories(["never seen"])
        assert tabular._label_codes(y).equals(y.astype(str).astype("category").cat.codes), labels.head()


def test_the_probes_split_a_large_table_once_as_the_load_cell_does_and_never_touch_its_test_rows(tmp_path):
    """The model agent's probes take the load cell's own train and validation rows (the same row numbers), made once
    per table and shared by every plan; on a split of more than SAMPLE_ROWS rows the probe's rows come from a random
    pool of it (no pass over millions of rows), still never a test row."""
    path, req = _bananas(tmp_path, 40)  # 320,000 rows: 224,000 train rows
    task = tabular.TabularTask()
    report, data = task.profile(str(path), req, 0)
    y, rows_kept, tr, va = task._probe_split(data, report, req, 0)
    assert task._probe_split(data, report, req, 0)[2] is tr  # made once: every plan's probes share it
    assert len(tr) == report.split["sizes"]["train"] > tabular.SAMPLE_ROWS
    ns = _load_cell(task, req, report, tmp_path, 100_000, "run")  # a budget that trains on every row
    assert ns["RESULTS"]["split"].get("train_sample") is None
    assert np.array_equal(ns["TRAIN_ROWS"], tr) and np.array_equal(ns["VALID_ROWS"], va)
    from automl_agent_jupyter.schema import Candidate, Plan

    plan = Plan(id="P1", title="trees", candidates=[Candidate(name="lightgbm")], preprocessing={"recipe": "trees"})
    probe = task._probe_namespace(plan, req, report, data, 0, rows=1000)
    assert len(probe["Xp_train"]) == 1000 and set(probe["Xp_train"].index) <= set(tr)
    assert set(probe["Xp_valid"].index) <= set(va) and not set(probe["Xp_train"].index) & set(ns["TEST_ROWS"])
    assert (probe["yp_train"].to_numpy() == ns["y"].iloc[probe["Xp_train"].index].to_numpy()).all()  # same classes
    task.release(report.model_copy(update={"extra": {"memory_mb": tabular.RELEASE_MB}}))
    assert not task._probe_splits  # let go with the table


def test_a_sampled_training_validates_on_as_many_rows_and_the_test_split_keeps_every_row(tmp_path):
    """When training takes a sample of the train rows, validation takes as many of its rows (every boosting round and
    every trial scores them), said in the cell and the record; the test rows are the same as without sampling."""
    path, req = _bananas(tmp_path, 20)  # 160,000 rows: 112,000 train, 32,000 validation, 16,000 test
    task = tabular.TabularTask()
    report, _ = task.profile(str(path), req, 0)
    whole = _load_cell(task, req, report, tmp_path, 100_000, "whole")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "SAMPLE_MIN_ROWS", 20_000)
        sample = task.train_sample(["lightgbm"], report, budget_s=1)
        assert sample["rows"] == sample["valid_rows"] == 20_000 and sample["valid_of"] == 32_000
        assert "validation uses a random 20,000 of its 32,000 rows" in sample["why"]
        ns = _load_cell(task, req, report, tmp_path, 1, "sampled")
    split = ns["RESULTS"]["split"]
    assert split["sizes"] == {"train": 20_000, "valid": 20_000, "test": 16_000}
    assert split["train_sample"]["valid_rows"] == 20_000  # in the record
    assert set(ns["X_valid"].index) < set(whole["X_valid"].index) and set(ns["X_train"].index) < set(whole["X_train"].index)
    assert ns["X_test"].index.equals(whole["X_test"].index)  # the test split: every row, the same rows


def test_a_large_data_file_is_fingerprinted_on_sampled_blocks(tmp_path):
    """A data file over FULL_HASH_BYTES is fingerprinted by its size and sampled blocks (said in the record), not read
    whole twice; a changed file is still caught, and a record with a full hash still compares as before."""
    from automl_agent_jupyter import record

    path = tmp_path / "crabs.csv"
    pd.read_csv(dataset("crab_age/CrabAgePrediction.csv")).to_csv(path, index=False)
    full = record.data_fingerprint(str(path))
    assert "sha256" in full and record.data_changed(str(path), full) is None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(record, "FULL_HASH_BYTES", 1000)
        sampled = record.data_fingerprint(str(path))
        assert "sha256_sampled" in sampled and "blocks of 1 MB" in sampled["sampled"]
        assert record.data_changed(str(path), sampled) is None and record.data_changed(str(path), full) is None
        text = path.read_text()
        path.write_text(text[:5000] + text[5000:].replace("0.", "1.", 1))  # the same size, one byte changed
        assert record.data_changed(str(path), sampled) and record.data_changed(str(path), full)


def test_the_tail_kept_after_training_grows_with_the_test_rows_beyond_a_hundred_thousand():
    """Evaluating and measuring predict every test row: a test split of 500,000 rows keeps 2 s more than TAIL_S after
    training; 100,000 test rows or fewer keep TAIL_S (small tables as before)."""
    assert tabular.tail_seconds(0) == tabular.tail_seconds(tabular.TAIL_TEST_ROWS) == tabular.TAIL_S
    assert tabular.tail_seconds(500_000) == tabular.TAIL_S + 4 * tabular.TAIL_S_PER_100K
