"""Serve a run folder's serve.py with a real uvicorn on 127.0.0.1, for tests: ``with serving(...) as server``."""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy


class Server:
    def __init__(self, base: str) -> None:
        self.base = base
        self.health: dict[str, Any] = {}

    def request(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def predict(self, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        return self.request("/predict", body, raw)

    def rejects(self, body: Any = None, raw: bytes | None = None) -> str:
        """The one-line message of a 4xx answer to a bad request."""
        status, answer = self.predict(body, raw)
        assert 400 <= status < 500, (status, answer)
        detail = answer["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail and len(detail) <= 300, detail
        assert "Traceback" not in detail
        return detail


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app: str, app_dir: Path, cwd: Path) -> Iterator[Server]:
    """`python -m uvicorn APP --app-dir APP_DIR` on a free port, until /health answers; always terminated."""
    port = _free_port()
    log = cwd / f"uvicorn-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir), "--host",
                                 "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        server = Server(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"uvicorn {app} exited with {proc.returncode}: {log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                status, server.health = server.request("/health")
                if status == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn {app} did not answer /health in 120 s: {log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
