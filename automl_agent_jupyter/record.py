"""The run folder: run.json (the contract), pipeline.py, pipeline.ipynb, and the saved model.

A run folder has one writer at a time: ``RunFolder.claim`` creates ``run.lock`` (pid, host, process start
time, run id) and refuses, in one line, a folder whose lock belongs to a live process. The record names
the process writing it (``process``); a reader that finds a ``running`` record whose process is gone (kill
-9, power loss, a dead kernel) shows it as ``abandoned`` (``effective``) — it can be resumed.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

from .errors import UserInputError
from .schema import CellSpec, RunRecord

RECORD = "run.json"
LOCK = "run.lock"
RESUMABLE = ("interrupted", "abandoned")


class RunFolderError(UserInputError):
    """The run folder cannot be used: another live run writes there, or it cannot be written (one line)."""


# ------------------------------------------------------------------ the data a run was planned on
FULL_HASH_BYTES = 64 * 2**20  # a larger data file is fingerprinted by its size and SAMPLED_BLOCKS of it
SAMPLED_BLOCKS = 64  # blocks of 1 MB, evenly spaced from the first to the last byte


def data_fingerprint(path: str | None, sampled: bool | None = None) -> dict[str, Any]:
    """Size and SHA-256 of a data file (a folder: its files' count, sizes and newest time). A file over
    FULL_HASH_BYTES (``sampled`` None) is hashed over SAMPLED_BLOCKS blocks of 1 MB evenly spaced through it, its
    first and last included (``sha256_sampled``): reading all of a 1.5 GB file twice took 3.6 s of a 60 s run,
    and a file changed since planning almost always changes its size, its first or last megabyte, or a block."""
    import hashlib

    if not path:
        return {}
    p = Path(path)
    try:
        if p.is_dir():
            files = [f.stat() for f in p.rglob("*") if f.is_file()]
            return {"files": len(files), "size": sum(f.st_size for f in files),
                    "mtime_ns": max((f.st_mtime_ns for f in files), default=0)}
        size = p.stat().st_size
        digest = hashlib.sha256()
        with open(p, "rb") as f:
            if sampled if sampled is not None else size > FULL_HASH_BYTES:
                block = 1 << 20
                for i in range(SAMPLED_BLOCKS):
                    f.seek(max(0, size - block) * i // (SAMPLED_BLOCKS - 1))
                    digest.update(f.read(block))
                return {"size": size, "sha256_sampled": digest.hexdigest(),
                        "sampled": f"{SAMPLED_BLOCKS} blocks of 1 MB evenly spaced, the first and last included"}
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return {"size": size, "sha256": digest.hexdigest()}
    except OSError as exc:
        return {"error": exc.strerror or str(exc)}


def data_changed(path: str | None, before: dict[str, Any]) -> str | None:
    """One line when the data at ``path`` is not what the plans were made on; None when it is the same."""
    if not path or not before:
        return None
    if not Path(path).exists():
        return f"the data file {path} is gone since planning; put it back or plan again"
    now_ = data_fingerprint(path, sampled="sha256_sampled" in before if "size" in before else None)  # as before
    if now_ == before:
        return None
    if now_.get("size") == 0 and before.get("size"):
        return f"the data file {path} is now empty (it had {before['size']} bytes at planning); plan again"
    if "error" in now_:
        return f"the data file {path} cannot be read now ({now_['error']}); plan again when it can"
    return (f"the data file {path} changed since planning ({before.get('size')} -> {now_.get('size')} bytes); the "
            "plans were made on the old data: plan again")


# ------------------------------------------------------------------ who writes a record
def _start_ticks(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc (Linux); None elsewhere."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def process_identity() -> dict[str, Any]:
    """This process as the record and the lock name it: pid, host and (Linux) its start time."""
    st = _start_ticks(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": st[1] if st else None}


def process_alive(ident: dict[str, Any]) -> bool | None:
    """Is the process ``ident`` still running? None when it cannot be told (another host, nothing recorded)."""
    pid = ident.get("pid")
    if not pid or ident.get("host") != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    st = _start_ticks(int(pid))
    if st is not None:
        if st[0] in ("Z", "X"):  # a zombie has exited; only its parent has not reaped it yet
            return False
        if ident.get("start") is not None and st[1] != ident["start"]:
            return False  # the pid was reused by a newer process
    return True


def effective(record: RunRecord) -> RunRecord:
    """The record as a reader should show it: ``running`` with its process gone reads ``abandoned``."""
    if record.status != "running" or process_alive(record.process) is not False:
        return record
    where = f"pid {record.process.get('pid')} on {record.process.get('host')}"
    return record.model_copy(update={"status": "abandoned", "message": (
        f"its process ({where}) ended without saying so (killed, crashed or powered off) "
        f"{'in ' + record.stage.replace('cell:', 'cell ') if record.stage else 'while ' + (record.message or 'running')}"
        "; it can be resumed")})


def new_run_id(instruction: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", instruction.lower())[:4])[:40] or "run"
    return f"{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{slug}"


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        self.held: str | None = None  # the run id whose lock this object holds

    def ensure(self) -> RunFolder:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"cannot create the run folder {self.path}: {exc.strerror or exc}") from None
        return self

    # ---------------------------------------------------------------- one writer at a time
    def owner(self) -> dict[str, Any] | None:
        """The lock's content (pid, host, start, run_id, since), or None when the folder is not locked."""
        try:
            return json.loads((self.path / LOCK).read_text(encoding="utf-8") or "{}")
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # being written, or garbage: treated as a lock of unknown owner

    def claim(self, run_id: str, fresh: bool = True) -> RunFolder:
        """Take the folder for ``run_id`` (re-entrant for the same run in this process).

        Raises ``RunFolderError`` (one line) when another live process or another run in this process holds
        it, when it holds an interrupted run that is not ``run_id`` (resume it or choose another folder), or
        when it cannot be written. A lock left by a dead process is taken over. ``fresh=False`` continues
        ``run_id``: its record must still be the folder's.
        """
        self.ensure()
        lock, me = self.path / LOCK, {**process_identity(), "run_id": run_id, "since": now()}
        for _ in range(3):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self.owner()
                if owner is None:
                    continue  # released meanwhile
                same = owner.get("pid") == me["pid"] and owner.get("host") == me["host"]
                if same and owner.get("run_id") == run_id:
                    self.held = run_id
                    return self
                if owner and (same or process_alive(owner) is not False):
                    who = "this process" if same else f"pid {owner.get('pid')} on {owner.get('host')}"
                    raise RunFolderError(f"the run folder {self.path} is in use by run {owner.get('run_id')} "
                                         f"({who}, since {owner.get('since')}); wait for it or choose another "
                                         "folder (--out)") from None
                if not owner and _age_s(lock) < 5:
                    raise RunFolderError(f"the run folder {self.path} is being claimed by another run; choose "
                                         "another folder (--out)") from None
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()  # its process is gone: the lock is stale
                continue
            except OSError as exc:
                raise RunFolderError(f"cannot write to the run folder {self.path}: {exc.strerror or exc}") from None
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(me, f)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    lock.unlink()
                raise RunFolderError(f"cannot write to the run folder {self.path}: {exc.strerror or exc}") from None
            break
        else:
            raise RunFolderError(f"the run folder {self.path} is contended; choose another folder (--out)")
        try:
            previous = self.read_record() if (self.path / RECORD).exists() else None
        except (OSError, ValueError):
            previous = None
        if not fresh and (previous is None or previous.run_id != run_id):
            self.release()
            raise RunFolderError(f"the run folder {self.path} now holds "
                                 f"{'run ' + previous.run_id if previous else 'no run record'}, not run {run_id}; "
                                 "plan again")
        if previous is not None and previous.run_id != run_id and effective(previous).status in RESUMABLE:
            self.release()
            raise RunFolderError(f"the run folder {self.path} holds {effective(previous).status} run "
                                 f"{previous.run_id}: resume it (automl-agent resume {self.path}) or choose "
                                 "another folder (--out)")
        self.held = run_id
        return self

    def release(self) -> None:
        """Drop the lock if this process holds it (idempotent)."""
        owner, self.held = self.owner(), None
        if owner is not None and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
            with contextlib.suppress(OSError):
                (self.path / LOCK).unlink()

    def write_record(self, record: RunRecord) -> Path:
        """Write run.json atomically (a crash mid-write leaves the previous record, never half a file).

        A full disk or a folder that turned read-only raises ``RunFolderError`` (one line), the old record
        intact."""
        self.ensure()
        target = self.path / RECORD
        tmp = target.with_suffix(".json.tmp")
        try:
            tmp.write_text(record.model_dump_json(indent=1), encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise RunFolderError(f"cannot write the run record {target}: {exc.strerror or exc}") from None
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
        """pipeline.ipynb (nbformat 4.5), written as JSON: importing nbformat costs seconds (its schema
        validator), which a run's time budget should not pay."""
        def lines(text: str) -> list[str]:
            return text.splitlines(keepends=True)

        intro = (f"# AutoML-Agent run `{record.run_id}`\n\n**Instruction:** {record.instruction}\n\n"
                 f"Plan **{record.selected_plan}**; one cell per stage, rerunnable in order.")
        nb_cells: list[dict] = [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": lines(intro)}]
        for i, c in enumerate(cells):
            nb_cells.append({"cell_type": "code", "id": f"{c.stage}-{i}"[:64], "execution_count": None, "outputs": [],
                             "metadata": {"automl_agent": {"run_id": record.run_id, "stage": c.stage}},
                             "source": lines(c.source)})
        nb = {"cells": nb_cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}}}
        path = self.ensure().path / "pipeline.ipynb"
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def _age_s(path: Path) -> float:
    try:
        return _dt.datetime.now().timestamp() - path.stat().st_mtime
    except OSError:
        return 0.0


def unique_folder(runs_dir: str | Path, run_id: str) -> tuple[str, RunFolder]:
    """A run id and folder under ``runs_dir`` that no other run has (``-2``, ``-3``... when taken)."""
    base, n = run_id, 1
    while (Path(runs_dir) / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id, RunFolder(Path(runs_dir) / run_id)


def scan_runs(runs_dir: str | Path) -> list[tuple[Path, RunRecord]]:
    """(folder, record) of past runs under ``runs_dir``, newest first, as readers should show them
    (``effective``); unreadable records are skipped."""
    out = []
    for p in Path(runs_dir).glob(f"*/{RECORD}"):
        try:
            out.append((p.parent, effective(RunRecord.model_validate_json(p.read_text(encoding="utf-8")))))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda fr: fr[1].created, reverse=True)


def list_runs(runs_dir: str | Path) -> list[RunRecord]:
    """Past runs under ``runs_dir``, newest first, as readers should show them."""
    return [rec for _, rec in scan_runs(runs_dir)]


def run_lines(runs_dir: str | Path, resume: str = "automl-agent resume") -> list[str]:
    """``automl-agent runs`` / ``%automl runs``: one line per run (status, metric; where an interrupted or
    abandoned run stopped and how to resume it)."""
    lines = []
    for folder, rec in scan_runs(runs_dir):
        pm = rec.primary_metric or {}
        metric = f"{pm['name']}={pm['value']:.4f}" if pm.get("value") is not None else ""
        line = f"{rec.run_id:50s} {rec.status:20s} {metric}".rstrip()
        if rec.status in RESUMABLE:
            stage = (rec.interruption.stage if rec.interruption else rec.stage) or ""
            line += f" {('at ' + stage.replace('cell:', '') + '; ') if stage else ''}resume: {resume} {folder}"
        lines.append(line)
    return lines


def find_run(runs_dir: str | Path, run: str) -> RunFolder:
    """A run folder given as a folder or as a run id (or its unique prefix) under ``runs_dir``."""
    if (Path(run).expanduser() / RECORD).exists():
        return RunFolder(run)
    if (Path(runs_dir) / run / RECORD).exists():
        return RunFolder(Path(runs_dir) / run)
    matches = sorted(Path(runs_dir).glob(f"{run}*/{RECORD}"))
    if len(matches) != 1:
        where = Path(runs_dir).resolve()
        raise UserInputError(f"no run {run!r} under {where} and no run folder at {run}" if not matches else
                             f"{run!r} names {len(matches)} runs under {where}; give the whole run id")
    return RunFolder(matches[0].parent)
