"""Text classification: one text column (SMS spam) or a sentence pair (SICK entailment) in a CSV/TSV;
profiling, probes and the cells (templates/text)."""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import DataReport, Requirements
from .base import SPLIT_VALUES
from .checkpoints import local_checkpoint
from .modality import ModalityTask, class_report, importable, random_split

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "entailment_label", "sentiment", "gold_label")
WORD = re.compile(r"[a-z0-9']+")


def read_kwargs(path: Path) -> dict[str, Any]:
    """Options for pd.read_csv: tab-separated files are read without quote handling (quoting=3), as SMS
    collections contain unbalanced quotes."""
    head = path.read_bytes()[:65536]
    kwargs: dict[str, Any] = {}
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        kwargs["encoding"] = "cp1252"
    first = head.decode(kwargs.get("encoding", "utf-8"), errors="replace").splitlines()[0] if head.strip() else ""
    if first.count("\t") > first.count(","):
        kwargs.update(sep="\t", quoting=csv.QUOTE_NONE)
    return kwargs


def text_columns(df: pd.DataFrame) -> list[str]:
    """Free-text columns: mostly distinct strings of several words."""
    out = []
    for c in df.columns:
        s = df[c].dropna()
        if len(s) == 0 or not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        s = s.astype(str)
        if s.str.len().mean() >= 15 and s.str.count(" ").mean() >= 2 and s.nunique() >= 0.3 * len(s):
            out.append(str(c))
    return out


def label_column(df: pd.DataFrame, texts: list[str], wanted: str | None) -> str | None:
    others = [str(c) for c in df.columns if str(c) not in texts]
    if wanted in others:
        return wanted
    named = [c for c in others if c.lower() in LABEL_NAMES]
    if named:
        return named[0]
    small = [c for c in others if 2 <= df[c].nunique() <= max(2, min(50, 0.2 * len(df)))
             and split_column(df[[c]]) is None]
    return small[-1] if small else None


def split_column(df: pd.DataFrame) -> str | None:
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            values = {str(v).lower() for v in df[c].dropna().unique()[:10]}
            if values and values <= set(SPLIT_VALUES) and "test" in {SPLIT_VALUES[v] for v in values}:
                return str(c)
    return None


TEXT_MODEL_ENV = "AUTOML_AGENT_TEXT_MODEL"
# well-known hub checkpoints, looked up in the local Hugging Face cache (the first is downloaded when
# AUTOML_AGENT_DOWNLOAD_MODELS=1 and none is cached)
CACHED_HUB_MODELS = ("distilbert-base-uncased", "distilbert/distilbert-base-uncased", "bert-base-uncased",
                     "google-bert/bert-base-uncased", "prajjwal1/bert-tiny", "google/electra-small-discriminator")


def local_text_model() -> tuple[str | None, str]:
    """(a pretrained sequence classifier checkpoint, or None; why not): AUTOML_AGENT_TEXT_MODEL (a
    save_pretrained folder or a hub id), else a well-known checkpoint in the local cache; downloads as
    checkpoints.local_checkpoint allows."""
    return local_checkpoint(TEXT_MODEL_ENV, CACHED_HUB_MODELS, "text")


