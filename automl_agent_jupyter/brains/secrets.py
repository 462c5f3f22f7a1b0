"""The API key: where it comes from, and how it is kept out of every message.

Secrets come only from the environment or a ``.env`` file in the working directory (the environment
wins). Every string a brain shows to the user, puts in a note or raises passes through :func:`redact`,
which scrubs each secret value this process has loaded, secret-looking environment variables, and
strings shaped like API keys or bearer tokens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

KEY_VAR = "OPENAI_API_KEY"
BASE_URL_VAR = "OPENAI_BASE_URL"
MASK = "***"

_known: set[str] = set()
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD", re.IGNORECASE)
_SECRET_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"),  # OpenAI-style keys (sk-..., sk-proj-...)
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-.=:+/]{8,}"),
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so :func:`redact` scrubs it wherever it appears."""
    if value and len(value) >= 4:
        _known.add(value)


def read_dotenv(path: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, optional ``export``, quotes and ``#`` comments."""
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in p.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        name = name.strip()
        if name.startswith("export "):
            name = name[len("export ") :].strip()
        value = value.strip()
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if name:
            values[name] = value
    return values


def _lookup(
    name: str, env: Mapping[str, str] | None, dotenv_path: str | os.PathLike[str] | None
) -> str | None:
    env = os.environ if env is None else env
    value = env.get(name) or read_dotenv(dotenv_path).get(name)
    return value or None


def load_api_key(
    env: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> str | None:
    """``OPENAI_API_KEY`` from ``env`` (default ``os.environ``), else from ``dotenv_path``; registered."""
    key = _lookup(KEY_VAR, env, dotenv_path)
    register_secret(key)
    return key


def load_base_url(
    env: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> str | None:
    """``OPENAI_BASE_URL`` from ``env``, else from ``dotenv_path``; None means the SDK default."""
    return _lookup(BASE_URL_VAR, env, dotenv_path)


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{MASK}@{host}", parts.path, parts.query, parts.fragment))


def redact(text: object) -> str:
    """``text`` as a string with every known or secret-looking value replaced by ``***``."""
    out = str(text)
    secrets = set(_known)
    for name, value in os.environ.items():
        if value and len(value) >= 8 and _SECRET_NAME.search(name):
            secrets.add(value)
    for secret in sorted(secrets, key=len, reverse=True):  # longest first: no partial leftovers
        out = out.replace(secret, MASK)
    out = _SECRET_SHAPES[0].sub(MASK, out)
    out = _SECRET_SHAPES[1].sub(lambda m: m.group(1) + MASK, out)
    out = re.sub(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/@]+@[^\s]+", lambda m: _strip_userinfo(m.group(0)), out)
    return out


def describe(
    env: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> dict[str, str]:
    """What is configured, safe to show: whether the key is set, and the base URL (credentials masked)."""
    key = load_api_key(env, dotenv_path)
    base = load_base_url(env, dotenv_path)
    return {
        KEY_VAR: "set" if key else "not set",
        BASE_URL_VAR: redact(_strip_userinfo(base)) if base else "default",
    }
