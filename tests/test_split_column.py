"""A user-given split column on a table ('use the part column for train/test'): read by the prompt agent,
honoured by the data agent and the generated cells (its test rows are the test split, it is no feature), and
the probe never sees a test row. Real data (banana_quality) with the user's own Train/Test column."""
from __future__ import annotations

import pandas as pd
from shared_data import dataset

from automl_agent_jupyter import AutoMLAgent


def test_tabular_run_uses_the_users_split_column(tmp_path):
    df = pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(1500, random_state=0)
    df["part"] = ["Test" if i % 5 == 0 else "Train" for i in range(len(df))]  # 300 test rows, the user's choice
    path = tmp_path / "bananas.csv"
    df.to_csv(path, index=False)
    run = AutoMLAgent(budget_s=3, n_plans=1, top_k=1).run(
        "Classify banana quality as Good or Bad; use the part column as the train/test split", data=str(path),
        out=tmp_path / "run")
    rec = run.record
    assert rec.status == "succeeded", rec.message
    assert rec.requirements.dataset[0].split_column == "part"
    assert rec.requirements.target == "Quality"
    assert rec.split["method"].startswith("given split (column 'part')")
    assert rec.split["sizes"]["test"] == 300 and rec.split["sizes"]["train"] + rec.split["sizes"]["valid"] == 1200
    assert "part" in rec.data_report.dropped_columns and "part" not in rec.data_report.features
    assert set(rec.metrics) >= {"test"} and rec.metrics["test"]  # scored once, on the user's test rows
    assert "PART" in (run.folder / "pipeline.py").read_text()
