"""What a data scientist sees of a run in real JupyterLab: live progress while the train cell runs, the
evaluate cell's plots, the leaderboard and the final panel, for the banana (classification), crab (regression)
and smoker (clustering) examples. Screenshots go to test-artifacts/results_view.<example>.*.png."""
from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from pathlib import Path

import pytest
from shared_data import dataset
from test_automl_flow import ARTIFACTS, STAGES, attempts, errors_in, output, plan_ids

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

EXAMPLES = {
    "banana": ("banana_quality/banana_quality.csv", "Classify banana quality as Good or Bad with F1 of at least 0.9",
               {"confusion_matrix", "roc_pr", "importance"}),
    "crab": ("crab_age/CrabAgePrediction.csv", "Predict the age of a crab (column Age) with RMSLE of at most 0.3",
             {"predicted_vs_actual", "importance"}),
    "smoker": ("smoker_status/smoker_status_biosignals.csv",
               "Cluster the people into two groups and evaluate against the smoking labels.",
               {"clusters_pca", "contingency", "importance"}),
}
LIVE = ".automl-live-box"


@pytest.fixture(autouse=True)
def _one_thread_per_model(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _train_running(lab) -> bool:
    return lab.page.evaluate("""() => { const nb = window.jupyterapp.shell.currentWidget.content.model.toJSON();
        const gen = nb.cells.filter(c => c.metadata && c.metadata.automl_agent);
        const train = gen.find(c => c.metadata.automl_agent.stage === 'train');
        return !!train && train.execution_count == null; }""")


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_progress_plots_leaderboard_and_answer(lab, example):
    path, instruction, expected = EXAMPLES[example]
    name = f"results_view.{example}"
    lab.new_notebook(["%load_ext automl_agent_jupyter",
                      f"%%automl --data {dataset(path)} --budget 20 --top-k 2\n{instruction}"])
    with contextlib.suppress(Exception):  # JupyterLab's news question would cover the screenshots
        lab.page.get_by_role("button", name="No").click(timeout=3_000)
    lab.run_cell(0)
    lab.run_cell(1, timeout=120_000)
    out = output(lab, 1)
    ids = plan_ids(lab, 1)
    assert ids, out.inner_text()
    out.locator(f".automl-plan-{ids[0]} .automl-accept").click()

    # live progress, read while the train cell is running
    live = out.locator(LIVE)
    seen: list[str] = []
    deadline = time.monotonic() + 150
    shot = False
    while time.monotonic() < deadline:
        running = _train_running(lab)
        text = live.inner_text() if live.is_visible() else ""
        if running and text and (not seen or seen[-1] != text):
            seen.append(text)
            if len(seen) >= 2 and not shot:
                live.scroll_into_view_if_needed()
                lab.page.screenshot(path=str(ARTIFACTS / f"{name}.progress.png"))
                shot = True
        if seen and not running:
            break
        time.sleep(0.25)
    assert len(seen) >= 2, f"the progress text did not change while the train cell ran: {seen}\n{attempts(lab)}"
    assert any("candidate" in t and "best validation" in t for t in seen), seen
    assert any(re.search(r"\d+ s of \d+ s budget", t) for t in seen), seen

    try:  # the end of the run (a plan set aside on validation brings a revision's cells below the first ones)
        out.locator(".automl-summary").wait_for(state="attached", timeout=300_000)
    except Exception as exc:  # noqa: BLE001 - a timeout: say what the run record knows
        raise AssertionError(f"the run did not finish: {exc}\n{attempts(lab)}") from None
    lab.wait_idle()
    nb = lab.notebook_json()
    # the cells of the plan that was kept (a revision inserts its cells again; the last copy of each stage ran)
    run_dir = next(Path(p) for p in (lab.server.root / "runs").glob("*") if (p / "run.json").exists())
    kept = json.loads((run_dir / "run.json").read_text())["selected_plan"]
    last = {c["metadata"]["automl_agent"]["stage"]: i for i, c in enumerate(nb["cells"])
            if (c.get("metadata", {}).get("automl_agent") or {}).get("plan") == kept}
    assert set(last) == set(STAGES), (kept, last)
    index = [last[s] for s in STAGES]
    gen = [nb["cells"][i] for i in index]
    assert all(c["execution_count"] for c in gen) and [errors_in(c) for c in gen] == [[]] * len(STAGES), attempts(lab)

    # the evaluate cell shows each plot as an image, and the run folder holds the same PNGs
    evaluate = next(c for c in gen if c["metadata"]["automl_agent"]["stage"] == "evaluate")
    images = [base64.b64decode(o["data"]["image/png"]) for o in evaluate["outputs"]
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= len(expected) and all(img[:4] == b"\x89PNG" and len(img) > 2000 for img in images)
    for plot in expected:
        png = run_dir / "plots" / f"{plot}.png"
        assert png.exists() and png.stat().st_size > 2000, plot
    cell = lab.cells().nth(index[STAGES.index("evaluate")])
    cell.locator(".jp-OutputArea-output img").first.wait_for(timeout=10_000)
    rendered = cell.locator(".jp-OutputArea-output img")
    assert rendered.count() == len(images)
    assert all(rendered.nth(i).evaluate("img => img.naturalWidth > 100 && img.naturalHeight > 100")
               for i in range(rendered.count()))
    cell.scroll_into_view_if_needed()
    cell.screenshot(path=str(ARTIFACTS / f"{name}.plots.png"))

    # the final panel leads with the answer and the main plot; the leaderboard lists every candidate
    summary = out.locator(".automl-summary")
    summary.scroll_into_view_if_needed()  # JupyterLab renders only the cells in view
    text = summary.text_content()
    assert "requirements" in text.lower() and "Run.load(" in text and "uvicorn serve:app" in text, text
    assert summary.locator("img.automl-main-plot").evaluate("img => img.naturalWidth > 100")
    summary.screenshot(path=str(ARTIFACTS / f"{name}.answer.png"))
    board = out.locator(".automl-leaderboard")
    board.scroll_into_view_if_needed()
    rows = board.locator("table.automl-board tr")
    trained = json.loads((run_dir / "run.json").read_text())["leaderboard"]  # every candidate the run trained
    assert trained and rows.count() == 1 + len(trained), board.inner_text()  # a header and one row each
    assert board.locator("tr.automl-kept").count() == 1
    board.scroll_into_view_if_needed()
    board.screenshot(path=str(ARTIFACTS / f"{name}.leaderboard.png"))
    live.scroll_into_view_if_needed()
    assert "done" in live.text_content(), live.text_content()
