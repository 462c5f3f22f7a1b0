"""The GPU path, checked on a GPU: the generated image, text, graph and time-series pipelines on CUDA.

For each task the offline agent plans on the real data set, the best-ranked plan whose models are torch
networks is kept (its non-torch candidates dropped, so the comparison is about the networks), and that
plan is implemented twice, each in its own process, with the same seed and time budget: once with the
GPU visible and once with ``CUDA_VISIBLE_DEVICES=""`` (CPU). Inside each run, while the generated cells
train and predict:

- a global forward hook counts module calls by the device of their parameters and of their input
  tensors (the networks and the batches must be on CUDA),
- ``torch.autocast`` entries are counted by device and whether they were enabled, and
  ``GradScaler.step`` calls by whether scaling was on (mixed precision must be used on CUDA).

After the GPU run, a third process with ``CUDA_VISIBLE_DEVICES=""`` loads the saved model from the run
folder (``predict.py``, as a deployment would) and predicts a few real inputs on CPU.
The speed-up per task is the training throughput (samples seen per second of training, from the
generated code's own tuning record) on GPU over CPU; the inference time of the test split is compared too.

    .venv/bin/python -m benchmarks.gpu_check                      # all four tasks, 20 s of training each
    .venv/bin/python -m benchmarks.gpu_check --tasks image,graph --budget 10
    .venv/bin/python -m benchmarks.gpu_check --devices cpu        # the CPU half only (no GPU: a dry run)

Needs a CUDA build of torch (``pip install torch`` from the CUDA index) and torch_geometric for the graph
task. Writes benchmarks/results/<date>/gpu_check.json and gpu_check.md; exits 1 when a check fails, 2 when
no GPU is visible and ``--devices`` asks for one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"

# The generated graph code trains in float32 on purpose (scatter sums in float16 lose precision; a graph
# of a few thousand nodes gains nothing): no autocast is expected there.
NO_AMP = {"graph"}
# The network compared on GPU and CPU per task (one each, so that the speed-up is about one network).
NETWORKS = {"image": "cnn", "text": "text_embedding_bag", "graph": "gcn", "time_series": "dlinear"}
TASKS: dict[str, tuple[str, str]] = {  # name -> (data set path under DATASETS, instruction)
    "image": (
        "mnist_test_images/mnist_test_10k.npz",
        "Classify the handwritten digits in these images; report accuracy.",
    ),
    "text": ("sms_spam/SMSSpamCollection.tsv", "Classify SMS messages as spam or ham; report accuracy."),
    "graph": (
        "cora",
        "Classify the papers of the Cora citation network into their topics. "
        "Import the Cora dataset using Planetoid.",
    ),
    "time_series": (
        "etth1_timeseries/ETTh1.csv",
        "Forecast all channels. INPUT_SEQ_LEN=96, INPUT_DIM=7, "
        "PRED_SEQ_LEN=96, PRED_DIM=7. Report MSE and MAE.",
    ),
}


def samples(task: str, data: str) -> Any:
    """A few real inputs for the saved model's predict()."""
    if task == "image":
        import numpy as np

        return np.load(data)["x"][:8]
    if task == "text":
        return [
            "WINNER!! You have won a 1000 pound prize. Call 09061701461 to claim now",
            "Ok, see you at home for dinner",
        ]
    if task == "graph":
        return [0, 1, 2]
    import pandas as pd

    return pd.read_csv(data).iloc[:96]


