"""Live progress: the generated progress() function, and the command line's bar (no training here; the
real train cells' reports are tested in test_pipeline.py and in the browser)."""
from __future__ import annotations

import time

from automl_agent_jupyter import templates
from automl_agent_jupyter.cli import ProgressBar


def _namespace(metric: str, hook=None) -> dict:
    ns = {"time": time, "PRIMARY_METRIC": metric, "CANDIDATES": {"lightgbm": {}, "ridge": {}}}
    if hook is not None:
        ns["AUTOML_PROGRESS"] = hook
    exec(compile(templates.render("common/progress", budget_s=30), "<progress>", "exec"), ns)  # noqa: S102
    return ns


def test_progress_hands_state_to_the_hook_and_keeps_the_best_score():
    seen = []
    ns = _namespace("rmse", seen.append)
    ns["progress"]("lightgbm")  # a new candidate is always shown
    ns["progress"]("lightgbm", 1, 10, -2.0)  # a new best within 0.1 s: not shown yet, but kept
    ns["progress"]("lightgbm", 2, 10, -2.5)  # within half a second: throttled
    ns["progress"]("lightgbm", 2, 10, -1.5, final=True)
    ns["progress"]("ridge", 1, 5, -3.0)
    assert [s["candidate"] for s in seen] == ["lightgbm", "lightgbm", "ridge"]
    last = seen[-1]
    assert (last["candidate_index"], last["n_candidates"], last["trial"], last["n_trials"]) == (2, 2, 1, 5)
    assert last["best"] == 1.5 and last["metric"] == "rmse" and last["budget_s"] == 30  # an error: shown positive
    assert seen[0]["best"] is None and seen[1]["best"] == 1.5


def test_progress_prints_a_line_without_a_hook(capsys):
    ns = _namespace("f1")
    ns["progress"]("lightgbm", 3, 10, 0.91, final=True)
    out = capsys.readouterr().out
    assert "lightgbm trial 3/10" in out and "best valid f1 0.9100" in out and "/30 s]" in out


def test_the_command_line_bar_shows_time_of_budget_candidate_trial_and_best(capsys):
    bar = ProgressBar()
    bar.update({"stage": "train", "candidate": "lightgbm", "candidate_index": 1, "n_candidates": 2, "trial": 4,
                "n_trials": 10, "elapsed_s": 6.0, "budget_s": 30, "metric": "f1", "best": 0.9612})
    bar.update({"stage": "train", "candidate": "ridge", "candidate_index": 2, "n_candidates": 2, "epoch": 1.5,
                "elapsed_s": 12.0, "budget_s": 30, "metric": "f1", "best": 0.97})
    bar.close()
    err = capsys.readouterr().err
    assert "train lightgbm (1/2) trial 4/10" in err and "best valid f1 0.9612" in err and "6/30 s" in err
    assert "ridge (2/2) epoch 1.5" in err and "12/30 s" in err
