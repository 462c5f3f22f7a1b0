"""Pretrained checkpoints for the model agent's retrieval step.

A checkpoint is usable when it is a ``save_pretrained`` folder (config + weights) named by an environment
variable, or a Hugging Face hub model already in the local cache. With AUTOML_AGENT_DOWNLOAD_MODELS=1 a hub
model that is not cached is downloaded into the cache at planning time (HF_ENDPOINT and HF_TOKEN are
honoured; offline, the reason is one line in the data report). Either way the generated code loads it with
``local_files_only=True``, so running a plan never depends on the network.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
DOWNLOAD_ENV = "AUTOML_AGENT_DOWNLOAD_MODELS"
# only what loading a model needs: configs, safetensors weights, tokenizer and processor files
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab.*"]
_FAILED: dict[tuple[str, str], tuple[float, str]] = {}  # (repo, endpoint) -> (when, why): not retried for a minute
RETRY_AFTER_S = 60.0


def downloads_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def download_checkpoint(repo_id: str) -> tuple[str | None, str]:
    """(the local snapshot of hub model ``repo_id`` after downloading it, or None; why not)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None, "huggingface_hub is not installed"
    endpoint = os.environ.get("HF_ENDPOINT") or None
    key = (repo_id, endpoint or "")
    if key in _FAILED and time.monotonic() - _FAILED[key][0] < RETRY_AFTER_S:
        return None, _FAILED[key][1]
    try:
        path = snapshot_download(repo_id, allow_patterns=DOWNLOAD_PATTERNS, endpoint=endpoint, etag_timeout=10)
        if not any((Path(path) / f).is_file() for f in WEIGHT_FILES):  # older repos: PyTorch weights only
            path = snapshot_download(repo_id, allow_patterns=DOWNLOAD_PATTERNS + ["pytorch_model.bin"],
                                     endpoint=endpoint, etag_timeout=10)
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated: one line for the data report
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        why = f"could not download {repo_id} from the Hugging Face Hub ({type(exc).__name__}: {first})"
        _FAILED[key] = (time.monotonic(), why)
        return None, why
    if not (Path(path) / "config.json").is_file():
        return None, f"{repo_id} on the Hugging Face Hub has no config.json (not a transformers model)"
    return str(path), ""



def in_hub_cache(repo_id: str) -> str | None:
    """The local snapshot folder of ``repo_id`` when its config and weights are in the HF cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        config = try_to_load_from_cache(repo_id, "config.json")
        if not isinstance(config, str):
            return None
        if not any(isinstance(try_to_load_from_cache(repo_id, f), str) for f in WEIGHT_FILES):
            return None
    except Exception:  # noqa: BLE001 - a malformed id or cache: not available
        return None
    return str(Path(config).parent)


# what each kind of checkpoint is loaded as, and the transformers table of the model types that class takes
AUTO_CLASSES = {"image": ("AutoModelForImageClassification", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES"),
                "text": ("AutoModelForSequenceClassification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES")}


def loadable_as(path: str, kind: str) -> str:
    """Why the checkpoint at ``path`` cannot be loaded as a ``kind`` classifier ("" when it can)."""
    import json

    try:
        model_type = json.loads((Path(path) / "config.json").read_text()).get("model_type")
    except (OSError, ValueError) as exc:
        return f"{path}/config.json is unreadable ({type(exc).__name__})"
    try:
        from transformers.models.auto import modeling_auto
    except ImportError:
        return "transformers is not installed"
    auto_class, table = AUTO_CLASSES[kind]
    if model_type not in getattr(modeling_auto, table, {}):
        return f"{path} is a '{model_type}' checkpoint, which {auto_class} cannot load"
    return ""


def local_checkpoint(env_var: str, hub_ids: tuple[str, ...], kind: str | None = None) -> tuple[str | None, str]:
    """(a checkpoint folder on this machine, or None; why not), checked to load as a ``kind`` classifier."""
    path, why = _find_checkpoint(env_var, hub_ids)
    if path and kind:
        wrong = loadable_as(path, kind)
        if wrong:
            return None, f"{env_var}: {wrong}"
    return path, why


def _find_checkpoint(env_var: str, hub_ids: tuple[str, ...]) -> tuple[str | None, str]:
    """(a checkpoint folder on this machine, or None; why not).

    ``env_var`` may name a ``save_pretrained`` folder or a hub id; without it, ``hub_ids`` (well-known
    checkpoints, in order of preference) are looked up in the local cache. A hub id that is not cached is
    downloaded only when downloads are allowed (AUTOML_AGENT_DOWNLOAD_MODELS=1): the one named, else the
    first of ``hub_ids``."""
    wanted = os.environ.get(env_var, "").strip()
    if wanted:
        p = Path(wanted).expanduser()
        if p.is_dir():
            if not (p / "config.json").is_file():
                return None, f"{env_var}={wanted} has no config.json (expected a save_pretrained folder)"
            if not any((p / f).is_file() for f in WEIGHT_FILES):
                return None, f"{env_var}={wanted} has no model weights (model.safetensors / pytorch_model.bin)"
            return str(p.resolve()), ""
        snap = in_hub_cache(wanted)
        if snap:
            return snap, ""
        if downloads_allowed():
            return download_checkpoint(wanted)
        return None, (f"{env_var}={wanted} is neither a local folder nor a hub model in the local cache "
                      f"(not downloaded: set {DOWNLOAD_ENV}=1 to allow it)")
    for repo_id in hub_ids:
        snap = in_hub_cache(repo_id)
        if snap:
            return snap, ""
    if downloads_allowed() and hub_ids:
        return download_checkpoint(hub_ids[0])
    return None, (f"no pretrained checkpoint on this machine (set {env_var} to a save_pretrained folder or a hub "
                  f"id in the local cache; nothing is downloaded unless {DOWNLOAD_ENV}=1)")