# ------------------------------------------------------------------------------------------ one run (child)
class Watch:
    """Counts, while the generated cells run: forward calls by parameter / input device, autocast entries
    by (device, enabled), GradScaler steps by enabled."""

    def __init__(self) -> None:
        import torch

        self.forward: Counter[str] = Counter()
        self.inputs: Counter[str] = Counter()
        self.autocast: Counter[str] = Counter()
        self.scaler: Counter[str] = Counter()
        watch = self

        def pre_hook(module: Any, args: Any) -> None:
            if sum(watch.forward.values()) >= 20_000:  # enough evidence; keep the hook cheap after that
                return
            param = next(module.parameters(recurse=False), None)
            if param is not None:
                watch.forward[param.device.type] += 1
            for a in args:
                if isinstance(a, torch.Tensor):
                    watch.inputs[a.device.type] += 1
                    break

        self._handle = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
        autocast = torch.amp.autocast_mode.autocast
        self._enter = enter = autocast.__enter__

        def counted_enter(ac: Any) -> Any:
            watch.autocast[f"{ac.device}:{'on' if ac._enabled else 'off'}"] += 1
            return enter(ac)

        autocast.__enter__ = counted_enter
        self._step = step = torch.amp.GradScaler.step

        def counted_step(scaler: Any, *a: Any, **kw: Any) -> Any:
            watch.scaler["on" if scaler.is_enabled() else "off"] += 1
            return step(scaler, *a, **kw)

        torch.amp.GradScaler.step = counted_step
        self.steps, self.first_step, self.last_step = 0, 0.0, 0.0

        def on_step(*_: Any) -> None:
            now = time.perf_counter()
            watch.first_step = watch.first_step or now
            watch.last_step, watch.steps = now, watch.steps + 1

        from torch.optim.optimizer import register_optimizer_step_post_hook

        self._step_hook = register_optimizer_step_post_hook(on_step)

    def close(self) -> dict[str, dict[str, int]]:
        import torch

        self._handle.remove()
        self._step_hook.remove()
        torch.amp.autocast_mode.autocast.__enter__ = self._enter
        torch.amp.GradScaler.step = self._step
        return {
            "module_calls_by_param_device": dict(self.forward),
            "inputs_by_device": dict(self.inputs),
            "autocast_entries": dict(self.autocast),
            "grad_scaler_steps": dict(self.scaler),
            "optimizer_steps": self.steps,
            "steps_per_s": round((self.steps - 1) / (self.last_step - self.first_step), 1)
            if self.steps > 1 and self.last_step > self.first_step
            else None,
        }


def torch_plan(record: Any, network: str) -> Any:
    """The plan that has ``network`` among its candidates, with only that candidate kept (else the
    best-ranked plan with any torch network, keeping those)."""
    from automl_agent_jupyter.knowledge import model_entry

    def needs_torch(name: str) -> bool:
        return "torch" in (model_entry(name).get("requires") or [])

    for keep in (lambda c: c.name == network, lambda c: needs_torch(c.name)):
        for plan in record.plans:
            nets = [c for c in plan.candidates if keep(c)]
            if nets:
                plan.candidates = nets
                plan.model_families = [c.name for c in nets]
                return plan
    return None


def one_run(task: str, out: Path, budget: float, network: str) -> dict[str, Any]:
    """Plan and implement ``task`` in this process; what the checks need, as JSON data."""
    import torch

    from automl_agent_jupyter import AutoMLAgent
    from automl_agent_jupyter.execution import NamespaceExecutor

    path, instruction = TASKS[task]
    m = AutoMLAgent(budget_s=budget, seed=0).manager()
    rec = m.plan(instruction, data=str(DATASETS / path), out=out)
    if rec.status != "planned":
        return {"status": rec.status, "message": rec.message}
    plan = torch_plan(rec, network)
    if plan is None:
        return {"status": "no_torch_plan", "message": "; ".join(p.title for p in rec.plans)}
    watch = Watch()
    t0 = time.perf_counter()
    try:
        rec = m.implement(plan.id, executor=NamespaceExecutor())
    finally:
        seen = watch.close()
    wall = time.perf_counter() - t0
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    tuning = results.get("tuning") or {}
    samples_seen = sum(float(f.get("samples_seen") or 0) for f in tuning.values())
    seconds = sum(float(f.get("seconds") or 0) for f in tuning.values() if f.get("samples_seen"))
    measured = results.get("measured") or {}
    return {
        "status": rec.status,
        "message": rec.message,
        "plan": plan.title,
        "model": results.get("model"),
        "device": results.get("device"),
        "device_name": results.get("device_name"),
        "amp": results.get("amp"),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "metric": rec.primary_metric,
        "implement_wall_s": round(wall, 2),
        "training_time_s": measured.get("training_time"),
        "samples_per_s": round(samples_seen / seconds, 1) if seconds else None,
        "inference_time_total_s": measured.get("inference_time_total"),
        "inference_latency_ms": measured.get("inference_latency"),
        **seen,
    }


