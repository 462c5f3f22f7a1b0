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
    assert [c["metadata"]["automl_agent"]["stage"] for c in generated(nb)] == STAGES
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
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES  # nothing inserted again
    assert all(c["execution_count"] is not None for c in gen)
    output(lab, resume_index).locator(".automl-final").wait_for(timeout=30_000)
    lab.screenshot("test_interrupt_button_then_resume.resumed")
