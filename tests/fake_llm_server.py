"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests (no real LLM involved).

The server is real HTTP (``http.server`` in a thread), so the official ``openai`` SDK talks to it as it
would to any provider. Each request to ``POST /v1/chat/completions`` is answered by the next entry of a
*script*: a list of :class:`Reply` (or plain values, see :func:`as_reply`) consumed in order, or a
callable ``(RecordedRequest) -> Reply``. Every request is recorded, headers and body, so tests can
check what the client sent.

    with FakeLLMServer([reply_json({"a": 1}), status(429), reply_text("not json")]) as server:
        client = OpenAI(base_url=server.base_url, api_key="k")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self


@dataclass
class Reply:
    """One scripted answer: a chat completion (``content``) or an error (``status`` != 200)."""

    content: str | None = None
    status: int = 200
    error: str = ""  # the error message for status != 200
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None  # default: counted from the text lengths
    no_usage: bool = False  # leave ``usage`` out of the reply, as some proxies and older servers do
    stream: bool = False  # answer as server-sent events (only when the client asked to stream)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    raw: str
    body: Any

    @property
    def response_format(self) -> Any:
        return self.body.get("response_format") if isinstance(self.body, dict) else None


def reply_json(value: Any, **kw: Any) -> Reply:
    return Reply(content=json.dumps(value), **kw)


def reply_text(text: str, **kw: Any) -> Reply:
    return Reply(content=text, **kw)


def status(code: int, error: str = "", **kw: Any) -> Reply:
    return Reply(status=code, error=error or _DEFAULT_ERRORS.get(code, f"error {code}"), **kw)


def delayed(seconds: float, then: Reply | None = None) -> Reply:
    base = then or reply_text("{}")
    return Reply(**{**base.__dict__, "delay": seconds})


def reject_response_format(kind: str = "json_schema") -> Reply:
    return status(
        400, f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model."
    )


_DEFAULT_ERRORS = {
    400: "Bad request.",
    401: "Incorrect API key provided.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    503: "The engine is currently overloaded.",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
    500: "server_error",
    503: "server_error",
}

Script = list | Callable[[RecordedRequest], Any]


def as_reply(item: Any) -> Reply:
    """A Reply from a script entry: a Reply, an int (status), a str (content) or other JSON (dumped)."""
    if isinstance(item, Reply):
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        return status(item)
    if isinstance(item, str):
        return reply_text(item)
    return reply_json(item)


class FakeLLMServer:
    """An OpenAI-compatible fake on ``127.0.0.1:<free port>``; use as a context manager."""

    def __init__(self, script: Script, model_names: tuple[str, ...] = ("fake-model",)) -> None:
        self.script = script
        self.model_names = model_names
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._position = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="fake-llm", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # wakes handlers still sleeping on a scripted delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # ------------------------------------------------------------------ scripting
    def next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if callable(self.script):
                return as_reply(self.script(request))
            if self._position >= len(self.script):
                return status(500, f"fake server: script exhausted after {len(self.script)} replies")
            item = self.script[self._position]
            self._position += 1
            return as_reply(item)

    def wait(self, seconds: float) -> None:
        self._stop.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        return RecordedRequest(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body
        )

    def _send(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        request = self._record()
        with self.fake._lock:
            self.fake.requests.append(request)
        if self.path.rstrip("/").endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.model_names
            ]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        request = self._record()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            with self.fake._lock:
                self.fake.requests.append(request)
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        reply = self.fake.next_reply(request)
        if reply.delay:
            self.fake.wait(reply.delay)
        try:
            if reply.status != 200:
                error = {
                    "message": reply.error,
                    "type": _ERROR_TYPES.get(reply.status, "error"),
                    "param": None,
                    "code": None,
                }
                self._send(reply.status, {"error": error}, reply.headers)
            elif reply.stream and isinstance(request.body, dict) and request.body.get("stream"):
                self._stream(request, reply)
            else:
                self._send(200, _completion(request, reply), reply.headers)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to do
            pass

    def _stream(self, request: RecordedRequest, reply: Reply) -> None:
        completion = _completion(request, reply)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        text = reply.content or ""
        pieces = [text[i : i + 16] for i in range(0, len(text), 16)] or [""]
        for piece in pieces:
            chunk = {
                "id": completion["id"],
                "object": "chat.completion.chunk",
                "created": completion["created"],
                "model": completion["model"],
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        final = {
            "id": completion["id"],
            "object": "chat.completion.chunk",
            "created": completion["created"],
            "model": completion["model"],
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": completion["usage"],
        }
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        self.close_connection = True


def _completion(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    body = request.body if isinstance(request.body, dict) else {}
    prompt_chars = sum(
        len(str(m.get("content") or "")) for m in body.get("messages", []) if isinstance(m, dict)
    )
    content = reply.content or ""
    usage = reply.usage or {
        "prompt_tokens": max(1, prompt_chars // 4),
        "completion_tokens": max(1, len(content) // 4),
    }
    usage = {
        **usage,
        "total_tokens": usage.get("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"]),
    }
    completion = {
        "id": f"chatcmpl-fake{len(request.raw)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage,
    }
    if reply.no_usage:
        del completion["usage"]
    return completion
