"""Interrupt and resume in real JupyterLab: the kernel's Interrupt button stops a running train cell, the widget
says "interrupted" within seconds and the record agrees; `%automl resume` reruns the generated cells already
in the notebook (nothing inserted) and reaches a verified model; the record keeps both segments."""
from __future__ import annotations

import json
import time

import pytest
from test_automl_flow import STAGES, generated, magic, output, plan_ids, wait_cards

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

RESUME = "%automl resume runs/r1"


@pytest.fixture(autouse=True)
def _one_thread_per_model(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _record(lab) -> dict:
    try:
        return json.loads((lab.server.root / "runs" / "r1" / "run.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def test_interrupt_button_then_resume(lab):
    lab.new_notebook(["%load_ext automl_agent_jupyter", magic("--out runs/r1 --plans 1").replace(
        "--budget 2", "--budget 40"), RESUME])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    wait_cards(lab, 1, plan_ids(lab, 1))
    output(lab, 1).locator(".automl-accept").first.click()

    deadline = time.monotonic() + 90
    while _record(lab).get("stage") != "cell:train":
        assert time.monotonic() < deadline, _record(lab).get("message")
        time.sleep(0.1)
    time.sleep(1.5)  # inside the tuning loop
    t0 = time.monotonic()
    lab.page.locator("jp-button[data-command='notebook:interrupt-kernel'], "
                     "button[data-command='notebook:interrupt-kernel']").first.click()
    output(lab, 1).locator(".automl-status-interrupted").wait_for(timeout=10_000)
    seconds = time.monotonic() - t0
    rec = _record(lab)
    assert rec["status"] == "interrupted" and rec["interruption"]["stage"] == "cell:train", rec.get("message")
    assert rec["interruption"]["reason"] == "the kernel's Interrupt button"
    assert "%automl resume" in output(lab, 1).inner_text()
    assert seconds < 10
    lab.screenshot("test_interrupt_button_then_resume.interrupted")
    nb = lab.notebook_json()
    # the cells up to train: the evaluate cell and those after it come once the plan is decided on validation
    assert [c["metadata"]["automl_agent"]["stage"] for c in generated(nb)] == STAGES[:4]
    lab.wait_idle()

    resume_index = len(nb["cells"]) - 1
    assert nb["cells"][resume_index]["source"] == RESUME
    lab.run_cell(resume_index, timeout=60_000, advance=False)
    deadline = time.monotonic() + 150
    while _record(lab).get("status") in ("running", "planned", "interrupted"):
        assert time.monotonic() < deadline, _record(lab).get("message")
        time.sleep(0.5)
    rec = _record(lab)
    assert rec["status"] in ("succeeded", "failed") and rec["metrics"]["test"], rec["message"]
    assert rec["verification"] is not None
    assert [(s["status"], s["resumed_from"]) for s in rec["segments"]] == [("interrupted", None),
                                                                         (rec["status"], "cell:train")]
    nb = lab.notebook_json()
    gen = generated(nb)
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES  # rerun, the test cells added once
    assert all(c["execution_count"] is not None for c in gen)
    resume_index = next(i for i, c in enumerate(nb["cells"]) if c["source"] == RESUME)  # the test cells above it
    output(lab, resume_index).locator(".automl-final").wait_for(timeout=30_000)
    lab.screenshot("test_interrupt_button_then_resume.resumed")


def test_kernel_restart_mid_run_leaves_the_cells_and_a_true_record(lab):
    """Restart the kernel (the menu command and its dialog) while the train cell runs: the record says the run
    was interrupted by the shutdown (or, had the kernel been killed first, abandoned); the generated cells (up to
    train: the plan was not yet decided on validation, so no test cell exists) stay in the notebook and rerun by
    hand in the new kernel, in order, to a trained model."""
    lab.new_notebook(["%load_ext automl_agent_jupyter", magic("--out runs/r1 --plans 1").replace(
        "--budget 2", "--budget 40"), "%load_ext automl_agent_jupyter\n%automl runs"])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    wait_cards(lab, 1, plan_ids(lab, 1))
    output(lab, 1).locator(".automl-accept").first.click()
    deadline = time.monotonic() + 90
    while _record(lab).get("stage") != "cell:train":
        assert time.monotonic() < deadline, _record(lab).get("message")
        time.sleep(0.1)
    time.sleep(1.0)
    sources = [c["source"] for c in generated(lab.notebook_json())]
    lab.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-kernel'); }")  # not awaited
    lab.page.locator(".jp-Dialog .jp-mod-accept").click()
    deadline = time.monotonic() + 30
    while _record(lab).get("status") == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    from automl_agent_jupyter.record import RunFolder, effective

    rec = effective(RunFolder(lab.server.root / "runs" / "r1").read_record())
    assert rec.status in ("interrupted", "abandoned"), rec.message
    if rec.status == "interrupted":
        assert "SIGTERM" in rec.interruption.reason or "shutdown" in rec.interruption.reason
        assert rec.interruption.stage == "cell:train"
    lab.wait_idle(timeout=60_000)
    nb = lab.notebook_json()
    gen = generated(nb)
    assert [c["source"] for c in gen] == sources  # the cells are still there, unchanged
    first = next(i for i, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("automl_agent"))
    for k in range(len(gen)):  # rerun by hand in the new kernel
        lab.run_cell(first + k, timeout=120_000, advance=False)
    nb = lab.notebook_json()
    errors = [o for c in generated(nb) for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    assert [c["metadata"]["automl_agent"]["stage"] for c in generated(nb)] == STAGES[:4]
    train_out = "".join("".join(o.get("text", "")) for o in generated(nb)[-1].get("outputs", []))
    assert "selected" in train_out and "on validation" in train_out, train_out  # the model, trained again
    last = len(nb["cells"]) - 1
    lab.run_cell(last, timeout=60_000, advance=False)
    listing = lab.outputs_text(last)
    assert "r1" in listing or rec.run_id in listing
    assert rec.status in listing and "%automl resume" in listing


def test_frontend_closed_and_reopened_mid_run(lab):
    """The tab goes away while the train cell runs: the kernel finishes that cell, the record still says running
    (its kernel is alive) at cell:train; the generated cells were saved when inserted, so the reopened notebook
    has them; `%reload_ext` ends the stalled run as interrupted and `%automl resume` reruns those cells (nothing
    inserted again), then adds the test cells once the plan is decided on validation, to a verified model."""
    lab.new_notebook(["%load_ext automl_agent_jupyter", magic("--out runs/r1 --plans 1").replace(
        "--budget 2", "--budget 25"), "%reload_ext automl_agent_jupyter", RESUME])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    wait_cards(lab, 1, plan_ids(lab, 1))
    output(lab, 1).locator(".automl-accept").first.click()
    deadline = time.monotonic() + 90
    while _record(lab).get("stage") != "cell:train":
        assert time.monotonic() < deadline, _record(lab).get("message")
        time.sleep(0.1)
    lab.page.goto("about:blank")  # the frontend is gone; the kernel goes on with the train cell
    time.sleep(2.0)
    lab.open_notebook("test.ipynb", timeout=120_000)  # idle once the kernel finished the train cell
    rec = _record(lab)
    assert rec["status"] == "running" and rec["stage"] == "cell:train"  # true: its kernel is alive
    nb = lab.notebook_json()
    assert [c["metadata"]["automl_agent"]["stage"] for c in generated(nb)] == STAGES[:4]  # saved when inserted
    reload_index = next(i for i, c in enumerate(nb["cells"]) if c["source"].startswith("%reload_ext"))
    lab.run_cell(reload_index, timeout=60_000, advance=False)
    rec = _record(lab)
    assert rec["status"] == "interrupted" and "connection to the notebook closed" in rec["interruption"]["reason"]
    lab.run_cell(reload_index + 1, timeout=60_000, advance=False)
    deadline = time.monotonic() + 150
    while _record(lab).get("status") in ("running", "planned", "interrupted"):
        assert time.monotonic() < deadline, _record(lab).get("message")
        time.sleep(0.5)
    rec = _record(lab)
    assert rec["status"] in ("succeeded", "failed") and rec["metrics"]["test"], rec["message"]
    assert [s["resumed_from"] for s in rec["segments"]] == [None, "cell:train"]
    assert [c["metadata"]["automl_agent"]["stage"] for c in generated(lab.notebook_json())] == STAGES
