"""A real local Ray cluster on 127.0.0.1: a head (no CPUs of its own, so that every task runs on a worker)
and N workers, each started with `ray start` as separate processes; stopped (by process group) on exit.

Used by tests/test_ray_cluster.py and benchmarks/race.py. On a busy machine a node misses Ray's own
start-up limits: a worker's raylet gives up when its dashboard agent (a Python process) has not written its
port within about 15 s, and `ray start` when its raylet has not registered within 30 s; neither is a setting
in this Ray (RAY_agent_register_timeout_ms and RAY_raylet_start_wait_time_s were tried and do not move them).
The dashboard that serves the state API gets a longer limit (RAY_DASHBOARD_STARTUP_TIMEOUT_S). A node that
gave up is started again on fresh ports, up to ``attempts`` times, before the cluster is reported as not
started (ClusterDidNotStart, with Ray's last log line).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RAY = str(Path(sys.executable).with_name("ray"))
# the dashboard (state API) gets 180 s to start, not 60; a node stops at once on SIGTERM (Ray 2.60's `ray start`
# first drains the node for up to 30 s, which here only delayed each stop past _stop's 20 s wait and a SIGKILL)
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DASHBOARD_STARTUP_TIMEOUT_S": "180",
       "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


class ClusterDidNotStart(RuntimeError):
    """The local cluster did not come up within the attempts (the message ends with Ray's last log line)."""


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1][:200] if lines else ""


def _stop(proc: subprocess.Popen | None) -> None:
    """Stop a node this module started, by its process group (ray start --block and the processes it ran)."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def local_cluster(workers: int = 1, cpus_per_worker: int = 2, attempts: int = 3, wait_s: float = 150,
                  dashboard: bool = True) -> Iterator[dict[str, Any]]:
    """Yields {"address": head's HOST:PORT, "api": the dashboard URL (Ray's state API), "worker_nodes": ids}.
    ``dashboard=False``: no dashboard (nor state API; "api" and "worker_nodes" are None), a lighter start."""
    from ray.util.state import list_nodes

    tmp = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))  # Ray's socket paths must stay short
    env = {**os.environ, **ENV}
    common = ["--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats", f"--temp-dir={tmp}"]
    procs: list[subprocess.Popen] = []

    def start(args: list[str], name: str) -> tuple[subprocess.Popen, Path]:
        log = tmp / f"{name}.log"
        with log.open("w") as out:
            proc = subprocess.Popen([RAY, "start", *args, *common], stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        procs.append(proc)
        return proc, log

    def alive(api: str) -> list[Any]:
        try:
            return [n for n in list_nodes(address=api) if n.state == "ALIVE"]
        except Exception:
            return []

    try:
        head = None
        for attempt in range(attempts):  # the head: up when `ray start` says so
            gcs, dash, agent, grpc, metrics, renv, client = free_ports(7)
            head, log = start(["--head", f"--port={gcs}", "--num-cpus=0", f"--dashboard-port={dash}",
                               f"--include-dashboard={str(dashboard).lower()}",
                               f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={grpc}",
                               f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={renv}",
                               f"--ray-client-server-port={client}"], f"head{attempt}")
            deadline = time.time() + wait_s
            while "Ray runtime started" not in log.read_text(errors="replace") and head.poll() is None \
                    and time.time() < deadline:
                time.sleep(1)
            if "Ray runtime started" in log.read_text(errors="replace"):
                break
            _stop(head)
            head = None
        if head is None:
            raise ClusterDidNotStart(f"the Ray head did not start in {attempts} attempts (load "
                                     f"{os.getloadavg()[0]:.0f} on {os.cpu_count()} CPUs): {_last_line(log)}")
        api = f"http://127.0.0.1:{dash}"
        for w in range(workers):  # each worker: up when Ray's state API lists it alive
            for attempt in range(attempts):
                agent, grpc, metrics, renv = free_ports(4)
                worker, log = start([f"--address=127.0.0.1:{gcs}", f"--num-cpus={cpus_per_worker}",
                                     f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={grpc}",
                                     f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={renv}"],
                                    f"worker{w}-{attempt}")
                deadline = time.time() + wait_s

                def up(log: Path = log, nodes: int = 2 + w) -> bool:  # `ray start` says so; with a dashboard,
                    return "Ray runtime started" in log.read_text(errors="replace") and (  # the state API too
                        not dashboard or len(alive(api)) >= nodes)
                while not up() and worker.poll() is None and time.time() < deadline:
                    time.sleep(1)
                if up():
                    break
                _stop(worker)
            else:
                raise ClusterDidNotStart(f"Ray worker {w + 1} did not join in {attempts} attempts (load "
                                         f"{os.getloadavg()[0]:.0f} on {os.cpu_count()} CPUs): {_last_line(log)}")
        yield {"address": f"127.0.0.1:{gcs}", "api": api if dashboard else None,
               "worker_nodes": [n.node_id for n in alive(api) if not n.is_head_node] if dashboard else None}
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for proc in reversed(procs):
            _stop(proc)
