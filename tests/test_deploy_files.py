"""predict.py and serve.py are files the operation agent writes from templates beside the cells, for every
modality; the save cell only says what is there (a few lines), and pipeline.py rebuilds them on its own."""
from __future__ import annotations

import pytest
from shared_data import dataset

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.implementation import with_deploy_files

CASES = [("Classify banana quality as Good or Bad", "banana_quality/banana_quality.csv"),
         ("Classify the Cora papers", "cora")]


@pytest.mark.parametrize(("instruction", "data"), CASES, ids=["tabular", "graph"])
def test_deploy_files_are_written_with_the_cells_not_inside_them(tmp_path, instruction, data):
    m = AutoMLAgent(budget_s=1, probe=False).manager()
    rec = m.plan(instruction, data=dataset(data), out=tmp_path / "run")
    assert rec.status == "planned", rec.message
    cells = m.begin()
    folder = tmp_path / "run"
    predict, serve = (folder / "predict.py").read_text(), (folder / "serve.py").read_text()
    assert "def predict(" in predict and "FastAPI" in serve
    for c in cells:
        assert "write_text(r'''" not in c.source and "FastAPI" not in c.source, c.stage
    save = next(c for c in cells if c.stage == "save")
    assert len(save.source.splitlines()) <= 25
    assert 'for _name in ("predict.py", "serve.py")' in save.source
    standalone = with_deploy_files(cells, folder)  # what pipeline.py / pipeline.ipynb hold
    assert [c.stage for c in standalone] == [c.stage for c in cells]
    assert "(RUN_DIR / 'predict.py').write_text(" in standalone[0].source and predict in standalone[0].source
    again = tmp_path / "again"
    again.mkdir()
    block = "# The run's deployment files" + standalone[0].source.split("# The run's deployment files", 1)[1]
    exec(compile(block, "<pipeline setup>", "exec"), {"RUN_DIR": again})
    assert (again / "predict.py").read_text() == predict and (again / "serve.py").read_text() == serve
