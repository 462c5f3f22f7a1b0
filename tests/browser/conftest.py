"""Real JupyterLab + headless Debian Chromium, driven by Playwright (sync API).

Fixtures
  lab_server  a fresh `jupyter lab` on 127.0.0.1 (free port, token '', per-test config/runtime/
              IPython/workspace dirs). The prebuilt extension is made visible through JUPYTER_PATH
              (a symlink to the repo's automl_agent_jupyter/labextension), so the test always sees
              the current build, never a stale copy from an editable install. The kernel imports
              this working tree through PYTHONPATH.
  lab         a LabPage helper on a fresh browser context; screenshots and the browser console
              go to test-artifacts/<test name>.{png,console.txt} at teardown.

Pitfalls handled (see /work/shared/ENVIRONMENT.md): never `playwright install` (we launch
/usr/bin/chromium); wait for the status bar's "| Idle" before the first run; after each run wait
for that cell's prompt to show [n]; type with keyboard.insert_text (no auto-indent); notebooks are
created through the contents API with a name and a kernelspec (no rename/kernel dialogs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
BUILT_EXTENSION = REPO / "automl_agent_jupyter" / "labextension"
EXTENSION_NAME = "automl-agent-jupyter"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver (never `playwright install`)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method: str, url: str, body: dict | None = None, timeout: float = 5.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


class LabServer:
    def __init__(self, root: Path, port: int, proc: subprocess.Popen, log: Path):
        self.root, self.port, self.proc, self.log = root, port, proc, log
        self.url = f"http://127.0.0.1:{port}"

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 5.0):
        return _http(method, self.url + path, body, timeout=timeout)

    def create_notebook(self, name: str, sources: list[str]) -> str:
        """Write a named notebook (python3 kernelspec, one code cell per source) and return its path."""
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"seed-{i}",
                    "metadata": {},
                    "outputs": [],
                    "source": src,
                }
                for i, src in enumerate(sources)
            ],
            "metadata": {
                "kernelspec": {
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "name": "python3",
                },
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        self.api("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": nb})
        return name

    def cleanup_kernels(self) -> None:
        for s in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{s['id']}")
        for k in self.api("GET", "/api/kernels") or []:
            self.api("DELETE", f"/api/kernels/{k['id']}")


@pytest.fixture
def lab_server(tmp_path, request):
    if not (BUILT_EXTENSION / "package.json").exists():
        pytest.fail(f"built extension missing at {BUILT_EXTENSION}: see labextension/README.md to rebuild")
    root = tmp_path / "root"
    data = tmp_path / "data"
    (data / "labextensions").mkdir(parents=True)
    with_extension = getattr(request, "param", {}).get("extension", True)
    if with_extension:
        (data / "labextensions" / EXTENSION_NAME).symlink_to(BUILT_EXTENSION, target_is_directory=True)
    root.mkdir()
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
    ):
        (tmp_path / sub).mkdir()
        env[var] = str(tmp_path / sub)
    if not with_extension:  # also hide a copy that `pip install` put in sys.prefix
        (tmp_path / "config" / "labconfig").mkdir()
        (tmp_path / "config" / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {EXTENSION_NAME: True}})
        )
    env["JUPYTER_PATH"] = os.pathsep.join([str(data), env.get("JUPYTER_PATH", "")]).rstrip(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    port = _free_port()
    log = tmp_path / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--allow-root",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(root, port, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.api("GET", "/api/status", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 60 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.25)
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.cleanup_kernels()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this fixture started
                proc.wait(timeout=5)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / f"{request.node.name}.lab.log")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


PROMPT_RE = re.compile(r"^\[(\d+)\]:?$")


class LabPage:
    """Small helpers over one JupyterLab page. Cell indices are 0-based DOM order."""

    def __init__(self, page, server: LabServer):
        self.page, self.server = page, server
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    # -- navigation ---------------------------------------------------------------------------
    def open_notebook(self, name: str, timeout: float = 45_000) -> None:
        self.page.goto(f"{self.server.url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout)
        self.wait_idle(timeout=timeout)

    def new_notebook(self, sources: list[str] | None = None, name: str = "test.ipynb") -> None:
        self.server.create_notebook(name, sources or [""])
        self.open_notebook(name)

    def wait_idle(self, timeout: float = 30_000) -> None:
        """The kernel is really ready: the status bar reads '| Idle' (not Connecting/Starting/Unknown)."""
        self.page.wait_for_function(
            """() => { const s = document.querySelector('#jp-main-statusbar');
                       return !!s && s.innerText.includes('| Idle'); }""",
            timeout=timeout,
        )

    # -- cells --------------------------------------------------------------------------------
    def cells(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")

    def prompt(self, index: int) -> str:
        return self.cells().nth(index).locator(".jp-InputPrompt").inner_text().strip()

    def set_source(self, index: int, code: str) -> None:
        cell = self.cells().nth(index)
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)

    def run_cell(
        self, index: int, code: str | None = None, timeout: float = 30_000, advance: bool = True
    ) -> int:
        """Optionally type `code`, run the cell (Shift+Enter, or Ctrl+Enter with advance=False) and
        wait until its prompt shows [n]; returns n."""
        self.wait_idle(timeout=timeout)
        if code is not None:
            self.set_source(index, code)
        else:
            self.cells().nth(index).locator(".cm-content").click()
        before = self.prompt(index)
        self.page.keyboard.press("Shift+Enter" if advance else "Control+Enter")
        handle = self.page.wait_for_function(
            """([i, before]) => {
                 const c = document.querySelectorAll(
                   '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[i];
                 if (!c) return false;
                 const p = c.querySelector('.jp-InputPrompt').innerText.trim();
                 return /^\\[\\d+\\]:?$/.test(p) && p !== before ? p : false; }""",
            arg=[index, before],
            timeout=timeout,
        )
        return int(PROMPT_RE.match(handle.json_value()).group(1))

    def cell_sources(self) -> list[str]:
        """Sources as the notebook model holds them (independent of editor virtualization)."""
        return [c["source"] for c in self.notebook_json()["cells"]]

    def notebook_json(self) -> dict:
        """The current notebook's model as nbformat JSON (ids, metadata, outputs), read in the page."""
        return self.page.evaluate(
            """() => { const w = window.jupyterapp.shell.currentWidget;
                       const nb = w.content.model.toJSON();
                       nb.cells.forEach(c => { if (Array.isArray(c.source)) c.source = c.source.join(''); });
                       return nb; }"""
        )

    def outputs_text(self, index: int) -> str:
        return self.cells().nth(index).locator(".jp-OutputArea").inner_text()

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def lab(browser, lab_server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    helper = LabPage(page, lab_server)
    try:
        yield helper
    finally:
        name = request.node.name
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            helper.screenshot(name)
        (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(helper.console))
        context.close()
