"""Interrupts, kills and two runs in one place: the record never lies about a run's state.

Real processes and real signals: the CLI is started as a subprocess and sent SIGINT / SIGTERM / SIGKILL while
it trains; in-process runs send themselves SIGINT at the start of a chosen stage (``os.kill``), so that every
stage is interrupted deterministically. Budgets are tiny (CI time).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared_data import banana_sample

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.interrupt import Interrupted
from automl_agent_jupyter.record import RunFolder, list_runs

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTION = "Classify banana quality as Good or Bad"


@pytest.fixture(scope="module")
def small_banana(tmp_path_factory) -> str:
    return banana_sample(tmp_path_factory.mktemp("data"))


def _record(folder: Path) -> dict:
    for _ in range(50):
        try:
            return json.loads((folder / "run.json").read_text())
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"no readable run.json in {folder}")


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "automl_agent_jupyter.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_stage(proc: subprocess.Popen, folder: Path, stage: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if json.loads((folder / "run.json").read_text()).get("stage") == stage:
                return
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the run never reached {stage}")


def _training_cli(tmp_path: Path, data: str, name: str = "run") -> tuple[subprocess.Popen, Path]:
    out = tmp_path / name
    proc = _cli("run", INSTRUCTION, "--data", data, "--out", str(out), "--budget", "20", "--plans", "1",
                cwd=tmp_path)
    _wait_for_stage(proc, out, "cell:train")
    time.sleep(1.0)  # inside the tuning loop
    return proc, out


@pytest.mark.parametrize("sig,reason,code", [(signal.SIGINT, "Ctrl-C (SIGINT)", 130),
                                             (signal.SIGTERM, "SIGTERM", 143)])
def test_a_signal_mid_training_is_recorded_within_2_s(tmp_path, small_banana, sig, reason, code):
    proc, out = _training_cli(tmp_path, small_banana)
    t0 = time.monotonic()
    proc.send_signal(sig)
    while _record(out)["status"] == "running":
        assert time.monotonic() - t0 < 2.0, "the record still says running 2 s after the signal"
        time.sleep(0.02)
    seconds = time.monotonic() - t0
    stdout, stderr = proc.communicate(timeout=60)
    rec = _record(out)
    assert rec["status"] == "interrupted" and seconds < 2.0
    assert proc.returncode == code
    assert rec["interruption"]["reason"] == reason and rec["interruption"]["stage"] == "cell:train"
    assert rec["interruption"]["finished"][-3:] == ["cell:setup", "cell:load_split", "cell:preprocess"]
    assert rec["interruption"]["seconds_in_stage"] >= 1.0 and rec["timings"]["cell:train"] >= 1.0
    assert rec["segments"][-1]["status"] == "interrupted" and rec["segments"][-1]["ended"]
    said = [ln.strip() for ln in stderr.replace("\r", "\n").splitlines() if "automl-agent:" in ln]
    assert said == [f"automl-agent: {rec['message']}"] and "Traceback" not in stderr, stderr  # one line
    assert "in cell train" in rec["message"] and "preprocess" in rec["message"]
    assert not (out / "run.lock").exists()


def test_kill_9_reads_abandoned_in_runs(tmp_path, small_banana):
    proc, out = _training_cli(tmp_path, small_banana)
    proc.kill()
    proc.wait()
    assert _record(out)["status"] == "running"  # nothing could be written: the record still says running ...
    (rec,) = list_runs(tmp_path)
    assert rec.status == "abandoned" and "cell train" in rec.message  # ... and every reader says abandoned
    listing = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "runs", "--dir", str(tmp_path)],
                             capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    assert "abandoned" in listing and f"resume: automl-agent resume {out}" in listing and "at train" in listing
    assert (out / "run.lock").exists()  # stale: resume takes it over
    resumed = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "resume", str(out), "--quiet"],
                             capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert resumed.returncode in (0, 1) and "Traceback" not in resumed.stderr, resumed.stderr
    rec = _record(out)
    assert rec["status"] in ("succeeded", "failed") and rec["metrics"]["test"], rec["message"]
    assert [(s["status"], s["resumed_from"]) for s in rec["segments"]] == [("abandoned", None),
                                                                         (rec["status"], "cell:train")]
    stages = [a["stage"] for a in rec["attempts"] if a["ok"]]
    assert stages[:3] == ["setup", "load_split", "preprocess"] and stages[-1] == "predict"
    assert not (out / "run.lock").exists()
    again = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "resume", str(out)],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_a_second_cli_run_into_the_same_folder_is_refused_in_one_line(tmp_path, small_banana):
    proc, out = _training_cli(tmp_path, small_banana)
    try:
        second = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "run", INSTRUCTION, "--data",
                                 small_banana, "--out", str(out), "--quiet"], capture_output=True, text=True,
                                cwd=ROOT, timeout=120)
        assert second.returncode == 2
        lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "is in use by run" in lines[0] and f"pid {proc.pid}" in lines[0], second.stderr
        assert _record(out)["status"] == "running"  # the first run's record is untouched
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert _record(out)["status"] == "interrupted"
    third = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "run", INSTRUCTION, "--data",
                            small_banana, "--out", str(out), "--plan-only", "--quiet"], capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
    assert third.returncode == 2 and "holds interrupted run" in third.stderr and "automl-agent resume" in third.stderr


def test_default_folders_of_two_runs_in_one_second_differ(tmp_path, small_banana):
    a = AutoMLAgent(budget_s=1, n_plans=1, runs_dir=str(tmp_path)).run(INSTRUCTION, data=small_banana, auto=False)
    b = AutoMLAgent(budget_s=1, n_plans=1, runs_dir=str(tmp_path)).run(INSTRUCTION, data=small_banana, auto=False)
    assert a.folder != b.folder and a.record.run_id != b.record.run_id
    assert {r.run_id for r in list_runs(tmp_path)} == {a.record.run_id, b.record.run_id}


STAGES = ["request_verification", "parsing", "retrieval", "data_profiling", "planning", "model_search",
          "execution_verification", "code_generation", "cell:setup", "cell:load_split", "cell:preprocess",
          "cell:train", "cell:evaluate", "cell:measure", "cell:save", "cell:predict", "implementation_verification"]


@pytest.mark.parametrize("stage", STAGES)
def test_ctrl_c_in_each_stage(tmp_path, small_banana, stage):
    """SIGINT delivered to this process as ``stage`` starts: the run stops there and the record says so."""
    def ctrl_c_at(name, state, info):
        if name == stage and state == "start":
            os.kill(os.getpid(), signal.SIGINT)

    agent = AutoMLAgent(budget_s=1, n_plans=1, on_event=ctrl_c_at)
    with pytest.raises(Interrupted) as caught:
        agent.run(INSTRUCTION, data=small_banana, out=tmp_path / "run")
    rec = RunFolder(tmp_path / "run").read_record()
    assert rec.status == "interrupted", rec.message
    assert rec.interruption.stage == stage and rec.interruption.reason == "Ctrl-C (SIGINT)"
    assert caught.value.line == rec.message and "\n" not in rec.message
    assert stage not in rec.interruption.finished
    index = STAGES.index(stage)
    assert [s for s in rec.interruption.finished if s in STAGES] == STAGES[:index]
    assert not (tmp_path / "run" / "run.lock").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # pytest's handler is back
    if stage in ("model_search", "cell:train", "cell:save"):  # resumed, the run reaches a verified model
        run = AutoMLAgent.for_run(tmp_path / "run").resume(tmp_path / "run")
        assert run.record.verification is not None and run.record.metrics["test"], run.message
        assert [s.resumed_from for s in run.record.segments] == [None, stage]
        assert run.record.segments[0].status == "interrupted"


def test_percent_automl_resume_in_a_kernel(tmp_path, small_banana):
    """`%automl runs` shows the interrupted run with the resume command; `%automl resume RUN_ID` runs the
    remaining cells in the kernel's namespace (nothing inserted) and reaches a verified model."""
    from IPython.core.interactiveshell import InteractiveShell

    def ctrl_c_at(name, state, info):
        if name == "cell:evaluate" and state == "start":
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        AutoMLAgent(budget_s=1, n_plans=1, runs_dir=str(tmp_path), on_event=ctrl_c_at).run(INSTRUCTION,
                                                                                             data=small_banana)
    (rec,) = list_runs(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "automl_agent_jupyter")
    try:
        shell._automl_magics.runs_dir = str(tmp_path)
        listing = shell.run_cell("%automl runs")
        assert listing.success
        result = shell.run_cell(f"%automl resume {rec.run_id}")
        assert result.success, result.error_in_exec
        session = shell._automl_magics.last
        assert session.record.status in ("succeeded", "failed") and session.record.metrics["test"]
        assert session.record.segments[-1].resumed_from == "cell:evaluate"
        assert shell.user_ns["RESULTS"]["metrics"]["test"]  # the cells ran in the user's namespace
        again = shell.run_cell(f"%automl resume {rec.run_id}")
        assert "nothing to resume" in str(again.error_in_exec)
    finally:
        shell.run_line_magic("unload_ext", "automl_agent_jupyter")


