"""How long the prompt agent and the agent stages take (instruction -> plans shown), offline.

    python -m benchmarks.prompt_agent            # the corpus, then the four shared tabular sets

1. The offline prompt agent on every corpus instruction (tests/corpus/*.yaml: the tuned and the four held-out parts measured so far): seconds per instruction
   once the word tables are loaded, and the one-time load in a fresh process.
2. ``AutoMLAgent.run(..., auto=False)`` on the shared tabular sets: the record's per-stage timings
   (request verification .. execution verification) and their sum ``agent_stages``.
Prints a table; the machine's load average is printed with it (the numbers move with it).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("tuning", "heldout", "heldout2", "heldout3", "heldout4")
SHARED = ROOT.parent / "shared" / "datasets"
TABULAR = [
    ("banana_quality/banana_quality.csv", "Classify banana quality as Good or Bad with F1 of at least 0.95"),
    ("crab_age/CrabAgePrediction.csv", "Predict the age of crabs with RMSLE below 0.25"),
    ("smoker_status/smoker_status_biosignals.csv", "Which patients smoke? F1 at least 0.8"),
    ("software_defects/jm1.csv", "Predict whether a module has defects; report F1"),
]


def corpus() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus_eval import _peek, load, resolve

    from automl_agent_jupyter.brains.offline import parser

    cold = subprocess.run([sys.executable, "-c", (
        "import time; t=time.perf_counter(); from automl_agent_jupyter.brains.offline import parser; "
        "parser.understand('Which patients smoke?', None, None); print(time.perf_counter()-t)")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    parser.understand("warm up", None, None)
    times = []
    for item in [i for part in PARTS for i in load(part)]:
        try:
            path = resolve(item["data"])
        except (FileNotFoundError, ImportError):
            continue
        peek = _peek(path) if path else None
        t0 = time.perf_counter()
        parser.understand(item["instruction"], peek, path)
        times.append(time.perf_counter() - t0)
    print(f"prompt agent, {len(times)} corpus instructions (warm): median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms; first instruction in a fresh process (imports and word tables): "
          f"{float(cold.stdout.strip() or 'nan'):.2f} s")


def stages() -> None:
    from automl_agent_jupyter import AutoMLAgent

    agent = AutoMLAgent(budget_s=2)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (rel, text) in enumerate(TABULAR):
            path = SHARED / rel
            if not path.exists():
                print(f"{rel}: missing")
                continue
            run = agent.run(text, data=str(path), out=Path(tmp) / str(i), auto=False)
            t = run.record.timings
            parts = ", ".join(f"{k} {v:.2f}" for k, v in t.items() if k != "agent_stages")
            print(f"{rel.split('/')[0]:16s} {run.status:10s} agent_stages {t.get('agent_stages', 0):.2f} s ({parts})")


if __name__ == "__main__":
    print(f"load average: {os.getloadavg()}")
    corpus()
    stages()
