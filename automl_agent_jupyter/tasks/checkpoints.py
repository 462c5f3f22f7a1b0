"""Pretrained checkpoints on this machine, for the model agent's retrieval step.

A checkpoint is usable when it is a ``save_pretrained`` folder (config + weights) named by an environment
variable, or a Hugging Face hub model already in the local cache. Nothing is downloaded here: the generated
code loads it with ``local_files_only=True``, so a plan never depends on the network at run time.
"""
from __future__ import annotations

import os
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")


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


def local_checkpoint(env_var: str, hub_ids: tuple[str, ...]) -> tuple[str | None, str]:
    """(a checkpoint folder on this machine, or None; why not).

    ``env_var`` may name a ``save_pretrained`` folder or a hub id already in the local cache; without it,
    ``hub_ids`` (well-known checkpoints, in order of preference) are looked up in the cache."""
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
        return None, f"{env_var}={wanted} is neither a local folder nor a hub model in the local cache (offline: not downloaded)"
    for repo_id in hub_ids:
        snap = in_hub_cache(repo_id)
        if snap:
            return snap, ""
    return None, (f"no pretrained checkpoint on this machine (set {env_var} to a save_pretrained folder, "
                  "or put a model in the Hugging Face cache; nothing is downloaded)")
