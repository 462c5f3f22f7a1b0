"""Retrieval: the shipped knowledge base, and an online source against a real local server (a fake arXiv)."""
from __future__ import annotations

import http.server
import threading

import pytest

from automl_agent_jupyter.errors import UserInputError
from automl_agent_jupyter.knowledge.retrieval import (
    ArxivSource,
    HuggingFaceHubSource,
    LocalKnowledge,
    retrieve,
    sources_from,
)
from automl_agent_jupyter.schema import PerformanceMetric, Requirements

ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry><id>http://arxiv.org/abs/2410.02958v1</id>
    <title>AutoML-Agent: A Multi-Agent LLM Framework for Full-Pipeline AutoML</title>
    <summary>Automated machine learning ... tabular classification ...</summary></entry>
</feed>"""


def _req(task: str, text: str) -> Requirements:
    r = Requirements()
    r.problem.downstream_task = task
    r.problem.description = text
    r.problem.performance_metrics = [PerformanceMetric(name="f1", value=0.9)]
    return r


def test_local_knowledge_is_relevant_to_the_task():
    items, notes = retrieve(_req("tabular_classification", "binary F1 with imbalanced classes"))
    ids = [i.id for i in items]
    assert "insight:threshold_f1" in ids and not notes
    assert all(i.source for i in items)
    clustering, _ = retrieve(_req("tabular_clustering", "group patients"))
    assert any(i.id == "model:kmeans" for i in clustering)
    assert not any(i.id == "model:lightgbm" for i in clustering)


class _FakeArxiv(http.server.BaseHTTPRequestHandler):
    queries: list[str] = []

    def do_GET(self):  # noqa: N802
        _FakeArxiv.queries.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.end_headers()
        self.wfile.write(ATOM)

    def log_message(self, *args):
        pass


def test_arxiv_source_over_real_http():
    server = http.server.HTTPServer(("127.0.0.1", 0), _FakeArxiv)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = ArxivSource(base_url=f"http://127.0.0.1:{server.server_port}/api/query")
        items, notes = retrieve(_req("tabular_classification", "banana quality"), [LocalKnowledge(), src])
        assert not notes
        paper = next(i for i in items if i.id.startswith("arxiv:"))
        assert paper.title.startswith("AutoML-Agent") and paper.source.endswith("2410.02958v1")
        assert "search_query=" in _FakeArxiv.queries[0]
    finally:
        server.shutdown()


def test_unreachable_source_is_a_note_not_a_crash(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    closed = ArxivSource(base_url="http://127.0.0.1:9/api/query", timeout=2)
    items, notes = retrieve(_req("tabular_regression", "crab age"), [LocalKnowledge(), closed, HuggingFaceHubSource()])
    assert items and len(notes) == 2
    assert all("unavailable" in n for n in notes)


def test_sources_from_names():
    assert [s.name for s in sources_from("local,arxiv")] == ["local", "arxiv"]
    with pytest.raises(UserInputError, match="unknown knowledge source 'web'"):
        sources_from("local,web")
