"""`%%automl` and `%automl` in a real IPython InteractiveShell (no kernel: the in-kernel mode, text output)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

INSTRUCTION = "Classify banana quality as Good or Bad with F1 of at least 0.95"


@pytest.fixture(scope="module")
def ip(tmp_path_factory):
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(1)  # OpenMP models on a busy 2-core machine: oversubscription costs minutes
    shell = InteractiveShell.instance()
    saved = dict(shell.user_ns)
    shell.run_line_magic("load_ext", "automl_agent_jupyter")
    magics = shell._automl_magics
    magics.runs_dir = str(tmp_path_factory.mktemp("runs"))
    yield shell
    shell.run_line_magic("unload_ext", "automl_agent_jupyter")
    shell.user_ns.clear()
    shell.user_ns.update(saved)
    limits.restore_original_limits()


@pytest.fixture(scope="module")
def auto_run(ip, banana_module):
    """One --auto run in the kernel (the fallback mode: no JupyterLab extension)."""
    ip.rl_next_input = None
    # 10 s: training keeps a time budget (with 3 s, a quick planning could leave it none, and no "of M s budget")
    result = ip.run_cell(f"%%automl --data {banana_module} --budget 10 --auto\n{INSTRUCTION}")
    return result, ip._automl_magics.last


@pytest.fixture(scope="module")
def banana_module():
    from shared_data import dataset

    return dataset("banana_quality/banana_quality.csv")


def one_line_error(ip, capsys, code: str) -> str:
    capsys.readouterr()
    result = ip.run_cell(code)
    err = capsys.readouterr().err
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_auto_runs_the_pipeline_in_the_users_namespace(ip, auto_run):
    result, session = auto_run
    assert result.success, result.error_in_exec
    assert session.mode == "kernel"
    text = session.view.text()
    assert "Mode: in-kernel" in text and "plain IPython" in text
    rec = session.record
    assert rec.status == "succeeded", rec.message
    assert "Implementation verification: PASS" in text
    # the cells ran in the user's namespace: their names are there to use and rerun
    ns = ip.user_ns
    assert ns["RESULTS"]["metrics"]["test"]["f1"] >= 0.95
    assert {"model", "X_test", "make_preprocessor", "automl_predict"} <= set(ns)
    folder = Path(rec.artifacts["record"]).parent
    for name in ("pipeline.py", "pipeline.ipynb", "model.joblib", "predict.py", "run.json"):
        assert (folder / name).exists(), name
    # each stage's code is shown, collapsible, in the widget
    assert session.view.code.value.count("<details class='automl-stage-code'>") == 8
    # the code is offered as one next cell, from the magic call itself
    assert ip.rl_next_input.startswith(f"# AutoML-Agent run {rec.run_id}")
    assert "# %% [train]" in ip.rl_next_input and "# %% [predict]" in ip.rl_next_input


def test_the_widget_shows_progress_answer_plots_and_leaderboard_in_kernel_mode(auto_run):
    """Without the extension the %%automl cell's own widget shows the live progress (updated from inside the
    running train cell), then leads with the answer and the main plot, then the leaderboard."""
    _, session = auto_run
    view, rec = session.view, session.record
    assert view.live_text.startswith("done") and "best validation f1" in view.live_text
    assert "candidate" in view.live_text and re.search(r"\d+ s of \d+ s budget", view.live_text)
    assert "data:image/png;base64," in view.summary.value and "uvicorn serve:app" in view.summary.value
    assert view.board.layout.display == "" and len(view.board_rows) == len(rec.leaderboard) >= 2
    assert sum(r["kept"] for r in view.board_rows) == 1
    plots = [k for k in rec.artifacts if k.startswith("plot:")]
    assert view.gallery.value.count("<img ") == len(plots) >= 3
    assert "Answer: PASS" in view.text() and "Leaderboard:" in view.text()


def test_a_generated_cell_reruns_by_hand_with_the_same_result(ip, auto_run):
    _, session = auto_run
    evaluate = next(c for c in session.manager.impl.cells if c.stage == "evaluate")
    before = dict(ip.user_ns["RESULTS"]["metrics"]["test"])
    assert ip.run_cell(evaluate.source).success
    assert ip.user_ns["RESULTS"]["metrics"]["test"] == before


def test_runs_and_show_read_the_run_record(ip, auto_run, capsys):
    _, session = auto_run
    capsys.readouterr()
    ip.run_cell("%automl runs")
    out = capsys.readouterr().out
    assert session.record.run_id in out and "succeeded" in out and "f1=" in out
    assert ip.run_cell(f"%automl show {session.record.run_id}").success
    out = capsys.readouterr().out
    assert f"Run {session.record.run_id}: succeeded" in out
    assert "Plan P" in out and "Implementation verification: PASS" in out and "model.joblib" in out


def test_config_shows_settings_and_secrets_only_as_set(ip, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdefghijklmnopqrstuvwxyz")
    ip.run_line_magic("config", "AutoMLMagics.n_plans = 2")
    try:
        capsys.readouterr()
        ip.run_cell("%automl config")
        out = capsys.readouterr().out
    finally:
        ip.run_line_magic("config", "AutoMLMagics.n_plans = 3")
    assert "n_plans        2" in out and "budget_s" in out and "runs_dir" in out
    assert "OPENAI_API_KEY set" in out.replace("  ", " ").replace("  ", " ")
    assert "sk-test" not in out


def test_configured_defaults_come_from_traitlets_config():
    from traitlets.config import Config

    from automl_agent_jupyter.notebook.magic import AutoMLMagics

    shell = InteractiveShell.instance()
    cfg = Config()  # what c.AutoMLMagics.<name> = ... in ipython_config.py gives
    cfg.AutoMLMagics.auto = True
    cfg.AutoMLMagics.budget_s = 7.0
    magics = AutoMLMagics(shell=shell, config=cfg)
    shell.configurables.remove(magics)
    assert magics.auto is True and magics.budget_s == 7.0
    assert magics.settings().budget_s == 7.0 and magics.n_plans == 3


@pytest.mark.parametrize("code, says", [
    ("%%automl --data no/such/file.csv\nClassify x", "data file not found: no/such/file.csv"),
    ("%%automl --data {banana}\n", "the cell body is empty"),  # IPython says it first
    ("%%automl --data {banana}\n   \n", "write the instruction in the cell body"),
    ("%%automl --data {banana} --plans two\nClassify", "argument --plans: invalid int value"),
    ("%%automl --data {banana} --budget 0\nClassify", "--budget above 0"),
    ("%%automl --data {banana} Classify bananas\nClassify", "takes options only"),
    ("%automl frobnicate", "unknown command 'frobnicate'"),
    ("%automl show no-such-run", "no run 'no-such-run'"),
])
def test_bad_input_is_one_line(ip, capsys, banana_module, code, says):
    line = one_line_error(ip, capsys, code.format(banana=banana_module))
    assert line.startswith("UsageError: ") and says in line, line


def test_not_ml_and_clarification_are_messages_not_errors(ip, banana_module):
    result = ip.run_cell("%%automl\nWhat is the capital of France?")
    assert result.success
    view = ip._automl_magics.last.view
    assert "automl-status-not_ml" in view.outcome.value and view.plans.children == ()
    result = ip.run_cell(f"%%automl --data {banana_module}\nBuild me a model please")
    assert result.success
    view = ip._automl_magics.last.view
    assert ip._automl_magics.last.record.status == "needs_clarification"
    assert "Quality" in view.outcome.value and "<li>" in view.outcome.value  # the question names the columns


def test_click_accept_in_kernel_mode_runs_in_the_callback(ip, banana_module, tmp_path):
    """Without the extension and without --auto (VS Code, Colab): the plans wait for a click."""
    ip.rl_next_input = None
    assert ip.run_cell(f"%%automl --data {banana_module} --budget 1 --top-k 1 --out {tmp_path / 'run'}\n"
                       f"{INSTRUCTION}").success
    session = ip._automl_magics.last
    assert session.record.status == "planned" and not session.busy
    first, *rest = session.shown
    session.view.cards[rest[0]].reject.click()
    assert session.view.cards[rest[0]].plan_state == "rejected"
    session.view.cards[first].accept.click()
    assert not session.view.output.outputs, session.view.output.outputs  # no callback error
    assert session.record.status == "succeeded", session.record.message
    assert "automl-final automl-pass" in session.view.verification.value
    assert session.view.cards[first].plan_state == "tried"
    assert ip.rl_next_input is None  # set_next_input from a callback does nothing in Lab: never relied on
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "succeeded"


def test_unload_removes_the_magics(ip):
    from automl_agent_jupyter.notebook.magic import load, unload

    unload(ip)
    assert "automl" not in ip.magics_manager.magics["cell"]
    load(ip)
    assert "automl" in ip.magics_manager.magics["cell"] and "automl" in ip.magics_manager.magics["line"]
