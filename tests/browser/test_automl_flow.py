"""The notebook experience end to end: real JupyterLab, the prebuilt extension, headless Chromium.

`%load_ext` then a `%%automl` cell on banana_quality: plan cards appear; Accept inserts the generated
cells directly below the magic cell (tagged with run id and stage) and runs them; the widget reports the
implementation verification. Reject on every card brings new plans. A generated cell that fails is
repaired in place and rerun: the test makes the kernel lack LightGBM (an import hook, as in a kernel
where the package is not installed) after the plans were made with it, then accepts the LightGBM plan;
the train cell fails with ModuleNotFoundError, the operation agent drops the candidate, the bridge
replaces the cell's source and the frontend reruns it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from shared_data import banana_sample, dataset

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

INSTRUCTION = "Classify banana quality as Good or Bad with F1 of at least 0.95"
STAGES = ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]
TAIL = "# my own cell: must stay below the generated cells, unchanged"
NO_LIGHTGBM = """\
import importlib.abc, sys
class NoLightGBM(importlib.abc.MetaPathFinder):  # this kernel now behaves as if lightgbm were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'lightgbm':
            raise ModuleNotFoundError("No module named 'lightgbm'", name='lightgbm')
for m in [m for m in sys.modules if m.split('.')[0] == 'lightgbm']:
    del sys.modules[m]
sys.meta_path.insert(0, NoLightGBM())
print('lightgbm blocked')"""

GENERATED_DONE = """(n) => { const nb = window.jupyterapp.shell.currentWidget.content.model.toJSON();
  const gen = nb.cells.filter(c => c.metadata && c.metadata.automl_agent);
  return gen.length === n && gen.every(c => c.execution_count != null); }"""


@pytest.fixture(autouse=True)
def _one_thread_per_model(monkeypatch):
    """Before lab_server: the kernel inherits it. OpenMP models on a busy 2-core machine otherwise
    oversubscribe (single-row predictions 20x slower)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def magic(extra: str = "") -> str:
    data = dataset("banana_quality/banana_quality.csv")
    return f"%%automl --data {data} --budget 2 {extra}".rstrip() + f"\n{INSTRUCTION}"


def output(lab, index: int):
    return lab.cells().nth(index).locator(".jp-Cell-outputArea")


def wait_cards(lab, index: int, ids: list[str], timeout: float = 30_000) -> None:
    for pid in ids:
        output(lab, index).locator(f".automl-plan-{pid}").wait_for(timeout=timeout)


def plan_ids(lab, index: int) -> list[str]:
    classes = output(lab, index).locator(".automl-card").evaluate_all("els => els.map(e => e.className)")
    return [next(c[len("automl-plan-"):] for c in cls.split() if c.startswith("automl-plan-")) for cls in classes]


def generated(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c.get("metadata", {}).get("automl_agent")]


def errors_in(cell: dict) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o["output_type"] == "error"]


def attempts(lab) -> str:
    """What the run records say about every generated cell (for failure messages)."""
    lines = []
    for f in sorted((lab.server.root / "runs").glob("*/run.json")):
        rec = json.loads(f.read_text())
        lines += [f"{rec['run_id']} {rec['status']} {rec['message']}"]
        lines += [f"  {a['plan_id']} {a['stage']} #{a['attempt']} ok={a['ok']} {a['error_type']}: "
                  f"{(a['error'] or '')[:300]} | repair: {a['repair']}" for a in rec["attempts"]]
    return "\n".join(lines)


