"""The LLM brain: any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, LM Studio...).

Each role's prompt is package data (``brains/prompts/<role>.md``, Jinja2). The answer is asked for as
JSON matching the response model's schema (``json_schema`` response format, else ``json_object``, else
plain text, whichever the server accepts, remembered per model), extracted from the reply, validated,
and repaired once with the validation error. When the answer is still unusable, or the server stays
unreachable after retries, the injected offline brain decides instead and a note says why; once the
server refused connections, the rest of the run goes to the offline brain at once. A bad key (401) or an
unknown model (404) is a one-line :class:`~automl_agent_jupyter.errors.BrainError`.
Every message passes through :func:`secrets.redact`, so the API key never appears in notes or errors.

Contexts are sent compactly (:func:`compact`): empty fields dropped, long lists, mappings and strings
cut with a marker; data frames and other non-JSON objects are never sent, only a placeholder.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
from importlib import resources
from typing import Any

import jinja2
from pydantic import BaseModel, ValidationError

from ..errors import BrainError
from ..schema import Request
from . import secrets
from .base import Brain, Context, T, context_of

# USD per 1M (prompt, completion) tokens; longest matching prefix wins ("gpt-4o-mini-2024-07-18").
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}
FORMATS = ("json_schema", "json_object", "text")  # response formats, most to least structured
_PROMPT_HEADER = re.compile(r"^\s*<!--\s*prompt:\s*(?P<name>\S+)\s+(?P<version>\S+)\s*-->\s*\n?")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)
_FORMAT_WORDS = ("response_format", "response format", "json_schema", "json_object", "structured output")
_RETRY_STATUS = {408, 409, 425, 429}
MAX_LIST, MAX_KEYS, MAX_STR = 30, 60, 12_000  # prompt context limits (code cells stay whole below MAX_STR)


class _Unavailable(Exception):
    """No usable reply from the server (retries exhausted, or the request rejected)."""

    def __init__(self, message: str, down: bool = False) -> None:
        super().__init__(message)
        self.down = down  # the server refused connections: do not try it again in this run


# ---------------------------------------------------------------- prompts (package data)
def load_prompt(role: str) -> str:
    """The raw text of ``prompts/<role>.md``."""
    path = resources.files("automl_agent_jupyter.brains.prompts") / f"{role}.md"
    if not path.is_file():
        raise ValueError(f"no prompt for role {role!r} (expected brains/prompts/{role}.md)")
    return path.read_text(encoding="utf-8")


def prompt_version(role: str) -> str:
    """``"plan v1"`` from the first line ``<!-- prompt: plan v1 -->``; ``"unversioned"`` without it."""
    match = _PROMPT_HEADER.match(load_prompt(role))
    return f"{match['name']} {match['version']}" if match else "unversioned"


_jinja = jinja2.Environment(
    loader=jinja2.FunctionLoader(lambda name: _PROMPT_HEADER.sub("", load_prompt(name), count=1)),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


def render_prompt(name: str, /, **variables: Any) -> str:
    """``prompts/<name>.md`` rendered with ``variables``, without its version comment."""
    return _jinja.get_template(name).render(**variables).strip()


def to_jsonable(value: Any) -> Any:
    """Context as plain JSON data: pydantic models dumped, containers walked, numbers and paths kept.

    Anything else (a data frame, an array, a model object) becomes a placeholder naming its type: the
    data itself is never sent to a language model, only the profiles the agents made of it.
    """
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json", exclude_none=True))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if type(value).__name__ in ("bool_",):
        return bool(value)
    if hasattr(value, "__fspath__"):
        return str(value)
    return f"<{type(value).__name__} not sent>"


def compact(value: Any, max_list: int = MAX_LIST, max_keys: int = MAX_KEYS, max_str: int = MAX_STR) -> Any:
    """JSON data made small for a prompt: empty fields dropped, floats to 6 significant digits, lists,
    mappings and strings longer than the limits cut, with a marker saying how much was left out."""
    if isinstance(value, dict):
        items = [(k, compact(v, max_list, max_keys, max_str)) for k, v in value.items()]
        items = [(k, v) for k, v in items if not (v is None or v == "" or v == [] or v == {})]
        if len(items) > max_keys:
            items = items[:max_keys] + [("...", f"{len(items) - max_keys} more keys left out")]
        return dict(items)
    if isinstance(value, list):
        out = [compact(v, max_list, max_keys, max_str) for v in value[:max_list]]
        if len(value) > max_list:
            out.append(f"... {len(value) - max_list} more items left out")
        return out
    if isinstance(value, str) and len(value) > max_str:
        return value[:max_str] + f"... [{len(value) - max_str} more characters left out]"
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.6g}")
    return value


# ---------------------------------------------------------------- answers
def extract_json(text: str) -> Any:
    """The JSON value in ``text``: the whole text, a ```json fence, or the first object in prose."""
    text = (text or "").strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for match in _FENCE.finditer(text):
        try:
            return json.loads(match.group(1))
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char == "{":
            try:
                return decoder.raw_decode(text, start)[0]
            except ValueError:
                continue
    raise ValueError("no JSON object in the answer")


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:3]]
        more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        return "; ".join(parts) + more
    return str(exc)


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(secrets.redact(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class OpenAIBrain(Brain):
    """Decisions from an OpenAI-compatible server, with the offline brain as the safety net.

    ``role_models`` routes roles to other models (e.g. a small one for ``parse_requirements``);
    ``retry_base_delay`` doubles per retry on 429 / 5xx / connection errors / timeouts.
    ``usage[role].calls`` counts answered requests; tokens and cost come from the servers' ``usage``.
    """

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        role_models: dict[str, str] | None = None,
        fallback: Brain | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        retry_base_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        prices: dict[str, tuple[float, float]] | None = None,
        temperature: float | None = None,
        dotenv_path: str | None = ".env",
    ) -> None:
        super().__init__()
        try:
            import openai
        except ImportError:
            raise BrainError("the LLM brain needs the openai package: pip install 'openai>=1.30'") from None
        self._openai = openai
        key = api_key or secrets.load_api_key(dotenv_path=dotenv_path)
        secrets.register_secret(key)
        base_url = base_url or secrets.load_base_url(dotenv_path=dotenv_path)
        if not key:
            if base_url is None:
                raise BrainError(
                    "no API key: set OPENAI_API_KEY (environment or .env), "
                    "or give base_url for a local server that needs none"
                )
            key = "no-key"  # local servers (Ollama, vLLM) accept any key
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = secrets.redact(str(self._client.base_url)).rstrip("/")
        self.role_models = dict(role_models or {})
        self.fallback = fallback
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.max_retry_delay = max_retry_delay
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)
        self.temperature = temperature
        self.formats: dict[str, str] = {}  # model -> the most structured response format the server took
        self.prompt_versions: dict[str, str] = {}  # role -> "plan v1", for the run record
        self.down: str | None = None  # why the server is not asked again in this run (connections refused)

    def __repr__(self) -> str:
        return f"OpenAIBrain(model={self.model!r}, base_url={self.base_url!r})"

    def describe(self) -> dict[str, Any]:
        """Safe to show and to save: no key."""
        return {
            "brain": self.name,
            "model": self.model,
            "base_url": self.base_url,
            "role_models": dict(self.role_models),
            "formats": dict(self.formats),
            "prompts": dict(self.prompt_versions),
            "fallback": getattr(self.fallback, "name", None),
        }

    # ------------------------------------------------------------ the interface
    def decide(self, role: str, context: Context, response_model: type[T]) -> T:
        model = self.role_models.get(role, self.model)
        usage = self.usage_for(role)
        if self.down:
            return self._fall_back(role, context, response_model, f"LLM unreachable earlier in this run ({self.down})")
        messages = self.messages(role, context, response_model)
        started = time.perf_counter()
        try:
            text = self._complete(role, model, messages, response_model)
            try:
                return self._parse(text, response_model, role, context)
            except (ValueError, ValidationError) as exc:
                error = _why(exc)
            schema_json = json.dumps(response_model.model_json_schema(), ensure_ascii=False)
            messages = messages + [
                {"role": "assistant", "content": text},
                {
                    "role": "user",
                    "content": render_prompt(
                        "_repair", error=secrets.redact(error)[:2000], schema_json=schema_json, role=role
                    ),
                },
            ]
            text = self._complete(role, model, messages, response_model)
            try:
                return self._parse(text, response_model, role, context)
            except (ValueError, ValidationError) as exc:
                why = f"invalid answer after one repair ({_why(exc)})"
        except _Unavailable as exc:
            why = str(exc)
            if exc.down:
                self.down = _one_line(why, 120)
        finally:
            usage.seconds = round(usage.seconds + time.perf_counter() - started, 4)
        return self._fall_back(role, context, response_model, why)

    def messages(
        self, role: str, context: Context, response_model: type[BaseModel]
    ) -> list[dict[str, str]]:
        """The chat messages for ``role``: the shared system prompt (with what each key of a typed request
        holds) and the role's rendered prompt."""
        data = compact(to_jsonable(context_of(context)))
        variables = {
            "role": role,
            "keys": context.keys() if isinstance(context, Request) else {},
            "context": data,
            "context_json": json.dumps(data, ensure_ascii=False),
            "schema_json": json.dumps(response_model.model_json_schema(), ensure_ascii=False),
        }
        self.prompt_versions[role] = prompt_version(role)
        return [
            {"role": "system", "content": render_prompt("_system", **variables)},
            {"role": "user", "content": render_prompt(role, **variables)},
        ]

    # ------------------------------------------------------------ one request, with retries
    def _complete(
        self, role: str, model: str, messages: list[dict[str, str]], response_model: type[BaseModel]
    ) -> str:
        openai = self._openai
        attempt = 0
        while True:
            fmt = self.formats.get(model, FORMATS[0])
            try:
                response = self._client.chat.completions.create(
                    model=model, messages=messages, **self._options(fmt, response_model)
                )  # type: ignore[arg-type]
            except openai.AuthenticationError:
                raise BrainError(
                    f"LLM server rejected the API key (401) at {self.base_url}: "
                    "check OPENAI_API_KEY (environment or .env)"
                ) from None
            except openai.PermissionDeniedError as exc:
                raise BrainError(
                    f"LLM server refused access (403) at {self.base_url}: {_one_line(_message(exc))}"
                ) from None
            except openai.NotFoundError:
                raise BrainError(self._unknown_model(model)) from None
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                message = _message(exc)
                lowered = message.lower()
                if fmt != FORMATS[-1] and _rejects_format(lowered):
                    self.formats[model] = FORMATS[FORMATS.index(fmt) + 1]
                    self.notes.append(
                        f"{role}: {model} on {self.base_url} does not take response_format "
                        f"{fmt}; using {self.formats[model]} for the rest of the run"
                    )
                    continue
                if "model" in lowered and any(
                    w in lowered for w in ("not found", "does not exist", "unknown")
                ):
                    raise BrainError(self._unknown_model(model)) from None
                raise _Unavailable(
                    f"request rejected (HTTP {exc.status_code}: {_one_line(message)})"
                ) from None
            except (openai.APIConnectionError, openai.APIStatusError) as exc:  # timeouts, 429, 5xx
                status = getattr(exc, "status_code", None)
                what = (
                    f"HTTP {status}: {_one_line(_message(exc), 120)}"
                    if status is not None
                    else "timed out"
                    if isinstance(exc, openai.APITimeoutError)
                    else "connection failed"
                )
                if status is not None and status < 500 and status not in _RETRY_STATUS:
                    raise _Unavailable(f"request rejected ({what})") from None
                if attempt >= self.max_retries:
                    refused = status is None and not isinstance(exc, openai.APITimeoutError)
                    raise _Unavailable(f"LLM unavailable after {attempt + 1} attempts ({what})", refused) from None
                time.sleep(self._delay(attempt, exc))
                attempt += 1
                continue
            except openai.APIError as exc:  # e.g. a reply that is not a chat completion
                raise _Unavailable(f"unusable reply ({_one_line(exc)})") from None
            self._count(role, model, response)
            choices = getattr(response, "choices", None) or []
            return (choices[0].message.content or "") if choices else ""

    def _options(self, fmt: str, response_model: type[BaseModel]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if fmt == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", response_model.__name__)[:64]
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": response_model.model_json_schema(), "strict": False},
            }
        elif fmt == "json_object":
            options["response_format"] = {"type": "json_object"}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        return options

    def _delay(self, attempt: int, exc: Exception) -> float:
        delay = self.retry_base_delay * (2**attempt)
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        try:
            delay = max(delay, float(retry_after)) if retry_after else delay
        except ValueError:
            pass
        return min(delay, self.max_retry_delay)

    def _unknown_model(self, model: str) -> str:
        return secrets.redact(
            f"unknown model '{model}' on {self.base_url} "
            "(HTTP 404: check the model name, and that the base URL ends in /v1)"
        )

    # ------------------------------------------------------------ accounting and fallback
    def _count(self, role: str, model: str, response: Any) -> None:
        usage = self.usage_for(role)
        counts = getattr(response, "usage", None)
        prompt = int(getattr(counts, "prompt_tokens", 0) or 0)
        completion = int(getattr(counts, "completion_tokens", 0) or 0)
        usage.calls += 1
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.tokens += int(getattr(counts, "total_tokens", 0) or 0) or prompt + completion
        usage.cost_usd = round(usage.cost_usd + self.cost(model, prompt, completion), 8)

    def price(self, model: str) -> tuple[float, float] | None:
        """USD per 1M (prompt, completion) tokens for ``model``, by longest prefix; None if unknown."""
        bare = model.rsplit("/", 1)[-1]
        for name in sorted(self.prices, key=len, reverse=True):
            if bare == name or bare.startswith(name + "-") or model == name:
                return self.prices[name]
        return None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.price(model)
        if price is None:
            note = f"no price known for model '{model}': its cost is counted as 0"
            if note not in self.notes:
                self.notes.append(note)
            return 0.0
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000

    def _parse(self, text: str, response_model: type[T], role: str, context: Context) -> T:
        """The validated answer; the context lets a response model check names against the facts."""
        answer = response_model.model_validate(extract_json(text), context=context_of(context))
        self.source[role] = "llm"
        return answer

    def _fall_back(self, role: str, context: Context, response_model: type[T], why: str) -> T:
        why = _one_line(why, 300)
        if self.fallback is None:
            raise BrainError(f"{role}: {why}, and no offline brain to fall back on")
        self.usage_for(role).fallbacks += 1
        self.notes.append(f"{role}: {why}, offline rules used")
        answer = self.fallback.decide(role, context, response_model)
        self.source[role] = "offline"
        return answer


def _rejects_format(lowered: str) -> bool:
    """Whether a 400 message says the server cannot take the response_format we sent."""
    if any(word in lowered for word in _FORMAT_WORDS):
        return True
    return ("unsupported" in lowered or "not supported" in lowered) and (
        "format" in lowered or "schema" in lowered
    )


def _message(exc: Exception) -> str:
    """The server's error message from an SDK error, else the error's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", None) or exc)