class TextTask(ModalityTask):
    tasks = ("text_classification",)
    modality = "text"
    template_dir = "text"
    probe_train = 1500
    probe_valid = 600

    def accepts(self, path: str) -> bool:
        p = Path(path).expanduser()
        if not p.is_file() or p.suffix.lower() not in TEXT_SUFFIXES:
            return False
        try:
            df = pd.read_csv(p, nrows=500, **read_kwargs(p))
        except Exception:  # noqa: BLE001 - accepts() never raises
            return False
        texts = text_columns(df)
        numeric = sum(pd.api.types.is_numeric_dtype(df[c]) for c in df.columns)
        return bool(texts) and (len(texts) * 3 >= df.shape[1] or numeric <= 3)  # else a table with a text column

    def _read(self, path: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        p = Path(path).expanduser()
        kwargs = read_kwargs(p)
        try:
            return pd.read_csv(p, **kwargs), kwargs
        except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"could not parse {p.name} as a table: {str(exc).splitlines()[0]}") from None

    # ---------------------------------------------------------------- data agent
    def peek(self, path: str) -> dict[str, Any]:
        df, _ = self._read(path)
        texts = text_columns(df)
        return {"name": Path(path).stem, "modality": "text", "columns": [str(c) for c in df.columns],
                "values": {str(c): df[c].dropna().unique()[:20].tolist() for c in df.columns if df[c].nunique() <= 20},
                "numeric": [str(c) for c in df.columns if pd.api.types.is_numeric_dtype(df[c])],
                "nunique": {str(c): int(df[c].nunique()) for c in df.columns}, "rows": len(df),
                "text_columns": texts[:2], "label_column": label_column(df, texts, None)}

    def profile(self, path: str, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        df, kwargs = self._read(path)
        texts = text_columns(df)
        if not texts:
            raise DataError(f"{Path(path).name} has no free-text column (strings of several words)")
        notes = []
        if len(texts) > 2:
            notes.append(f"{len(texts)} text columns; the first two ({texts[0]}, {texts[1]}) are the input pair, "
                         f"{', '.join(texts[2:])} are ignored")
        texts = texts[:2]
        target = label_column(df, texts, req.target)
        if target is None:
            raise DataError(f"no label column found in {Path(path).name}; columns are: "
                            + ", ".join(map(str, df.columns)) + " (name it with --target)")
        if req.target and req.target != target:
            notes.append(f"'{req.target}' is a text column, not a label; predicting '{target}'")
        y = df[target]
        if y.isna().any():
            notes.append(f"{int(y.isna().sum())} rows without a '{target}' value are left out")
            df = df[y.notna()].reset_index(drop=True)
        cc, imb = class_report(df[target].tolist())
        if len(cc) < 2:
            raise DataError(f"label '{target}' has a single class; classification needs at least two")
        if min(cc.values()) < 2:
            raise DataError(f"class {min(cc, key=cc.get)!r} of '{target}' has a single row; every class needs two")
        lines, lengths, vocab = [], {}, set()
        for c in texts:
            s = df[c].fillna("").astype(str)
            words = s.str.lower().str.findall(WORD)
            n_words = words.str.len()
            vocab.update(w for ws in words for w in ws)
            lengths[c] = {"median_words": float(n_words.median()), "mean_words": round(float(n_words.mean()), 2),
                          "max_words": int(n_words.max()), "empty": int((n_words == 0).sum())}
            lines.append(f"'{c}': median {n_words.median():.0f} words (max {n_words.max()}), "
                         f"{int((n_words == 0).sum())} empty")
        dups = int(df.duplicated(subset=texts).sum())
        if dups:
            notes.append(f"{dups} duplicate {'texts' if len(texts) == 1 else 'pairs'} (kept; a duplicate can fall in "
                         "both train and test)")
        split_col = split_column(df)
        user = req.dataset[0].split if req.dataset else None
        if split_col and not user:
            parts = df[split_col].astype(str).str.lower().map(SPLIT_VALUES)
            sizes = {k: int((parts == k).sum()) for k in ("train", "valid", "test")}
            carve = sizes["valid"] == 0
            if carve:
                sizes["valid"] = int(np.ceil(0.1 * sizes["train"]))
                sizes["train"] -= sizes["valid"]
            split = {"method": f"given split (column '{split_col}')" + ("; valid carved from train (stratified, 10%)"
                                                                        if carve else ""),
                     "seed": seed, "sizes": sizes, "ratios": {k: round(v / len(df), 4) for k, v in sizes.items()},
                     "test_size": 0.0, "valid_size_of_rest": 0.1}
        else:
            split = random_split(len(df), user, seed, stratified=True)
        kind = "sentence pairs" if len(texts) == 2 else "texts"
        summary = (f"{len(df)} {kind} ({' + '.join(texts)}), {len(cc)} classes in '{target}'"
                   f" (imbalance {imb}:1), vocabulary {len(vocab)} words")
        extra = {"text_columns": texts, "pair": len(texts) == 2, "read_kwargs": kwargs, "split_column":
                 split_col if split_col and not user else None, "lengths": lengths, "vocabulary": len(vocab),
                 "n_classes": len(cc), "summary": summary,
                 "profile_lines": [f"Read {summary}."] + [f"Lengths {ln}." for ln in lines]}
        report = DataReport(path=str(Path(path).resolve()), modality="text", rows=len(df), columns=df.shape[1],
                            target=target, features=texts, class_counts=cc, imbalance_ratio=imb, split=split,
                            duplicate_rows=dups, notes=notes + self.pool_notes(req.task or "", DataReport(
                                path="", split=split)), extra=extra)
        return report, {"path": path}

    def checkpoint(self, what: str) -> tuple[str | None, str]:
        if not importable("transformers"):
            return None, "transformers is not installed"
        return local_text_model()

    # ---------------------------------------------------------------- model agent / operation agent
    def context(self, plan, req, report, settings):
        ctx = self.base_context(plan, req, report, settings)
        ex = report.extra
        ctx.update(text_columns=ex["text_columns"], pair=ex["pair"], read_kwargs=ex["read_kwargs"],
                   split_column=ex.get("split_column"))
        return ctx

    def shrink(self, ns: dict[str, Any], seed: int, effort: float = 1.0) -> None:
        rng = np.random.default_rng(seed)
        for part, n in (("train", max(self.probe_min_items, int(self.probe_train * effort))), ("valid", self.probe_valid)):
            T, y = ns[f"T_{part}"], ns[f"y_{part}"]
            if len(y) > n:
                idx = np.sort(rng.choice(len(y), size=n, replace=False))
                ns[f"T_{part}"], ns[f"y_{part}"] = T.iloc[idx].reset_index(drop=True), y[idx]
        ns["PROBE_N"], ns["PROBE_VALID_N"] = len(ns["y_train"]), len(ns["y_valid"])

    def probe_inputs(self, ns: dict[str, Any]) -> None:
        ns["PROBE_TRAIN"] = (ns["TRAIN_INPUT"], ns["y_train"])
        ns["PROBE_VALID"] = (ns["VALID_INPUT"], ns["y_valid"])
        ns["PROBE_ITEMS"] = ns["T_valid"]
