"""Faults around a run: its folder, its data file, its saved model and its server.

Each test names the promise it checks: a one-line message, and the state left behind (the record, the data,
the model). Real files, real processes, real HTTP on 127.0.0.1 (uvicorn). Tiny budgets.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from serving import serving
from shared_data import banana_sample

from automl_agent_jupyter import AutoMLAgent, Run
from automl_agent_jupyter.api import Run as RunType
from automl_agent_jupyter.record import RunFolder, RunFolderError

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTION = "Classify banana quality as Good or Bad"


@pytest.fixture(scope="module")
def small_banana(tmp_path_factory) -> str:
    return banana_sample(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, small_banana) -> RunType:
    out = tmp_path_factory.mktemp("finished") / "run"
    run = AutoMLAgent(budget_s=1, n_plans=1, max_revisions=0).run(INSTRUCTION, data=small_banana, out=out)
    assert run.status in ("succeeded", "failed") and (out / "model.joblib").exists(), run.message
    return run


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def _one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


# ---------------------------------------------------------------- the run folder
def test_a_run_folder_that_cannot_be_created(tmp_path, small_banana):
    """--out below a regular file: one line, exit 2, nothing written anywhere."""
    (tmp_path / "file").write_text("not a folder")
    proc = _cli("run", INSTRUCTION, "--data", small_banana, "--out", str(tmp_path / "file" / "run"), "--quiet")
    assert proc.returncode == 2
    assert "cannot create the run folder" in _one_line(proc.stderr) and "Not a directory" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_full_disk_when_the_record_is_written(tmp_path, small_banana):
    """Every file write past 4 kB fails (RLIMIT_FSIZE, as on a full disk or quota): the first record (about 2.3 kB)
    fits, a later one does not: one line, exit 2, never a half-written run.json, no lock left behind."""
    import resource
    import signal

    def quota():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "run", INSTRUCTION, "--data",
                           small_banana, "--out", str(out), "--quiet"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300, preexec_fn=quota)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _one_line(proc.stderr)
    assert "cannot write the run record" in line and "File too large" in line
    assert not (out / "run.json.tmp").exists() and not (out / "run.lock").exists()
    # the last record that fitted stays whole; its writer is gone, so readers call the run abandoned
    from automl_agent_jupyter.record import effective

    assert effective(RunFolder(out).read_record()).status == "abandoned"


def test_a_full_disk_when_the_model_is_saved(tmp_path, small_banana):
    """model.joblib lands on /dev/full: the cell that writes it fails, the run ends 'failed' saying why; the record is whole."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.joblib").symlink_to("/dev/full")
    run = AutoMLAgent(budget_s=1, n_plans=1, max_revisions=0, max_repairs=1).run(INSTRUCTION, data=small_banana,
                                                                                  out=out)
    rec = RunFolder(out).read_record()
    assert rec.status == "failed" == run.status
    full = [a for a in rec.attempts if not a.ok and "No space left on device" in (a.error or "")]
    assert full and full[-1].stage in ("measure", "save"), [(a.stage, a.error) for a in rec.attempts]
    assert "\n" not in rec.message
    assert [a.stage for a in rec.attempts if a.ok][:4] == ["setup", "load_split", "preprocess", "train"]


def test_an_unreadable_record_is_skipped_by_runs(tmp_path, finished):
    """A garbage run.json beside a good one: `runs` lists the good one and does not crash."""
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    good = tmp_path / "good"
    good.mkdir()
    (good / "run.json").write_text((finished.folder / "run.json").read_text())
    proc = _cli("runs", "--dir", str(tmp_path))
    assert proc.returncode == 0 and finished.record.run_id in proc.stdout and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- the data file
def _planned(tmp_path: Path, data: str):
    agent = AutoMLAgent(budget_s=1, n_plans=1, max_revisions=0)
    m = agent.manager()
    rec = m.plan(INSTRUCTION, data=data, out=tmp_path / "run")
    assert rec.status == "planned", rec.message
    return m