def predict_on_cpu(task: str, folder: Path) -> dict[str, Any]:
    """The saved model loaded from disk (this process sees no GPU) and asked for a few predictions."""
    import torch

    from automl_agent_jupyter import Run

    path, _ = TASKS[task]
    t0 = time.perf_counter()
    out = Run.load(folder).predict(samples(task, str(DATASETS / path)))
    return {
        "cuda_visible": torch.cuda.is_available(),
        "n_predictions": len(out),
        "seconds": round(time.perf_counter() - t0, 3),
        "first": str(out[0] if not hasattr(out, "iloc") else out.iloc[0].tolist())[:120],
    }


# ------------------------------------------------------------------------------------------ the parent
def child(args: list[str], cpu_only: bool, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if cpu_only:
        env["CUDA_VISIBLE_DEVICES"] = ""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.gpu_check", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "message": f"no answer within {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("GPU_CHECK_JSON ")]
    if not lines:
        return {
            "status": "crashed",
            "message": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"],
        }
    return json.loads(lines[-1][len("GPU_CHECK_JSON ") :])


def checks(task: str, gpu: dict[str, Any], load: dict[str, Any] | None) -> list[str]:
    """Every failed check, one line each ([] when the GPU run passed them all)."""
    failed = []
    if gpu.get("status") != "succeeded":
        return [f"{task}: GPU run {gpu.get('status')}: {gpu.get('message')}"]
    if gpu.get("device") != "cuda":
        failed.append(f"{task}: the generated code chose device {gpu.get('device')!r}, not cuda")
    calls = gpu.get("module_calls_by_param_device", {})
    if not calls.get("cuda") or calls.get("cpu", 0) > calls.get("cuda", 0):
        failed.append(f"{task}: module calls by parameter device {calls}")
    inputs = gpu.get("inputs_by_device", {})
    if not inputs.get("cuda"):
        failed.append(f"{task}: no input tensor on cuda {inputs}")
    if task not in NO_AMP and (not gpu.get("amp") or not gpu.get("autocast_entries", {}).get("cuda:on")):
        failed.append(f"{task}: AMP not used (amp={gpu.get('amp')}, autocast {gpu.get('autocast_entries')})")
    if load is None or load.get("status") or load.get("cuda_visible") or not load.get("n_predictions"):
        failed.append(f"{task}: the saved model did not predict on CPU: {load}")
    return failed


def report(rows: dict[str, dict[str, Any]], failed: list[str], meta: dict[str, Any]) -> str:
    lines = [
        f"# GPU check, {meta['date']}",
        "",
        f"{meta['gpu']}; torch {meta['torch']}; budget {meta['budget']} s "
        f"of training per run; command `{meta['command']}`.",
        "",
        "| task | plan (model) | GPU status | metric GPU / CPU | samples/s GPU / CPU "
        "| optimiser steps/s GPU / CPU | speed-up | test-split inference s GPU / CPU | autocast on CUDA "
        "| loads + predicts on CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, r in rows.items():
        g, c, load = r.get("cuda") or {}, r.get("cpu") or {}, r.get("cpu_load") or {}

        def metric(x: dict[str, Any]) -> str:
            pm = x.get("metric") or {}
            return (
                f"{pm.get('name')} {pm['value']:.4f}" if pm.get("value") is not None else str(x.get("status"))
            )

        speed = r.get("speedup")
        lines.append(
            f"| {task} | {g.get('plan') or c.get('plan')} ({g.get('model') or c.get('model')}) | "
            f"{g.get('status', '-')} | {metric(g)} / {metric(c)} | {g.get('samples_per_s')} / "
            f"{c.get('samples_per_s')} | {g.get('steps_per_s')} / {c.get('steps_per_s')} | "
            f"{f'{speed:.1f}x' if speed else '-'} | "
            f"{g.get('inference_time_total_s')} / {c.get('inference_time_total_s')} | "
            f"{(g.get('autocast_entries') or {}).get('cuda:on', 0)} | "
            f"{load.get('n_predictions', '-')} predictions |"
        )
    lines += [
        "",
        "The speed-up is GPU over CPU training throughput (samples/s where the generated code counts them, "
        "else optimiser steps/s), same plan, seed and budget. Image runs resize to 128 px on CUDA and "
        "64 px on CPU (the generated code's choice), so their per-sample work differs. Graph code trains in "
        "float32 by design (no autocast expected).",
        "",
        "Failed checks:" if failed else "All checks passed.",
        *[f"- {f}" for f in failed],
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma-separated: " + ", ".join(TASKS))
    ap.add_argument("--devices", default="cuda,cpu", help="cuda,cpu (default) or one of them")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of training per run")
    ap.add_argument(
        "--networks",
        default="",
        help="e.g. text=transformer_finetune (default: "
        + ", ".join(f"{k}={v}" for k, v in NETWORKS.items())
        + ")",
    )
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "gpu_check"), help="run folders")
    ap.add_argument("--results", default=None, help="folder for gpu_check.json/.md (default results/<date>)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child: implement one task here
    ap.add_argument("--load", help=argparse.SUPPRESS)  # child: predict from a run folder on CPU
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--network", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print("GPU_CHECK_JSON " + json.dumps(one_run(a.one, Path(a.out), a.budget, a.network), default=str))
        return 0
    if a.load:
        print("GPU_CHECK_JSON " + json.dumps(predict_on_cpu(a.load, Path(a.out)), default=str))
        return 0

    import torch

    devices = [d.strip() for d in a.devices.split(",") if d.strip()]
    if "cuda" in devices and not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA device visible to torch {torch.__version__}: nothing to check on a GPU "
            "(use --devices cpu for the CPU half)",
            file=sys.stderr,
        )
        return 2
    networks = {**NETWORKS, **dict(p.split("=", 1) for p in a.networks.split(",") if "=" in p)}
    stamp = dt.datetime.now(dt.timezone.utc)
    work = Path(a.work) / stamp.strftime("%Y%m%dT%H%M%S")
    timeout = 20 * a.budget + 600  # planning (the probe) and the CPU run of an image net take their time
    rows: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for task in [t.strip() for t in a.tasks.split(",") if t.strip()]:
        rows[task] = row = {}
        for device in devices:
            out = work / f"{task}-{device}"
            row[device] = child(
                ["--one", task, "--out", str(out), "--budget", str(a.budget), "--network", networks[task]],
                device == "cpu",
                timeout,
            )
            print(
                f"{task:12s} {device}: {row[device].get('status')} {row[device].get('device')} "
                f"{row[device].get('samples_per_s')} samples/s {row[device].get('steps_per_s')} steps/s, "
                f"autocast {row[device].get('autocast_entries')}",
                flush=True,
            )
        if "cuda" in devices:
            ok = row["cuda"].get("status") == "succeeded"
            row["cpu_load"] = (
                child(["--load", task, "--out", str(work / f"{task}-cuda")], True, 300) if ok else None
            )
            failed += checks(task, row["cuda"], row["cpu_load"])
        if "cpu" in devices and row["cpu"].get("status") != "succeeded":
            failed.append(f"{task}: CPU run {row['cpu'].get('status')}: {row['cpu'].get('message')}")
        for unit in (
            "samples_per_s",
            "steps_per_s",
        ):  # samples where the code counts them, else optimiser steps
            g, c = (row.get("cuda") or {}).get(unit), (row.get("cpu") or {}).get(unit)
            if g and c:
                row["speedup"], row["speedup_by"] = round(g / c, 2), unit
                break
        else:
            row["speedup"] = None
    meta = {
        "date": stamp.isoformat(timespec="seconds"),
        "budget": a.budget,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU",
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "command": "python -m benchmarks.gpu_check " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    dest = Path(a.results) if a.results else REPO / "benchmarks" / "results" / stamp.strftime("%Y-%m-%d")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "gpu_check.json").write_text(
        json.dumps({"meta": meta, "tasks": rows, "failed": failed}, indent=1, default=str)
    )
    (dest / "gpu_check.md").write_text(report(rows, failed, meta))
    print(report(rows, failed, meta))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
