"""How long the agent stages take (instruction -> plans shown), and how much of the budget the probes cost.

For each dataset, a fresh Python process (nothing imported, nothing cached) plans with the offline brain and
the default settings, as ``AutoMLAgent().manager().plan`` does for the CLI, the API and the notebook widget:

* ``cold``: the first instruction in the process (imports of scikit-learn, LightGBM, torch, the word data);
* ``loaded``: the first instruction in another fresh process after what ``%load_ext automl_agent_jupyter``
  starts in the background (the word tables and the probes' libraries) has finished;
* ``warm``: a second instruction on the same table in the same process after the probe caches and the table
  cache were dropped (what a notebook pays for a new instruction once the libraries are loaded);
* ``repeat``: the same instruction again with the caches kept (the profile and the probes are reused).

On a shared machine the wall time grows with the load; the process's CPU seconds (the planning is
single-threaded: the probes run on one thread) are what a quiet machine's wall time would be. Each line gives
the CPU seconds, the record's stage timings (wall), the probe effort the budget sized (rows / items, epochs) with the
cost model's predicted and the measured probe CPU seconds, and the load average.

    .venv/bin/python -m benchmarks.planning_time [--datasets banana_quality,...] [--budget 60] [--busy 0]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TABULAR = ("banana_quality", "software_defects", "mfeat_factors", "smoker_status", "crab_age")

CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.tasks import tabular
from benchmarks.ranking import DATASETS, DATASETS_DIR, fresh_probes

key, budget, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
path, instruction = DATASETS[key]
out = {}
if mode == "loaded":  # as after %load_ext: the word tables and the probe libraries loaded in the background
    import threading
    from automl_agent_jupyter.agents.model import warm_up_in_background as probes
    from automl_agent_jupyter.brains.offline.words import warm_up_in_background as words
    words(); probes()
    for t in threading.enumerate():
        if t.name.startswith("automl-agent"):
            t.join()
for phase in (("cold", "warm", "repeat") if mode == "fresh" else ("loaded",)):
    if phase == "warm":
        fresh_probes()
        tabular._CACHE.clear()
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        rec = AutoMLAgent(budget_s=budget).manager().plan(instruction, data=str(DATASETS_DIR / path),
                                                          out=Path(tmp) / key)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out[phase] = {"status": rec.status, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "stages": rec.timings,
                  "effort": {k: rec.probe_effort.get(k) for k in ("effort", "items", "valid_items", "epochs",
                                                                 "predicted_cpu_s", "measured_cpu_s", "allowed_cpu_s")},
                  "selected": rec.selected_plan,
                  "ranking": {p.id: [c.name for c in p.candidates] for p in rec.plans}}
print("RESULT " + json.dumps(out))
"""


def _busy(stop: Any) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def measure(key: str, budget_s: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    load = os.getloadavg()[0]
    out: dict[str, Any] = {"dataset": key}
    for mode in ("fresh", "loaded"):
        p = subprocess.run([sys.executable, "-c", CHILD, key, str(budget_s), mode], capture_output=True, text=True,
                           env=env, cwd=str(HERE.parent), timeout=900)
        line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            return {"dataset": key, "error": (p.stderr or p.stdout)[-500:]}
        out.update(json.loads(line[7:]))
    return {**out, "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planning_time")
    ap.add_argument("--datasets", default=",".join(TABULAR))
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--busy", type=int, default=0, help="busy Python loops beside the runs")
    ap.add_argument("--out", default="", help="append the results (JSON lines) to this file")
    a = ap.parse_args(argv)
    stop = mp.Event()
    procs = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(a.busy)]
    for p in procs:
        p.start()
    try:
        for key in [k for k in a.datasets.split(",") if k]:
            r = measure(key, a.budget)
            r.update(busy_loops=a.busy, budget_s=a.budget, measured=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
            if "error" in r:
                print(f"{key}: {r['error']}", flush=True)
                continue
            e = r["cold"]["effort"]
            print(f"{key:17s} CPU s cold {r['cold']['cpu_s']:5.2f} loaded {r['loaded']['cpu_s']:5.2f} warm "
                  f"{r['warm']['cpu_s']:5.2f} repeat {r['repeat']['cpu_s']:5.2f} | wall s cold "
                  f"{r['cold']['stages'].get('agent_stages', 0):5.2f} loaded "
                  f"{r['loaded']['stages'].get('agent_stages', 0):5.2f} warm "
                  f"{r['warm']['stages'].get('agent_stages', 0):5.2f} (model search "
                  f"{r['warm']['stages'].get('model_search', 0):.2f}) repeat "
                  f"{r['repeat']['stages'].get('agent_stages', 0):5.2f} | effort {e['effort']} ({e['items']} items"
                  f"{', ' + str(e['epochs']) + ' epochs' if e.get('epochs') else ''}), probes predicted "
                  f"{e['predicted_cpu_s']} / measured {e['measured_cpu_s']} CPU s (allowed {e['allowed_cpu_s']}) | "
                  f"plan {r['cold']['selected']} | load {r['load_before']}-{r['load_after']}", flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(r) + "\n")
    finally:
        stop.set()
        for p in procs:
            p.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