def _copy(src: str, tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(Path(src).read_bytes())
    return path


@pytest.mark.parametrize("change,says", [
    ("rows", "changed since planning"),
    ("empty", "is now empty"),
    ("deleted", "is gone"),
])
def test_a_data_file_that_changes_between_planning_and_accept(tmp_path, small_banana, change, says):
    """Accept after the file changed: no cell runs on data the plans never saw; the record says why in one line."""
    data = _copy(small_banana, tmp_path)
    m = _planned(tmp_path, str(data))
    if change == "rows":
        frame = pd.read_csv(data)
        frame.iloc[: len(frame) // 2].to_csv(data, index=False)
    elif change == "empty":
        data.write_text("")
    else:
        data.unlink()
    rec = m.implement()
    assert rec.status == "failed" and says in rec.message and str(data) in rec.message and "\n" not in rec.message
    assert rec.attempts == []  # nothing ran
    assert RunFolder(tmp_path / "run").read_record().status == "failed"


def test_a_data_file_deleted_mid_run(tmp_path, small_banana):
    """The file disappears after setup ran (before load_split reads it): the cell fails, the run says which file."""
    data = _copy(small_banana, tmp_path)

    def delete_at_load(stage, state, info):
        if stage == "cell:load_split" and state == "start" and data.exists():
            data.unlink()

    run = AutoMLAgent(budget_s=1, n_plans=1, max_revisions=0, max_repairs=1, on_event=delete_at_load).run(
        INSTRUCTION, data=str(data), out=tmp_path / "run")
    rec = run.record
    assert rec.status == "failed" and "\n" not in rec.message
    load = [a for a in rec.attempts if a.stage == "load_split"]
    assert load and not load[-1].ok and load[-1].error_type == "FileNotFoundError" and "data.csv" in load[-1].error


# ---------------------------------------------------------------- the saved model
def _corrupt_copy(finished: RunType, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("predict.py", "serve.py", "results.json", "run.json"):
        (folder / name).write_bytes((finished.folder / name).read_bytes())
    (folder / "model.joblib").write_bytes((finished.folder / "model.joblib").read_bytes()[:200])  # truncated
    return folder


def test_a_corrupted_model_file_at_predict_time(tmp_path, finished, small_banana):
    """predict.py on a truncated model.joblib: one line (CLI exit 1; Python: ModelFileError), never a traceback."""
    folder = _corrupt_copy(finished, tmp_path)
    rows = tmp_path / "rows.csv"
    pd.read_csv(small_banana).drop(columns="Quality").head(3).to_csv(rows, index=False)
    proc = subprocess.run([sys.executable, str(folder / "predict.py"), str(rows)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    line = _one_line(proc.stderr)
    assert line.startswith("predict.py: cannot load") and "model.joblib" in line and "corrupted" in line
    with pytest.raises(RuntimeError) as caught:
        Run.load(folder).predict(pd.read_csv(rows))
    assert type(caught.value).__name__ == "ModelFileError" and "\n" not in str(caught.value)
    ok = subprocess.run([sys.executable, str(finished.folder / "predict.py"), str(rows)], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0 and len(ok.stdout.split()) == 3  # the intact model still predicts


def test_predict_py_given_a_missing_file(finished):
    proc = subprocess.run([sys.executable, str(finished.folder / "predict.py"), "/no/such/rows.csv"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "No such file" in _one_line(proc.stderr)


def test_serve_with_a_corrupted_model_refuses_to_start_in_one_line(tmp_path, finished):
    folder = _corrupt_copy(finished, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "uvicorn", "serve:app", "--app-dir", str(folder), "--port", "0"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert "serve.py: cannot load the model" in _one_line(proc.stderr) and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- the server
@pytest.fixture(scope="module")
def server(finished, tmp_path_factory):
    with serving("serve:app", finished.folder, tmp_path_factory.mktemp("serve")) as s:
        yield s


def _row(small_banana: str) -> dict:
    return pd.read_csv(small_banana).drop(columns="Quality").iloc[0].to_dict()


def test_serve_malformed_json_is_a_422_in_one_line(server):
    assert "not valid JSON" in server.rejects(raw=b'[{"Size": 1.0, ')
    assert "not valid JSON" in server.rejects(raw=b"\xff\xfe garbage")
    assert "invalid request" in server.rejects(raw=b'"just a string"')


def test_serve_nan_and_inf_values(server, small_banana):
    """NaN/Infinity tokens (which Python's JSON reader accepts): imputed like missing values or refused in one
    line; never a 500 and never NaN in the answer."""
    row = _row(small_banana)
    for bad in ("NaN", "Infinity", "-Infinity"):
        body = json.dumps([{**row, "Size": 0.0}]).replace('"Size": 0.0', f'"Size": {bad}').encode()
        status, answer = server.predict(raw=body)
        assert status in (200, 422), (bad, status, answer)
        if status == 200:
            assert answer["predictions"][0] in ("Good", "Bad")
        else:
            assert "\n" not in answer["detail"] and "Traceback" not in answer["detail"]
    status, _ = server.predict([row])
    assert status == 200  # the server is still up and answering


def test_serve_huge_values(server, small_banana):
    row = _row(small_banana)
    for value in (1e308, -1e308, 10 ** 400):
        status, answer = server.predict([{**row, "Weight": value}])
        assert status in (200, 422), (value, status, answer)
        if status == 200:
            assert answer["predictions"][0] in ("Good", "Bad")
    status, answer = server.predict([row] * 5000)  # many rows at once
    assert status == 200 and len(answer["predictions"]) == 5000
    assert not any(isinstance(p, float) and math.isnan(p) for p in answer["predictions"])


def test_serve_wrong_types_are_a_422_in_one_line(server, small_banana):
    row = _row(small_banana)
    detail = server.rejects([{**row, "Size": "big"}])
    assert "cannot take this input" in detail or "Size" in detail


def test_a_folder_claimed_twice_in_one_process(tmp_path):
    """Two runs of one kernel: the second claim of a folder is refused in one line while the first holds it."""
    a = RunFolder(tmp_path / "run").claim("run-a")
    with pytest.raises(RunFolderError) as caught:
        RunFolder(tmp_path / "run").claim("run-b")
    assert "in use by run run-a (this process" in str(caught.value) and "\n" not in str(caught.value)
    a.release()
    RunFolder(tmp_path / "run").claim("run-b").release()
