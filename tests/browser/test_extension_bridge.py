"""The comm bridge end to end: kernel Bridge <-> the prebuilt JupyterLab extension, in real Chromium."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CELL1 = (
    "from automl_agent_jupyter.notebook.bridge import Bridge, current_cell_id\n"
    "b = Bridge()\n"
    "b.open()\n"
    "print('state', b.state)"
)

CELL2_TEMPLATE = """\
assert b.connected, b.state
events = []
def on_result(msg):
    events.append(['result', msg['index'], msg['status'], msg.get('ename'), msg['cell_id']])
    if msg['status'] == 'error':
        return REPAIR
    return None
def on_complete(ok):
    events.append(['complete', ok])
asked_from = current_cell_id()
rid = b.run_cells(asked_from, [
    {'source': "first = 41\\nprint('first ran')",
     'metadata': {'automl_agent': {'run_id': 'r-test', 'stage': 'load'}}},EXTRA
    {'source': "raise ValueError('planned failure')",
     'metadata': {'automl_agent': {'run_id': 'r-test', 'stage': 'train'}}},
], on_result=on_result, on_complete=on_complete)
print('asked from', asked_from)"""


def cell2(repair: str, extra: str = "") -> str:
    return CELL2_TEMPLATE.replace("REPAIR", repair).replace("EXTRA", extra)


CELL2 = cell2('''"second = first + 1\\nprint('repaired ran', second)"''')

REPORT = (
    "import json\n"
    "print('REPORT' + json.dumps({'events': events, 'errors': b.errors, 'state': b.state, "
    "'frontend': b.frontend, 'asked_from': asked_from}))"
)

TAIL = "# tail: the generated cells must land above this cell"


def _report(lab, index: int) -> dict:
    """Run the report cell until run_complete has been processed by the kernel (it is, at the
    latest, one idle period after the last generated cell finished)."""
    for _ in range(10):
        lab.run_cell(index, REPORT, advance=False)
        text = lab.outputs_text(index)
        line = next(ln for ln in text.splitlines() if ln.startswith("REPORT"))
        report = json.loads(line[len("REPORT") :])
        if any(e[0] == "complete" for e in report["events"]):
            return report
        time.sleep(0.3)
    return report


def test_insert_run_repair_below_the_asking_cell(lab):
    t0 = time.monotonic()
    lab.new_notebook(["", "", TAIL])
    lab.run_cell(0, CELL1)
    assert "state open" in lab.outputs_text(0)
    # Shift+Enter: the active cell moves on to the tail, so "below the active cell" would be wrong.
    lab.run_cell(1, CELL2)

    # The two generated cells run by themselves; wait until the repaired one has finished.
    lab.page.wait_for_function(
        """() => { const nb = window.jupyterapp.shell.currentWidget.content.model.toJSON();
                   const c = nb.cells[3];
                   const src = c && (Array.isArray(c.source) ? c.source.join('') : c.source);
                   return nb.cells.length === 5 && src.includes('repaired') && c.execution_count != null; }""",
        timeout=30_000,
    )
    lab.wait_idle()
    nb = lab.notebook_json()
    cells = nb["cells"]
    assert [c["source"] for c in cells] == [
        CELL1,
        CELL2,
        "first = 41\nprint('first ran')",
        "second = first + 1\nprint('repaired ran', second)",
        TAIL,
    ]
    assert cells[2]["metadata"]["automl_agent"] == {"run_id": "r-test", "stage": "load"}
    assert cells[3]["metadata"]["automl_agent"] == {"run_id": "r-test", "stage": "train"}
    counts = [c["execution_count"] for c in cells[:4]]
    assert counts[0] < counts[1] < counts[2] < counts[3], counts
    assert "first ran" in lab.outputs_text(2)
    assert "repaired ran 42" in lab.outputs_text(3)
    assert "planned failure" not in lab.outputs_text(3)  # the failed attempt's output was replaced

    report = _report(lab, 4)
    assert report["asked_from"] == cells[1]["id"]
    assert report["state"] == "connected"
    assert report["frontend"]["frontend"] == "jupyterlab"
    assert report["errors"] == []
    new_ids = [cells[2]["id"], cells[3]["id"]]
    assert report["events"] == [
        ["result", 0, "ok", None, new_ids[0]],
        ["result", 1, "error", "ValueError", new_ids[1]],
        ["result", 1, "ok", None, new_ids[1]],
        ["complete", True],
    ], report
    lab.screenshot("test_insert_run_repair_below_the_asking_cell.final")
    assert time.monotonic() - t0 < 60


def test_error_without_repair_aborts(lab):
    lab.new_notebook(["", "", TAIL])
    lab.run_cell(0, CELL1)
    code = cell2("None", "\n    {'source': 'raise KeyError(1)', 'metadata': {}},")
    lab.run_cell(1, code)
    # cells: 0, 1, first, KeyError, ValueError(never run), tail
    lab.page.wait_for_function(
        """() => { const nb = window.jupyterapp.shell.currentWidget.content.model.toJSON();
                   return nb.cells.length === 6 && nb.cells[3].execution_count != null; }""",
        timeout=30_000,
    )
    report = _report(lab, 5)
    cells = lab.notebook_json()["cells"]
    assert cells[4]["execution_count"] is None  # stopped at the first error
    assert [e[:4] for e in report["events"]] == [
        ["result", 0, "ok", None],
        ["result", 1, "error", "KeyError"],
        ["complete", False],
    ], report
    assert report["errors"] == []


@pytest.mark.parametrize("lab_server", [{"extension": False}], indirect=True)
def test_closed_when_extension_missing(lab):
    lab.new_notebook(["", ""])
    lab.run_cell(0, CELL1)
    # Lab closes a comm whose target nobody registered; the kernel learns it once idle.
    lab.run_cell(1, "print('STATE', b.state, b.connected)", advance=False)
    assert "STATE closed False" in lab.outputs_text(1)
