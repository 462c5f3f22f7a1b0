"""Run one benchmark instruction through the real pipeline (the Python API), in its own process.

The harness starts ``python benchmarks/ours_worker.py SPEC.json`` with a hard wall-clock limit, so a
hung or crashed run costs one row (SR 0), never the suite. The pipeline writes its own ``run.json``
into ``spec["out"]``; this worker adds a small ``bench.json`` beside it (wall time, crash traceback).
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)  # anything a library writes to the working directory stays in the run folder
    summary: dict = {"pid": os.getpid()}
    t0 = time.perf_counter()
    try:
        from automl_agent_jupyter.errors import UserInputError
        from automl_agent_jupyter.tasks import for_task

        try:
            for_task(spec["task"])
        except UserInputError as exc:
            summary.update(status="unsupported", message=str(exc))
            return 0
        if spec.get("check_only"):
            summary.update(status="supported", message="the pipeline supports this task; not run "
                                                       "(--non-tabular check)")
            return 0
        import automl_agent_jupyter
        from automl_agent_jupyter import AutoMLAgent, __version__

        summary.update(version=__version__, package=str(Path(automl_agent_jupyter.__file__).parent))
        agent = AutoMLAgent(llm=spec.get("llm"), **spec.get("settings", {}))
        run = agent.run(spec["instruction"], data=spec["data"], out=str(out))
        summary.update(status="ran", run_status=run.record.status)
        return 0
    except Exception as exc:  # noqa: BLE001 - a crash is a failed row, with its traceback kept
        summary.update(status="crashed", message=f"{type(exc).__name__}: {exc}",
                       traceback=traceback.format_exc()[-4000:])
        return 1
    finally:
        summary["wall_s"] = round(time.perf_counter() - t0, 3)
        (out / "bench.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
