"""Does a pretrained image backbone help? A transfer benchmark that runs offline.

No ImageNet checkpoint can be fetched on an offline machine, so the benchmark makes its own: a small ResNet
(the Hugging Face ResNet class, saved with ``save_pretrained``) trained on real MNIST digits 0-4. The task is
then digits 5-9, which that backbone never saw, with few labelled images per class. Every image plan the
agent proposes (compact CNN from scratch, pretrained backbone fine-tuned / linear-probed, HOG + classical,
pixel MLP) is implemented on the same split, and the same backbone with random weights is run as a control.

    .venv/bin/python -m benchmarks.transfer                  # 20 and 100 labels per class, budget 10 s
    .venv/bin/python -m benchmarks.transfer --labels 50 --budget 20

Writes benchmarks/results/<date>/transfer.json and transfer.md. With a real checkpoint on disk, point
AUTOML_AGENT_IMAGE_MODEL at it and pass --backbone-from-env to skip the home-made one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "datasets" / "mnist_test_images" / "mnist_test_10k.npz"
INSTRUCTION = "Classify the handwritten digit images; report accuracy."
PREPROCESSOR = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"shortest_edge": 64}}


def make_backbones(x: np.ndarray, y: np.ndarray, root: Path, epochs: int) -> tuple[Path, Path, float]:
    """(pretrained folder, random-weights folder, pretraining seconds): one small ResNet, two weight sets."""
    import torch
    import torch.nn.functional as F
    from transformers import ResNetConfig, ResNetForImageClassification

    config = ResNetConfig(num_channels=3, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                          layer_type="basic", num_labels=5)
    folders = {}
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the generated code does on 2 cores: spinning BLAS threads stall on a busy machine
    for name in ("random", "pretrained"):
        net = ResNetForImageClassification(config)
        t0 = time.perf_counter()
        if name == "pretrained":
            old = np.where(y < 5)[0]
            X = torch.from_numpy(x[old]).float().div(255).unsqueeze(1)
            Y = torch.from_numpy(y[old]).long()
            opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
            for epoch in range(epochs):
                perm = torch.randperm(len(Y), generator=torch.Generator().manual_seed(epoch))
                for i in range(0, len(Y), 64):
                    b = perm[i:i + 64]
                    xb = F.interpolate(X[b], size=(64, 64), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
                    loss = F.cross_entropy(net(pixel_values=(xb - 0.5) / 0.5).logits, Y[b])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        seconds = time.perf_counter() - t0
        folders[name] = root / name
        net.save_pretrained(folders[name])
        (folders[name] / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR))
    torch.set_num_threads(threads)
    return folders["pretrained"], folders["random"], seconds


def task_file(x: np.ndarray, y: np.ndarray, labels: int, root: Path) -> Path:
    """Digits 5-9: ``labels`` train images per class, 1000 test images (none of them in train)."""
    rng = np.random.default_rng(0)
    new = np.where(y >= 5)[0]
    train = np.concatenate([rng.choice(new[y[new] == c], labels, replace=False) for c in range(5, 10)])
    test = rng.choice(np.setdiff1d(new, train), 1000, replace=False)
    path = root / f"digits_5_9_{labels}.npz"
    np.savez(path, x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test])
    return path


def run_plans(data: Path, backbone: Path, budget: float, out: Path, only_pretrained: bool) -> list[dict[str, Any]]:
    from automl_agent_jupyter import AutoMLAgent

    os.environ["AUTOML_AGENT_IMAGE_MODEL"] = str(backbone)
    rows = []
    m = AutoMLAgent(budget_s=budget, n_plans=4).manager()
    t0 = time.perf_counter()
    m.plan(INSTRUCTION, data=str(data), out=out / "plan")
    plan_s = time.perf_counter() - t0
    for plan in m.record.plans:
        if only_pretrained and plan.preprocessing.get("recipe") != "pretrained":
            continue
        m2 = AutoMLAgent(budget_s=budget, n_plans=4).manager()
        m2.plan(INSTRUCTION, data=str(data), out=out / plan.id)
        t1 = time.perf_counter()
        rec = m2.implement(plan.id)
        results = json.loads((out / plan.id / "results.json").read_text()) if rec.status == "succeeded" else {}
        rows.append({"plan": plan.title, "recipe": plan.preprocessing.get("recipe"), "model": results.get("model"),
                     "predicted": max((c.predicted_metric or 0) for c in plan.candidates),
                     "test_accuracy": (rec.metrics.get("test") or {}).get("accuracy"), "status": rec.status,
                     "implement_s": round(time.perf_counter() - t1, 1), "plan_s": round(plan_s, 1),
                     "train_s": round((results.get("measured") or {}).get("training_time", 0.0), 1)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=int, nargs="+", default=[20, 100], help="labelled images per class")
    ap.add_argument("--budget", type=float, default=10.0, help="training seconds per plan")
    ap.add_argument("--epochs", type=int, default=4, help="pretraining epochs on digits 0-4")
    ap.add_argument("--data", default=str(MNIST), help="MNIST as .npz with x (N x 28 x 28) and y")
    ap.add_argument("--backbone-from-env", action="store_true",
                    help="use AUTOML_AGENT_IMAGE_MODEL as the pretrained backbone (no control run)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / dt.date.today().isoformat()))
    args = ap.parse_args(argv)

    arrays = np.load(args.data)
    x, y = arrays["x"], arrays["y"]
    work = Path(tempfile.mkdtemp(prefix="automl-transfer-"))
    if args.backbone_from_env:
        pretrained, random_weights, pre_s = Path(os.environ["AUTOML_AGENT_IMAGE_MODEL"]), None, 0.0
    else:
        pretrained, random_weights, pre_s = make_backbones(x, y, work, args.epochs)
    results: dict[str, Any] = {"date": dt.datetime.now().isoformat(timespec="seconds"), "budget_s": args.budget,
                               "pretraining_s": round(pre_s, 1), "cores": os.cpu_count(),
                               "platform": platform.platform(), "load_avg_start": list(os.getloadavg()), "runs": {}}
    for labels in args.labels:
        data = task_file(x, y, labels, work)
        rows = run_plans(data, pretrained, args.budget, work / f"pre-{labels}", only_pretrained=False)
        if random_weights is not None:
            control = run_plans(data, random_weights, args.budget, work / f"rand-{labels}", only_pretrained=True)
            rows += [{**r, "plan": r["plan"] + " (random weights: control)"} for r in control]
        results["runs"][str(labels)] = rows
        for r in rows:
            print(labels, r, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfer.json").write_text(json.dumps(results, indent=1))
    lines = [f"# Transfer benchmark ({results['date']})", "",
             f"MNIST digits 0-4 pretrain a small ResNet ({results['pretraining_s']} s); the task is digits 5-9 with "
             f"few labels per class, 1000 test images. Budget {args.budget:.0f} s of training per plan, "
             f"{results['cores']} CPU cores, load at start {results['load_avg_start'][0]:.1f}.", "",
             "| labels/class | plan | model | predicted | test accuracy | implement s |", "|---|---|---|---|---|---|"]
    for labels, rows in results["runs"].items():
        lines += [f"| {labels} | {r['plan']} | {r['model']} | {r['predicted']:.3f} | "
                  f"{r['test_accuracy'] if r['test_accuracy'] is not None else r['status']} | {r['implement_s']} |"
                  for r in rows]
    (out / "transfer.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'transfer.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