def _complete_trials(db: Path) -> dict[str, list[tuple[int, float]]]:
    """Per Optuna study in the run's sqlite storage: (trial id, value) of its COMPLETE trials (read-only)."""
    import sqlite3

    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            rows = con.execute("SELECT s.study_name, t.trial_id, v.value FROM trials t "
                               "JOIN studies s ON s.study_id = t.study_id "
                               "JOIN trial_values v ON v.trial_id = t.trial_id "
                               "WHERE t.state = 'COMPLETE' ORDER BY t.trial_id").fetchall()
    except sqlite3.Error:
        return {}  # not created yet, or being written
    out: dict[str, list[tuple[int, float]]] = {}
    for study, trial, value in rows:
        out.setdefault(study, []).append((trial, value))
    return out


def test_resume_reuses_the_finished_optuna_trials(tmp_path, small_banana):
    """Ctrl-C in the train cell once search trials have finished; resumed, the train cell keeps the study
    (nothing deleted), counts those trials as done (the record says how many per candidate), spends only the
    budget left on new ones, and the run reaches a verified model."""
    out = tmp_path / "run"
    proc = _cli("run", INSTRUCTION, "--data", small_banana, "--out", str(out), "--budget", "25", "--plans", "1",
                cwd=tmp_path)
    _wait_for_stage(proc, out, "cell:train")
    db = out / "optuna.sqlite3"
    deadline = time.monotonic() + 60
    while not any(_complete_trials(db).values()):
        assert proc.poll() is None and time.monotonic() < deadline, "no search trial finished in the train cell"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    before = _complete_trials(db)
    rec = _record(out)
    assert rec["status"] == "interrupted" and rec["interruption"]["stage"] == "cell:train", rec["message"]
    left = rec["segments"][0]["budget_s"] - rec["planning_charge"]["wall_s"] - sum(  # planning: runlog's charge
        v for k, v in rec["timings"].items() if k.startswith("cell:") or k in ("code_generation", "debugging"))
    resumed = subprocess.run([sys.executable, "-m", "automl_agent_jupyter.cli", "resume", str(out), "--quiet"],
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    rec = _record(out)
    assert rec["status"] == "succeeded" and rec["verification"] and rec["metrics"]["test"], rec["message"]
    assert [s["resumed_from"] for s in rec["segments"]] == [None, "cell:train"]
    assert abs(rec["segments"][1]["budget_s"] - left) < 1.0  # only the budget that was left
    after = _complete_trials(db)
    for study, trials in before.items():  # the earlier trials are still in the study: not deleted, not rerun
        assert after[study][:len(trials)] == trials, study
    assert "RESUME = True" in (out / "pipeline.py").read_text()  # the setup cell says it (the replay ignores it)
    selection = json.loads((out / "results.json").read_text())["selection"]["candidates"]
    for study, trials in before.items():
        name = study.split(f"{out.name}-", 1)[1].split("-", 1)[1]  # <run folder>-<plan id>-<candidate>
        assert selection[name]["reused_trials"] == len(trials), (name, selection[name]["reused_trials"], before)
        marked = [t for t in selection[name]["trials"] if t.get("reused")]
        assert sorted(t["valid"] for t in marked) == sorted(round(v, 6) for _, v in trials)
        new = [t["params"] for t in selection[name]["trials"] if t["source"] == "search" and not t.get("reused")]
        assert not [p for p in new if p in [t["params"] for t in marked]]  # new trials, not the earlier ones again
        sources = [t["source"] for t in selection[name]["trials"]]
        # the best reused configuration is refit (not searched again) unless a portfolio trial beat it
        assert "reused best" in sources or max(t["valid"] for t in selection[name]["trials"]
                                                if t["source"].startswith("portfolio") and t["valid"] is not None) \
            >= max(v for _, v in trials)
