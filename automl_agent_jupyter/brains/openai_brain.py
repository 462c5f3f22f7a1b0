"""The LLM brain: any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, LM Studio...).

Each role's prompt is package data (``brains/prompts/<role>.md``, Jinja2). The answer is asked for as
JSON matching the response model's schema (``json_schema`` response format, else ``json_object``, else
plain text, whichever the server accepts, remembered per model), extracted from the reply, validated,
and repaired once with the validation error. When the answer is still unusable, or the server stays
unreachable after retries, the injected offline brain decides instead and a note says why; once the
server refused connections, the rest of the run goes to the offline brain at once. A bad key (401) or an
unknown model (404) is a one-line :class:`~automl_agent_jupyter.errors.BrainError`.
Every message passes through :func:`secrets.redact`, so the API key never appears in notes or errors.

Tokens are the server's own ``usage``; a reply without it is counted with the model's tokenizer
(``tokenizer``: a .gguf file or a Hugging Face tokenizer; see :mod:`.tokens`), else estimated, and the
record says which. A run stays within ``max_calls`` requests and ``max_run_tokens`` tokens: a question
that would go over is answered by the offline rules, and a repair round is asked for only while it
leaves a request for each usual role not yet asked. Every question is logged in ``decisions``: the
LLM's answer used, or rejected with the reason and the offline rules' answer used instead.

Contexts are sent compactly (:func:`compact`): empty fields dropped, long lists, mappings and strings
cut with a marker; data frames and other non-JSON objects are never sent, only a placeholder.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import jinja2
from pydantic import BaseModel, ValidationError

from ..errors import BrainError
from ..schema import Decision, LLMUsage, Request
from . import secrets
from .base import Brain, Context, T, context_of, usage_total
from .tokens import Messages, TokenCounter, load_counter

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
# Response formats, most to least structured: OpenAI's json_schema; llama.cpp's json_object with a schema
# (llama-cpp-python answers json_schema with an HTTP 500 naming response_format); json_object; plain text.
FORMATS = ("json_schema", "json_object_schema", "json_object", "text")
ENFORCED = ("json_schema", "json_object_schema")  # the server holds the answer to the schema: not in the prompt
_PROMPT_HEADER = re.compile(r"^\s*<!--\s*prompt:\s*(?P<name>\S+)\s+(?P<version>\S+)\s*-->\s*\n?")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)
_FORMAT_WORDS = ("response_format", "response format", "json_schema", "json_object", "structured output")
_RETRY_STATUS = {408, 409, 425, 429}
MAX_LIST, MAX_KEYS, MAX_STR = 30, 60, 12_000  # prompt context limits (code cells stay whole below MAX_STR)
# The roles a full run asks once each (debug and revise only on failures): a repair round is asked for
# only while it leaves one request for each of these not yet asked in the run.
USUAL_ROLES = ("verify_request", "parse_requirements", "summarise_knowledge", "plan", "data_analysis",
               "rank_models", "verify_plans", "write_code", "verify_implementation")
MIN_COMPLETION = 64  # a question is not sent with room for fewer completion tokens than this


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

    llm = True

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
        tokenizer: str | None = None,
        max_calls: int | None = 12,
        max_run_tokens: int | None = 30_000,
        max_completion_tokens: int | None = 4096,
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
        self.tokenizer = tokenizer
        self._counter: TokenCounter | None = None
        self.max_calls = max_calls
        self.max_run_tokens = max_run_tokens
        self.max_completion_tokens = max_completion_tokens
        self.token_params: dict[str, str] = {}  # model -> "max_completion_tokens" where max_tokens is refused
        self._run0: dict[str, LLMUsage] = {}  # usage when the run began
        self._asked: set[str] = set()  # roles asked in this run

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
            "tokens_counted_by": "server usage" + (
                f"; {self.counter.name} where a reply had none" if self._counter is not None else ""),
            "budget": {"calls": self.max_calls, "tokens": self.max_run_tokens,
                       "completion_tokens_per_call": self.max_completion_tokens},
        }

    def begin_run(self) -> None:
        self._run0 = {role: u.model_copy() for role, u in self.usage.items()}
        self._asked = set()
        self.down = None

    def not_asked(self, role: str, why: str) -> None:
        super().not_asked(role, why)
        self._asked.add(role)  # no request is kept in the budget for it

    @property
    def counter(self) -> TokenCounter:
        """The token counter (loaded on first use): the model's tokenizer if configured, else an estimate."""
        if self._counter is None:
            self._counter, why = load_counter(self.tokenizer)
            if why:
                self.notes.append(_one_line(why, 300))
        return self._counter

    def run_usage(self) -> LLMUsage:
        """This run's use so far, all roles together."""
        return usage_total(self.usage_since(self._run0).values())

    # ------------------------------------------------------------ the interface
    def decide(self, role: str, context: Context, response_model: type[T]) -> T:
        model = self.role_models.get(role, self.model)
        usage = self.usage_for(role)
        before = usage.model_copy()
        reserve = len([r for r in USUAL_ROLES if r not in self._asked and r != role])
        self._asked.add(role)

        def fall_back(why: str, answer: str) -> T:
            return self._fall_back(role, context, response_model, why, answer, before)

        if self.down:
            return fall_back(f"LLM unreachable earlier in this run ({self.down})", "not_asked")
        def render(fmt: str) -> Messages:  # the schema goes in the prompt only where the server does not hold to it
            return self.messages(role, context, response_model, with_schema=fmt not in ENFORCED)

        max_tokens, over = self._room(render(self._format(model)), reserve=0)
        if over:
            return fall_back(over, "not_asked")
        started = time.perf_counter()
        try:
            text = self._complete(role, model, render, response_model, max_tokens)
            try:
                return self._parse(text, response_model, role, context, before)
            except (ValueError, ValidationError) as exc:
                error = _why(exc)
            first = text

            def repair(fmt: str) -> Messages:
                schema_json = "" if fmt in ENFORCED else json.dumps(response_model.model_json_schema(),
                                                                     ensure_ascii=False)
                return render(fmt) + [
                    {"role": "assistant", "content": first},
                    {"role": "user", "content": render_prompt(
                        "_repair", error=secrets.redact(error)[:2000], schema_json=schema_json, role=role)},
                ]

            max_tokens, over = self._room(repair(self._format(model)), reserve=reserve)
            if over:
                return fall_back(f"invalid answer ({error}); no repair round: {over}", "rejected")
            text = self._complete(role, model, repair, response_model, max_tokens)
            try:
                return self._parse(text, response_model, role, context, before)
            except (ValueError, ValidationError) as exc:
                why, answer = f"invalid answer after one repair ({_why(exc)})", "rejected"
        except _Unavailable as exc:
            why, answer = str(exc), "no_answer"
            if exc.down:
                self.down = _one_line(why, 120)
        finally:
            usage.seconds = round(usage.seconds + time.perf_counter() - started, 4)
        return fall_back(why, answer)

    def _room(self, messages: Messages, reserve: int) -> tuple[int | None, str]:
        """(max completion tokens for the next request, "") or (None, why it is not sent): the run's
        budget, less ``reserve`` requests kept for the usual roles not yet asked."""
        spent = self.run_usage()
        if self.max_calls is not None and spent.calls + 1 + reserve > self.max_calls:
            kept = f", {reserve} kept for the roles not yet asked" if reserve else ""
            return None, f"the run's LLM budget of {self.max_calls} requests is spent ({spent.calls} made{kept})"
        room = self.max_completion_tokens
        if self.max_run_tokens is not None:
            prompt = self.counter.prompt_tokens(messages)
            left = self.max_run_tokens - spent.tokens - prompt
            if left < MIN_COMPLETION:
                return None, (f"the run's LLM budget of {self.max_run_tokens} tokens is too small for this "
                              f"prompt ({spent.tokens} spent, the prompt is {prompt})")
            room = left if room is None else min(room, left)
        return room, ""

    def _format(self, model: str) -> str:
        return self.formats.get(model, FORMATS[0])

    def messages(
        self, role: str, context: Context, response_model: type[BaseModel], with_schema: bool = True
    ) -> list[dict[str, str]]:
        """The chat messages for ``role``: the shared system prompt (with what each key of a typed request
        holds) and the role's rendered prompt; its JSON Schema only ``with_schema`` (a server that takes
        the schema in ``response_format`` holds the answer to it: the prompt need not repeat it)."""
        data = compact(to_jsonable(context_of(context)))
        variables = {
            "role": role,
            "keys": context.keys() if isinstance(context, Request) else {},
            "context": data,
            "context_json": json.dumps(data, ensure_ascii=False),
            "schema_json": json.dumps(response_model.model_json_schema(), ensure_ascii=False) if with_schema else "",
        }
        self.prompt_versions[role] = prompt_version(role)
        return [
            {"role": "system", "content": render_prompt("_system", **variables)},
            {"role": "user", "content": render_prompt(role, **variables)},
        ]

    # ------------------------------------------------------------ one request, with retries
    def _complete(
        self, role: str, model: str, render: Callable[[str], Messages], response_model: type[BaseModel],
        max_tokens: int | None = None,
    ) -> str:
        """One answer's text; ``render(fmt)`` gives the messages for the response format in use."""
        openai = self._openai
        attempt = 0
        while True:
            fmt = self._format(model)
            messages = render(fmt)
            try:
                options = self._options(fmt, response_model)
                if max_tokens is not None:
                    options[self.token_params.get(model, "max_tokens")] = max_tokens
                response = self._client.chat.completions.create(
                    model=model, messages=messages, **options
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
                if "max_tokens" in lowered and "max_completion_tokens" in lowered and model not in self.token_params:
                    self.token_params[model] = "max_completion_tokens"  # newer OpenAI models
                    continue
                if self._step_down(role, model, fmt, lowered):
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
                if status is not None and self._step_down(role, model, fmt, _message(exc).lower()):
                    continue  # llama-cpp-python answers a response_format it cannot take with a 500
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
            choices = getattr(response, "choices", None) or []
            text = (choices[0].message.content or "") if choices else ""
            self._count(role, model, response, messages, text)
            return text

    def _step_down(self, role: str, model: str, fmt: str, lowered: str) -> bool:
        """Whether the error says the server cannot take ``fmt``: then the next format is used from now on."""
        if fmt == FORMATS[-1] or not _rejects_format(lowered):
            return False
        self.formats[model] = FORMATS[FORMATS.index(fmt) + 1]
        self.notes.append(f"{role}: {model} on {self.base_url} does not take response_format {fmt}; "
                          f"using {self.formats[model]} for the rest of the run")
        return True

    def _options(self, fmt: str, response_model: type[BaseModel]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if fmt == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", response_model.__name__)[:64]
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": response_model.model_json_schema(), "strict": False},
            }
        elif fmt == "json_object_schema":  # llama.cpp's server: the schema becomes a grammar
            options["response_format"] = {"type": "json_object", "schema": response_model.model_json_schema()}
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
    def _count(self, role: str, model: str, response: Any, messages: Messages, text: str) -> None:
        """One answered request: the server's usage, else the tokenizer's count of what was sent and said."""
        usage = self.usage_for(role)
        counts = getattr(response, "usage", None)
        prompt = int(getattr(counts, "prompt_tokens", 0) or 0)
        completion = int(getattr(counts, "completion_tokens", 0) or 0)
        if not (prompt or completion):
            prompt, completion = self.counter.prompt_tokens(messages), self.counter.text_tokens(text)
            counts = None
            usage.tokenizer_calls += 1
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

    def _parse(self, text: str, response_model: type[T], role: str, context: Context,
               before: LLMUsage) -> T:
        """The validated answer; the context lets a response model check names against the facts."""
        answer = response_model.model_validate(extract_json(text), context=context_of(context))
        self.source[role] = "llm"
        self.usage_for(role).used += 1
        self._decided(role, "llm", "used", "", before)
        return answer

    def _fall_back(self, role: str, context: Context, response_model: type[T], why: str,
                   answer_kind: str = "no_answer", before: LLMUsage | None = None) -> T:
        why = _one_line(why, 300)
        if self.fallback is None:
            raise BrainError(f"{role}: {why}, and no offline brain to fall back on")
        self.usage_for(role).fallbacks += 1
        self.notes.append(f"{role}: {why}, offline rules used")
        self._decided(role, "offline", answer_kind, why, before)
        answer = self.fallback.decide(role, context, response_model)
        self.source[role] = "offline"
        return answer

    def _decided(self, role: str, by: str, answer: str, why: str, before: LLMUsage | None) -> None:
        now, before = self.usage_for(role), before or LLMUsage()
        self.decisions.append(Decision(role=role, decided_by=by, llm_answer=answer, reason=why,  # type: ignore[arg-type]
                                       calls=now.calls - before.calls, tokens=now.tokens - before.tokens))


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
