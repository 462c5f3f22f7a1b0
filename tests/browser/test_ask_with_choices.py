"""Asking with choices in real JupyterLab: an instruction whose target the agent cannot decide shows the
column dropdown with the best guess; choosing a column and pressing Continue plans without rerunning the
cell, and Accept runs the generated cells as before. Editing the threshold in the requirements form and
pressing Re-plan changes the plans' verdicts."""
from __future__ import annotations

import pytest
from shared_data import dataset

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

STAGES = ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]
GENERATED_DONE = """(n) => { const nb = window.jupyterapp.shell.currentWidget.content.model.toJSON();
  const gen = nb.cells.filter(c => c.metadata && c.metadata.automl_agent);
  return gen.length === n && gen.every(c => c.execution_count != null); }"""


@pytest.fixture(autouse=True)
def _one_thread_per_model(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def output(lab, index: int):
    return lab.cells().nth(index).locator(".jp-Cell-outputArea")


def start(lab, instruction: str, extra: str = "") -> None:
    data = dataset("banana_quality/banana_quality.csv")
    lab.new_notebook(["%load_ext automl_agent_jupyter",
                      f"%%automl --data {data} --budget 1 --plans 2 --top-k 1 {extra}".rstrip() + f"\n{instruction}"])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)


def verdicts(out) -> list[str]:
    return out.locator(".automl-card .automl-plan-verdict").all_inner_texts()


def test_unknown_target_dropdown_continue_accept(lab):
    start(lab, "Separate these into two kinds")
    out = output(lab, 1)
    assert "I need a little more" in out.locator(".automl-outcome-box").inner_text()
    assert out.locator(".automl-card").count() == 0
    select = out.locator(".automl-form .automl-field-target select")
    assert select.input_value() == "Quality (Good, Bad)"  # the best guess, preselected (a column and its values)
    labels = [t.replace("\xa0", " ") for t in select.locator("option").all_inner_texts()]
    assert "Quality (Good, Bad)" in labels and any(t.startswith("HarvestTime (") and "8000 values" in t for t in labels), labels
    lab.screenshot("test_unknown_target_dropdown_continue_accept.question")

    select.select_option(label="Quality (Good, Bad)")
    out.locator("button.automl-continue").click()
    out.locator(".automl-card").first.wait_for(timeout=60_000)
    assert out.locator(".automl-card").count() == 2
    assert "Requirements" in out.locator(".automl-form-box").inner_text()
    assert not out.locator(".automl-log").inner_text().strip()  # no callback error
    lab.screenshot("test_unknown_target_dropdown_continue_accept.plans")

    out.locator(".automl-card .automl-accept").first.click()
    try:
        lab.page.wait_for_function(GENERATED_DONE, arg=len(STAGES), timeout=100_000)
    except Exception as exc:  # noqa: BLE001 - say what the widget shows
        raise AssertionError(f"generated cells did not all run: {exc}\n{out.inner_text()}") from None
    out.locator(".automl-final").wait_for(timeout=30_000)
    lab.wait_idle()
    gen = [c for c in lab.notebook_json()["cells"] if c.get("metadata", {}).get("automl_agent")]
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES
    assert "PASS" in out.locator(".automl-final").inner_text(), out.inner_text()
    runs = sorted((lab.server.root / "runs").glob("*/run.json"))
    import json

    final = json.loads(runs[-1].read_text()) if runs else {}
    sources = {k: v["source"] for k, v in final["requirements"]["field_sources"].items()}
    assert any(r["requirements"] and r["requirements"]["field_sources"]["target"]["source"] == "user"
               for r in (json.loads(p.read_text()) for p in runs)), sources
    lab.screenshot("test_unknown_target_dropdown_continue_accept.done")


def test_editing_the_threshold_changes_the_verdicts(lab):
    start(lab, "Classify banana quality as Good or Bad with accuracy of at least 0.9")
    out = output(lab, 1)
    out.locator(".automl-card").first.wait_for(timeout=30_000)
    before = verdicts(out)
    assert len(before) == 2 and all("pass" in v for v in before), before
    threshold = out.locator(".automl-form .automl-field-threshold input")
    assert threshold.input_value() == "0.9"
    threshold.fill("0.9999")
    out.locator("button.automl-continue").click()
    lab.page.wait_for_function(
        "() => { const v = [...document.querySelectorAll('.automl-card .automl-plan-verdict')]; "
        "return v.length > 0 && v.every(e => e.innerText.includes('fail')); }", timeout=60_000)
    after = verdicts(out)
    assert after and all("fail" in v for v in after), after
    assert "0.9999" in out.locator(".automl-card").first.inner_text()  # the reason names the new target
    assert not out.locator(".automl-log").inner_text().strip()
    lab.screenshot("test_editing_the_threshold_changes_the_verdicts.done")
