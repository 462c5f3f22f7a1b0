"""--race in real JupyterLab (the prebuilt extension, headless Chromium): a user races two plans of a small
banana_quality table and accepts. The plans train side by side in worker processes, not in the kernel; the
notebook shows the race (the plans racing, then each plan's validation score and the winner), and the
winner's generated cells are inserted below the %%automl cell as they ran in its worker (their sources and
what they printed; not run again in the kernel, so its test split stays scored once). run.json has the race
and its winner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import banana_sample

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

STAGES = ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]
TAIL = "# my own cell: must stay below the generated cells, unchanged"


@pytest.fixture(autouse=True)
def _one_thread_per_model(monkeypatch):
    """Before lab_server: the kernel (and the race's workers) inherit it (see test_automl_flow.py)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_a_race_in_lab_shows_the_race_and_inserts_the_winners_cells(lab):
    data = banana_sample(lab.server.root, rows=1500)
    lab.new_notebook(["%load_ext automl_agent_jupyter",
                      f"%%automl --data {data} --budget 20 --plans 2 --top-k 1 --race\n"
                      "Classify banana quality as Good or Bad", TAIL])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    out = lab.cells().nth(1).locator(".jp-Cell-outputArea")
    assert "Mode: JupyterLab extension" in out.inner_text()
    assert out.locator(".automl-card").count() == 2
    out.locator(".automl-card .automl-accept").first.click()
    out.locator(".automl-final").wait_for(timeout=120_000)
    notes = out.locator(".automl-notes")
    notes.filter(has_text="inserted").wait_for(timeout=30_000)
    lab.wait_idle()

    rec = json.loads(next((lab.server.root / "runs").glob("*/run.json")).read_text())
    race = rec["race"]
    assert rec["status"] == "succeeded", rec["message"]
    assert race["winner"] == rec["selected_plan"] and race["where"] == "local processes", race
    assert len(race["plans"]) == 2 and all(r["valid"] for r in race["plans"]), race["plans"]  # both trained
    assert [t["plan"] for t in rec["trained"] if t["test_scored"]] == [race["winner"]]  # tested once, the winner
    text = notes.inner_text()
    plans = ", ".join(r["plan"] for r in race["plans"])
    assert f"Race: plans {plans} train side by side in processes on this machine" in text, text
    for r in race["plans"]:  # each plan's validation score, the winner marked
        assert f"{r['plan']} {r['model']}: {r['valid']['f1']:.4f}" in text, text
    assert f"Winner: {race['winner']}." in text, text

    cells = lab.notebook_json()["cells"]
    gen = cells[2:2 + len(STAGES)]
    tags = [c["metadata"].get("automl_agent", {}) for c in gen]
    assert [t.get("stage") for t in tags] == STAGES, [c["source"][:80] for c in cells]  # below the magic cell
    assert {t["run_id"] for t in tags} == {rec["run_id"]} and {t["plan"] for t in tags} == {race["winner"]}
    assert cells[-1]["source"] == TAIL and len(cells) == len(STAGES) + 3
    assert gen[0]["source"].startswith(f"# Plan {race['winner']} won the race")  # says where they ran
    assert all(c["execution_count"] is None for c in gen)  # shown as they ran in the worker, not run again here
    printed = "".join("".join(o.get("text", "")) for o in gen[STAGES.index("predict")]["outputs"])
    assert "predictions:" in printed, gen[STAGES.index("predict")]["outputs"]  # what the worker's cell printed
    assert not out.locator(".automl-log").inner_text().strip()  # no callback error
    notes.scroll_into_view_if_needed()
    lab.page.screenshot(path=str(ARTIFACTS / "test_a_race_in_lab.notes.png"))
    lab.cells().nth(2).scroll_into_view_if_needed()
    lab.page.screenshot(path=str(ARTIFACTS / "test_a_race_in_lab.cells.png"))
