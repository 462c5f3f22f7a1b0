"""A real local Ray cluster: a head (no CPUs of its own) and a worker started with `ray start` as separate
processes on 127.0.0.1; a tabular run with cluster=<head address> fits its trials as Ray tasks, and Ray's own
state API shows they ran on the worker node. Real data (banana_quality, 2,000 rows)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from shared_data import dataset

ray = pytest.importorskip("ray")
from ray.util.state import list_nodes, list_tasks

from automl_agent_jupyter import AutoMLAgent

RAY = str(Path(sys.executable).with_name("ray"))


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture
def local_cluster():
    gcs, dash, agent1, agent2, metrics1, metrics2, env1, env2, client, grpc1, grpc2 = free_ports(11)
    tmp = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    head_log = Path(tmp) / "head.log"
    with head_log.open("w") as out:
        head = subprocess.Popen([RAY, "start", "--head", f"--port={gcs}", "--num-cpus=0", f"--temp-dir={tmp}",
                                 f"--dashboard-port={dash}", f"--dashboard-agent-listen-port={agent1}",
                                 f"--dashboard-agent-grpc-port={grpc1}", f"--metrics-export-port={metrics1}",
                                 f"--runtime-env-agent-port={env1}", f"--ray-client-server-port={client}", *common],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    worker = None
    try:
        deadline = time.time() + 150
        while "Ray runtime started" not in head_log.read_text():  # the head node is up (ray start says so)
            if head.poll() is not None or time.time() > deadline:  # Ray's own 30 s startup limits, on a busy machine
                pytest.skip(f"the local Ray head did not start (load {os.getloadavg()[0]:.0f} on {os.cpu_count()} "
                            f"CPUs): {(head_log.read_text().strip().splitlines() or [''])[-1][:200]}")
            time.sleep(1)
        log = open(Path(tmp) / "worker.log", "w")  # noqa: SIM115 - the worker writes to it while it runs
        worker = subprocess.Popen([RAY, "start", f"--address=127.0.0.1:{gcs}", "--num-cpus=2", f"--temp-dir={tmp}",
                                   f"--dashboard-agent-listen-port={agent2}", f"--dashboard-agent-grpc-port={grpc2}",
                                   f"--metrics-export-port={metrics2}",
                                   f"--runtime-env-agent-port={env2}", *common],
                                  stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        api = f"http://127.0.0.1:{dash}"
        while True:  # both nodes alive in Ray's own state API
            try:
                nodes = [n for n in list_nodes(address=api) if n.state == "ALIVE"]
            except Exception:
                nodes = []
            if len(nodes) == 2:
                break
            if worker.poll() is not None or time.time() > deadline:
                pytest.skip(f"the local Ray worker did not join (load {os.getloadavg()[0]:.0f} on {os.cpu_count()} "
                            f"CPUs): {(Path(log.name).read_text().strip().splitlines() or [''])[-1][:200]}")
            time.sleep(1)
        yield {"address": f"127.0.0.1:{gcs}", "api": api,
               "worker_node": next(n.node_id for n in nodes if not n.is_head_node)}
    finally:
        if worker is not None:
            log.close()
        if ray.is_initialized():
            ray.shutdown()
        for proc in (worker, head):  # the processes this fixture started, by their process group
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (worker, head):
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def test_a_tabular_run_fits_its_trials_on_the_clusters_worker(local_cluster, tmp_path):
    df = pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(2000, random_state=0)
    path = tmp_path / "bananas.csv"
    df.to_csv(path, index=False)
    run = AutoMLAgent(budget_s=12, n_plans=1, top_k=2, cluster=local_cluster["address"]).run(
        "Classify banana quality as Good or Bad", data=str(path), out=tmp_path / "run")
    assert run.status == "succeeded", run.message
    assert run.metrics["f1"] > 0.8
    tasks = list_tasks(address=local_cluster["api"], filters=[("name", "=", "fit_on_worker")], detail=True)
    assert len(tasks) >= 2 and all(t.node_id == local_cluster["worker_node"] for t in tasks)
    assert {t.state for t in tasks} <= {"FINISHED", "FAILED"} and any(t.state == "FINISHED" for t in tasks)
    source = (run.folder / "pipeline.py").read_text()
    assert f"CLUSTER = '{local_cluster['address']}'" in source and "ray.put(" in source
    assert "on the cluster" in next(a.stdout_tail for a in run.record.attempts if a.stage == "train" and a.ok)