def wait_generated(lab, n: int, timeout: float) -> None:
    try:
        lab.page.wait_for_function(GENERATED_DONE, arg=n, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a timeout: say what the run record knows
        raise AssertionError(f"generated cells did not all run: {exc}\n{attempts(lab)}") from None


def start(lab, extra: str = "", cells: list[str] | None = None) -> str:
    lab.new_notebook(["%load_ext automl_agent_jupyter", magic(extra), *(cells or [TAIL])])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    text = output(lab, 1).inner_text()
    assert "Mode: JupyterLab extension" in text, text
    return text


def test_accept_inserts_runs_and_verifies(lab):
    t0 = time.monotonic()
    start(lab, "--top-k 2")
    ids = plan_ids(lab, 1)
    assert len(ids) == 3, ids
    out = output(lab, 1)
    assert out.locator(".automl-requirements").inner_text().startswith("Requirements")
    assert "Retrieved knowledge" in out.locator(".automl-knowledge").inner_text()
    card = out.locator(f".automl-plan-{ids[0]}")
    assert "Top-2 candidates" in card.inner_text() and "Execution verification" in card.inner_text()
    lab.screenshot("test_accept_inserts_runs_and_verifies.plans")

    card.locator(".automl-accept").click()
    wait_generated(lab, len(STAGES), 90_000)
    out.locator(".automl-final").wait_for(timeout=30_000)
    lab.wait_idle()

    nb = lab.notebook_json()
    cells = nb["cells"]
    magic_id = cells[1]["id"]
    gen = cells[2:2 + len(STAGES)]
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES  # directly below the magic cell
    run_ids = {c["metadata"]["automl_agent"]["run_id"] for c in gen}
    assert len(run_ids) == 1
    assert all(c["cell_type"] == "code" for c in gen)
    assert [errors_in(c) for c in gen] == [[]] * len(STAGES)
    counts = [c["execution_count"] for c in gen]
    assert counts == sorted(counts), counts
    assert cells[-1]["source"] == TAIL and len(cells) == len(STAGES) + 3
    assert cells[1]["id"] == magic_id
    final = out.locator(".automl-final")
    assert "PASS" in final.inner_text(), out.inner_text()
    assert "f1" in out.locator(".automl-verification").inner_text()
    assert "model.joblib" in out.locator(".automl-artifacts").inner_text()
    assert "Run.load" in out.locator(".automl-artifacts").inner_text()
    assert "train" in out.locator(".automl-timings").inner_text()
    predict_out = "".join("".join(o.get("text", "")) for o in gen[STAGES.index("predict")]["outputs"])
    assert "predictions:" in predict_out, predict_out
    lab.screenshot("test_accept_inserts_runs_and_verifies.done")
    out.locator(".automl-timings").scroll_into_view_if_needed()
    lab.page.screenshot(path=str(ARTIFACTS / "test_accept_inserts_runs_and_verifies.verification.png"))
    assert time.monotonic() - t0 < 120


def test_reject_all_asks_for_new_plans(lab):
    start(lab)
    first = plan_ids(lab, 1)
    assert len(first) == 3
    out = output(lab, 1)
    for pid in first:
        card = out.locator(f".automl-plan-{pid}")
        card.locator(".automl-reject").click()
        if pid != first[-1]:
            lab.page.wait_for_function(
                "(pid) => !!document.querySelector('.automl-plan-' + pid + '.automl-rejected')", arg=pid)
    wait_cards(lab, 1, [f"P{len(first) + 1}"])  # the manager's replan numbers on (how many: its choice)
    fresh = plan_ids(lab, 1)
    assert fresh and not set(fresh) & set(first), fresh
    assert out.locator(".automl-card .automl-accept:not([disabled])").count() == len(fresh)
    assert "All plans rejected" in out.locator(".automl-notes").inner_text()
    assert not out.locator(".automl-log").inner_text().strip()  # no callback error
    assert generated(lab.notebook_json()) == []  # nothing was inserted
    lab.screenshot("test_reject_all_asks_for_new_plans.done")


def test_failed_cell_is_repaired_in_place(lab):
    start(lab, "--top-k 2", cells=[NO_LIGHTGBM])
    lab.run_cell(2)
    assert "lightgbm blocked" in lab.outputs_text(2)
    out = output(lab, 1)
    card = out.locator(".automl-card", has_text="lightgbm")
    card.locator(".automl-accept").click()
    wait_generated(lab, len(STAGES), 100_000)
    out.locator(".automl-final").wait_for(timeout=30_000)
    lab.wait_idle()

    cells = lab.notebook_json()["cells"]
    gen = cells[2:2 + len(STAGES)]
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES  # repaired in place, no extra cells
    assert cells[2 + len(STAGES)]["source"] == NO_LIGHTGBM  # the user's cell, below the generated ones
    train = gen[STAGES.index("train")]
    assert "'lightgbm'" not in train["source"].split("CANDIDATES =", 1)[1].splitlines()[0]
    assert [errors_in(c) for c in gen] == [[]] * len(STAGES)  # the failed attempt's output was replaced
    attempts = out.locator(".automl-attempts").inner_text()
    assert "ModuleNotFoundError" in attempts and "dropping the lightgbm candidate" in attempts, attempts
    assert "PASS" in out.locator(".automl-final").inner_text(), out.inner_text()
    lab.screenshot("test_failed_cell_is_repaired_in_place.done")


@pytest.mark.parametrize("lab_server", [{"extension": False}], indirect=True)
def test_without_the_extension_runs_in_the_kernel_and_offers_the_code(lab):
    lab.new_notebook(["%load_ext automl_agent_jupyter", magic("--top-k 1 --auto"), TAIL])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    out = output(lab, 1)
    text = out.inner_text()
    assert "Mode: in-kernel" in text and "not installed or not enabled" in text, text
    out.locator(".automl-final.automl-pass").wait_for(timeout=5_000)
    assert out.locator(".automl-stage-code").count() == len(STAGES)  # each stage's code, collapsible
    cells = lab.notebook_json()["cells"]
    assert generated(lab.notebook_json()) == []  # nothing inserted as tagged cells
    offered = cells[2]["source"]  # set_next_input from the magic call: one new cell below it
    assert offered.startswith("# AutoML-Agent run ") and "# %% [predict]" in offered, offered[:200]
    assert cells[3]["source"] == TAIL
    lab.screenshot("test_without_the_extension_runs_in_the_kernel_and_offers_the_code.done")


@pytest.mark.timeout(300)
def test_a_revision_scores_the_test_split_once(lab):
    """Every plan misses an unreachable F1 on validation, so the manager revises once (two plans trained). The
    frontend runs each plan's cells up to its evaluate cell; the test split is scored once, by one evaluate
    cell, for the plan kept (the best on validation), inserted right below that plan's own train cell."""
    data = banana_sample(lab.server.root, rows=2000)
    lab.new_notebook(["%load_ext automl_agent_jupyter\n%config AutoMLMagics.max_revisions = 1",
                      f"%%automl --data {data} --budget 30 --plans 2 --top-k 1\n"
                      "Classify banana quality as Good or Bad with F1 of at least 0.9999", TAIL])
    lab.run_cell(0)
    lab.run_cell(1, timeout=90_000)
    out = output(lab, 1)
    assert "Mode: JupyterLab extension" in out.inner_text()
    out.locator(".automl-card .automl-accept").first.click()
    wait_generated(lab, 12, 150_000)  # 4 + 4 cells of the two plans, then 4 of the plan kept
    out.locator(".automl-final").wait_for(timeout=30_000)
    lab.wait_idle()

    gen = generated(lab.notebook_json())
    where = [(c["metadata"]["automl_agent"]["plan"], c["metadata"]["automl_agent"]["stage"]) for c in gen]
    evaluate = [c for c in gen if c["metadata"]["automl_agent"]["stage"] == "evaluate"]
    assert len(evaluate) == 1 and evaluate[0]["execution_count"] is not None, where  # scored once
    assert [errors_in(c) for c in gen] == [[]] * len(gen), attempts(lab)
    rec = json.loads(next((lab.server.root / "runs").glob("*/run.json")).read_text())
    assert [r["kind"] for r in rec["revisions"]] == ["revision"] and len(rec["trained"]) == 2
    assert sum(t["test_scored"] for t in rec["trained"]) == 1
    best = max(rec["trained"], key=lambda t: t["valid"]["f1"])["plan"]
    assert rec["kept"]["plan"] == best == rec["selected_plan"] and rec["kept"]["decided_on"] == "validation"
    i = where.index((best, "evaluate"))
    assert where[i - 4:i] == [(best, s) for s in STAGES[:4]] and where[i:i + 4] == [(best, s) for s in STAGES[4:]]
    assert evaluate[0]["source"].startswith(f"# Plan {best} kept: the best on validation")  # said in the notebook
    assert "set aside on validation" in out.locator(".automl-notes").inner_text()
    lab.screenshot("test_a_revision_scores_the_test_split_once.done")
