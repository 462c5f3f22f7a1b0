"""Bad input: a clear one-line message, a run record saying what happened, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from shared_data import dataset

from automl_agent_jupyter import AutoMLAgent


def _plan(instruction, data, tmp_path, **kw):
    run = AutoMLAgent(budget_s=2).run(instruction, data=data, out=tmp_path / "run", auto=False, **kw)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == run.status
    assert "\n" not in run.message and "Traceback" not in run.message
    return run


def test_empty_instruction(tmp_path, banana):
    run = _plan("   ", banana, tmp_path)
    assert run.status == "needs_clarification" and run.record.questions


def test_chit_chat(tmp_path):
    run = _plan("Hello! How are you today?", None, tmp_path)
    assert run.status == "not_ml" and "build" in run.message


def test_task_without_data(tmp_path):
    run = _plan("Classify banana quality as Good or Bad", None, tmp_path)
    assert run.status == "needs_clarification"
    assert any("--data" in q for q in run.record.questions)


def test_missing_file(tmp_path):
    run = _plan("Classify quality", str(tmp_path / "nope.csv"), tmp_path)
    assert run.status == "failed" and run.message.startswith("data file not found")


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("x,y\n1,2\n")
    run = _plan("Classify y", str(tmp_path / "d"), tmp_path)
    assert run.status == "failed" and "directory" in run.message and "a.csv" in run.message


def test_empty_csv(tmp_path):
    (tmp_path / "e.csv").write_text("")
    run = _plan("Classify y", str(tmp_path / "e.csv"), tmp_path)
    assert run.status == "failed" and "empty" in run.message


def test_header_only_csv(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,label\n")
    run = _plan("Classify label", str(tmp_path / "h.csv"), tmp_path)
    assert run.status == "failed" and "no rows" in run.message


def test_non_utf8_csv_is_read_and_said(tmp_path):
    import pandas as pd

    df = pd.read_csv(dataset("banana_quality/banana_quality.csv")).head(400)
    df["Origin"] = ["Côte d'Ivoire", "Equateur"] * 200
    df.to_csv(tmp_path / "latin.csv", index=False, encoding="cp1252")
    run = _plan("Classify banana quality as Good or Bad", str(tmp_path / "latin.csv"), tmp_path)
    assert run.status == "planned"
    assert any("not UTF-8" in n for n in run.record.data_report.notes)


def test_unknown_target_lists_columns(tmp_path, banana):
    run = _plan("Predict the colour of each banana", banana, tmp_path)
    assert run.status == "needs_clarification"
    assert "Columns are: Size, Weight" in run.record.questions[0]
    run = _plan("Classify bananas", banana, tmp_path, target="Colour")
    assert run.status == "failed" and "'Colour' is not in" in run.message and "Quality" in run.message


def test_single_class_target(tmp_path):
    (tmp_path / "one.csv").write_text("a,b,label\n" + "".join(f"{i % 7},{i % 5},yes\n" for i in range(50)))
    run = _plan("Classify the label", str(tmp_path / "one.csv"), tmp_path)
    assert run.status == "failed" and "single class" in run.message


def test_all_nan_column_is_dropped_with_a_reason(tmp_path):
    import pandas as pd

    df = pd.read_csv(dataset("banana_quality/banana_quality.csv")).head(600)
    df["Empty"] = float("nan")
    df.to_csv(tmp_path / "nan.csv", index=False)
    run = _plan("Classify banana quality as Good or Bad", str(tmp_path / "nan.csv"), tmp_path)
    assert run.status == "planned"
    assert run.record.data_report.dropped_columns == {"Empty": "all values missing"}


def test_unmeetable_constraint_is_reported_failed(tmp_path):
    import pandas as pd

    df = pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(1500, random_state=0)
    df.to_csv(tmp_path / "b.csv", index=False)
    run = AutoMLAgent(budget_s=1, max_revisions=1).run(
        "Classify banana quality as Good or Bad with F1 of at least 0.9999", data=str(tmp_path / "b.csv"),
        out=tmp_path / "run")
    rec = run.record
    assert rec.status == "failed"
    assert rec.metrics["test"]["f1"] < 0.9999  # measured, honestly
    f1 = next(c for c in rec.verification.checks if c.name == "f1")
    assert f1.passed is False and "target 0.9999" in f1.reason
    # the whole run had 1 s: no time for a second plan, and the record says so
    assert [r["kind"] for r in rec.revisions] == ["no_revision"] and "budget left" in rec.revisions[0]["reason"]
    assert len({a.plan_id for a in rec.attempts}) == 1
    assert (run.folder / "model.joblib").exists()


@pytest.mark.parametrize("args,expect", [
    (["run", "", "--data", "x.csv"], "status: needs_clarification"),
    (["run", "Classify y", "--data", "/definitely/missing.csv"], "data file not found"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, expect):
    proc = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", *args, "--out", str(tmp_path / "r"),
                           "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert expect in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
