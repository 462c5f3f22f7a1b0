"""The run folder: run.json (the contract), pipeline.py, pipeline.ipynb, and the saved model."""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from .schema import CellSpec, RunRecord

RECORD = "run.json"


def new_run_id(instruction: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", instruction.lower())[:4])[:40] or "run"
    return f"{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{slug}"


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()

    def ensure(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def write_record(self, record: RunRecord) -> Path:
        self.ensure()
        target = self.path / RECORD
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(record.model_dump_json(indent=1), encoding="utf-8")
        tmp.replace(target)  # never a half-written record
        return target

    def read_record(self) -> RunRecord:
        return RunRecord.model_validate_json((self.path / RECORD).read_text(encoding="utf-8"))

    def write_script(self, cells: list[CellSpec], record: RunRecord) -> Path:
        head = (f'"""AutoML-Agent pipeline for run {record.run_id}.\n\nInstruction: {record.instruction}\n'
                f'Reproduce the model and its test metric: python pipeline.py\n"""\n')
        body = "\n\n".join(f"# %% [{c.stage}] {c.title}\n{c.source}" for c in cells)
        path = self.ensure().path / "pipeline.py"
        path.write_text(head + "\n" + body, encoding="utf-8")
        return path

    def write_notebook(self, cells: list[CellSpec], record: RunRecord) -> Path:
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_markdown_cell(
            f"# AutoML-Agent run `{record.run_id}`\n\n**Instruction:** {record.instruction}\n\n"
            f"Plan **{record.selected_plan}**; one cell per stage, rerunnable in order."))
        for c in cells:
            nb.cells.append(nbformat.v4.new_code_cell(
                c.source, metadata={"automl_agent": {"run_id": record.run_id, "stage": c.stage}}))
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = self.ensure().path / "pipeline.ipynb"
        nbformat.write(nb, str(path))
        return path


def list_runs(runs_dir: str | Path) -> list[RunRecord]:
    """Past runs under ``runs_dir``, newest first (unreadable records are skipped)."""
    out = []
    for p in sorted(Path(runs_dir).glob(f"*/{RECORD}"), reverse=True):
        try:
            out.append(RunRecord.model_validate_json(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda r: r.created, reverse=True)
