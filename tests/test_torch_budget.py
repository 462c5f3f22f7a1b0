"""A network's training counts its effort in CPU seconds (the same epochs on a quiet or a busy machine), but the
run's wall-clock budget still holds: common/torch_fit stops at the setup cell's DEADLINE."""
from __future__ import annotations

import time

import pytest

from automl_agent_jupyter import templates

torch = pytest.importorskip("torch")


def _fit(deadline_in_s: float, time_s: float = 30.0, max_epochs: int = 50):
    ns = {"DEVICE": "cpu", "USE_AMP": False, "AMP_DEVICE": "cpu", "torch": torch, "time": time,
          "progress": lambda **_: None, "stop_requested": lambda: False,
          "DEADLINE": time.perf_counter() + deadline_in_s}
    exec(compile(templates.render("common/torch_fit"), "<torch_fit>", "exec"), ns)  # noqa: S102 - our template
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(4096, 16, generator=g), torch.randint(0, 2, (4096,), generator=g)
    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))

    def batches(epoch, total):  # total: the epochs fit_torch has planned so far (for a schedule)
        for i in range(0, len(y), 32):
            time.sleep(0.002)  # a busy machine: the process waits (wall time passes, CPU time does not)
            yield X[i:i + 32], y[i:i + 32]

    def score(m):
        with torch.no_grad():
            return float((m(X[:256]).argmax(1) == y[:256]).float().mean())

    params = {"lr": 1e-3, "max_epochs": max_epochs, "batch_size": 32}
    t0 = time.perf_counter()
    info = ns["fit_torch"](net, batches, len(y), score, params, time_s, torch.nn.functional.cross_entropy)
    return info, time.perf_counter() - t0


def test_training_stops_at_the_runs_wall_clock_deadline():
    info, wall = _fit(deadline_in_s=2.0)
    assert info["stopped_by_budget"] and info["seconds"] < 5.0 and wall < 15.0, (info, wall)
    assert info["effort_seconds"] < 30.0 and info["samples_seen"] > 0


def test_without_a_near_deadline_the_epochs_run_out_first():
    info, _ = _fit(deadline_in_s=600.0, time_s=600.0, max_epochs=1)
    assert not info["stopped_by_budget"] and info["epochs"] == pytest.approx(1.0)
