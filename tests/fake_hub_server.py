"""A fake Hugging Face Hub on 127.0.0.1, for tests (no real hub involved).

Real HTTP (``http.server`` in a thread) serving the few routes ``huggingface_hub.snapshot_download`` uses:
repository info, the file tree, and HEAD/GET of ``/{repo}/resolve/{revision}/{file}`` with the headers the
client reads (X-Repo-Commit, ETag, Content-Length). Repositories are local folders:

    with FakeHub({"org/tiny-resnet": folder}) as hub:
        snapshot_download("org/tiny-resnet", endpoint=hub.url, cache_dir=...)

``hub.requests`` lists the paths asked for, so a test can tell that a download really went through it.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {k: Path(v) for k, v in repos.items()}
        self.requests: list[str] = []
        hub = self

        class Handler(_Handler):
            owner = hub

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeHub

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, obj) -> None:
        self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _not_found(self, head: bool = False) -> None:
        self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound",
                                                                "Content-Type": "application/json"}, head)

    def _files(self, repo: str) -> list[Path]:
        root = self.owner.repos[repo]
        return sorted(p for p in root.rglob("*") if p.is_file())

    def _route(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        self.owner.requests.append(f"{self.command} {path}")
        m = re.fullmatch(r"/api/models/(.+?)/revision/([^/]+)", path)
        if m:
            repo = m.group(1)
            if repo not in self.owner.repos:
                return self._not_found()
            root = self.owner.repos[repo]
            return self._json({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                               "siblings": [{"rfilename": str(p.relative_to(root))} for p in self._files(repo)]})
        m = re.fullmatch(r"/api/models/(.+?)/tree/([^/]+)(/.*)?", path)
        if m:
            repo = m.group(1)
            if repo not in self.owner.repos:
                return self._not_found()
            root = self.owner.repos[repo]
            return self._json([{"type": "file", "path": str(p.relative_to(root)), "size": p.stat().st_size,
                                "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for p in self._files(repo)])
        m = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        if m:
            repo, name = m.group(1), m.group(3)
            f = self.owner.repos.get(repo, Path("/nonexistent")) / name
            if repo not in self.owner.repos or not f.is_file():
                return self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"}, head)
            data = f.read_bytes()
            return self._send(200, data, {"X-Repo-Commit": COMMIT,
                                          "ETag": '"' + hashlib.sha256(data).hexdigest() + '"'}, head)
        self._not_found(head)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._route(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(head=True)
