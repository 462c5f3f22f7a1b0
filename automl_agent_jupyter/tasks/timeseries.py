"""Time-series forecasting: a CSV with a date column and numeric channels; sliding windows of
INPUT_SEQ_LEN -> PRED_SEQ_LEN steps, a chronological split, scaling fitted on the train period only;
profiling, probes and the cells (templates/timeseries).

Metrics on the test windows: MSE / MAE / RMSE in the standardised space (the convention of the
forecasting literature, comparable to published ETT numbers), the same on the original scale
(``*_original``), and RMSLE on the original scale. RMSLE needs non-negative values: each target channel
is shifted by min(0, its train-period minimum) before log1p, and shifted values below zero are clipped to
zero; for data that is non-negative in the train period this is the plain RMSLE.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import DataReport, Requirements
from .modality import ModalityTask

DATE_NAMES = ("date", "datetime", "time", "timestamp", "ds", "period", "month", "day")


def to_dates(s: pd.Series) -> pd.Series:
    """A date/time column as timestamps. Numbers from 1000 to 3000 are decimal years, as R's ts tables write time (AirPassengers:
    1949.0 = Jan 1949, 1949.0833 = Feb 1949): whole years and twelfths, so monthly, quarterly and yearly series
    (the load_split cell converts the same way)."""
    if pd.api.types.is_numeric_dtype(s) and s.notna().any() and s.dropna().between(1000, 3000).all():
        v = pd.to_numeric(s, errors="coerce")
        years = np.floor(v)
        months = np.rint((v - years) * 12)
        ok = v.notna()
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        y, m = (years[ok] + months[ok] // 12).astype(int), (months[ok] % 12 + 1).astype(int)
        out[ok] = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": 1}))
        return out
    return pd.to_datetime(s, errors="coerce", format="mixed")
DEFAULT_SEQ = 96
ETT_HOURS = 30 * 24  # the ETT benchmark's month


def date_column(df: pd.DataFrame) -> str | None:
    cols = sorted(df.columns, key=lambda c: (str(c).lower() not in DATE_NAMES, list(df.columns).index(c)))
    for c in cols[:3]:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and str(c).lower() not in DATE_NAMES:
            continue
        try:
            d = to_dates(s)
        except (TypeError, ValueError):
            continue
        if d.notna().mean() > 0.95 and d.dropna().is_monotonic_increasing and d.nunique() > 0.95 * len(d):
            return str(c)
    return None


def ett_borders(name: str, n: int) -> tuple[int, int, int] | None:
    """Train/valid/test row counts of the ETT benchmark split (12/4/4 months), as in Zhou et al. (Informer)."""
    m = re.match(r"ett(h|m)\d", name.lower())
    if not m:
        return None
    month = ETT_HOURS * (4 if m.group(1) == "m" else 1)
    if n < 20 * month:
        return None
    return 12 * month, 4 * month, 4 * month


class TimeSeriesTask(ModalityTask):
    tasks = ("time_series_forecasting",)
    modality = "time_series"
    template_dir = "timeseries"
    default_metric = "rmsle"
    allowed_metrics = ("rmsle", "mse", "mae", "rmse")
    probe_train = 2000
    probe_valid = 400
    shared_templates = {"setup": "common/setup", "train": "common/train", "measure": "common/measure"}

    def accepts(self, path: str) -> bool:
        p = Path(path).expanduser()
        if not p.is_file() or p.suffix.lower() not in (".csv", ".tsv", ".txt"):
            return False
        try:
            df = pd.read_csv(p, nrows=500, sep=None, engine="python")
        except Exception:  # noqa: BLE001 - accepts() never raises
            return False
        return len(df) >= 50 and date_column(df) is not None and \
            sum(pd.api.types.is_numeric_dtype(df[c]) for c in df.columns) >= 1

    # ---------------------------------------------------------------- data agent
    def peek(self, path: str) -> dict[str, Any]:
        df = pd.read_csv(path, nrows=2000, sep=None, engine="python")
        dc = date_column(df)
        freq = None
        if dc is not None:  # the data's step, so "the past two weeks" of hourly data is 336 steps
            gaps = to_dates(df[dc]).diff().dt.total_seconds().dropna()
            freq = float(gaps.median()) if len(gaps) else None
        return {"name": Path(path).stem, "modality": "time_series", "columns": [str(c) for c in df.columns],
                "numeric": [str(c) for c in df.columns if pd.api.types.is_numeric_dtype(df[c])],
                "nunique": {str(c): int(df[c].nunique()) for c in df.columns}, "date_column": dc, "frequency_s": freq,
                "values": {str(c): df[c].dropna().unique()[:20].tolist() for c in df.columns
                           if c != dc and df[c].nunique() <= 20}}

    def profile(self, path: str, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        p = Path(path).expanduser()
        df = pd.read_csv(p, sep=None, engine="python")
        dc = date_column(df)
        if dc is None:
            raise DataError(f"{p.name} has no date/time column in increasing order; forecasting needs one")
        dates = to_dates(df[dc])
        channels = [str(c) for c in df.columns if c != dc and pd.api.types.is_numeric_dtype(df[c])]
        if not channels:
            raise DataError(f"{p.name} has no numeric column to forecast")
        notes: list[str] = []
        tp = req.problem.task_params
        L, H = int(tp.get("input_seq_len", DEFAULT_SEQ)), int(tp.get("pred_seq_len", DEFAULT_SEQ))
        in_dim, out_dim = tp.get("input_dim"), tp.get("pred_dim")
        if "input_seq_len" not in tp or "pred_seq_len" not in tp:
            notes.append(f"window lengths not given: {L} input steps -> {H} predicted steps (the common benchmark "
                         "setting); say e.g. INPUT_SEQ_LEN=336, PRED_SEQ_LEN=24 to change them")
        if in_dim and int(in_dim) != len(channels):
            if int(in_dim) < len(channels):
                notes.append(f"INPUT_DIM={in_dim} but the file has {len(channels)} channels: using the last {in_dim}")
                channels = channels[-int(in_dim):]
            else:
                notes.append(f"INPUT_DIM={in_dim} but the file has only {len(channels)} channels: using all of them")
        if req.target in channels and (not out_dim or int(out_dim) == 1):
            targets = [req.target]
        elif out_dim and int(out_dim) < len(channels):
            targets = channels[-int(out_dim):]
            notes.append(f"PRED_DIM={out_dim}: forecasting the last {out_dim} channel(s) {targets} from all inputs")
        else:
            targets = list(channels)
        n = len(df)
        ett = ett_borders(p.stem, n)
        user = req.dataset[0].split if req.dataset else None
        if ett and not user:
            n_train, n_valid, n_test = ett
            method = "chronological ETT benchmark split (12/4/4 months; Zhou et al. 2021), never shuffled"
            if n > sum(ett):
                notes.append(f"the ETT benchmark split uses the first {sum(ett)} of {n} rows; the last "
                             f"{n - sum(ett)} rows are not used")
        else:
            test = float((user or {}).get("test", 0.2))
            train = float((user or {}).get("train", 0.7))
            n_train, n_test = int(n * train), int(n * test)
            n_valid = n - n_train - n_test
            method = ("user-given " if user else "") + f"chronological split {round(train * 100)}/" \
                f"{round((1 - train - test) * 100)}/{round(test * 100)}, never shuffled"
        if n_train < L + H + 10 or n_valid < H + 1 or n_test < H + 1:
            raise DataError(f"{n} rows are too few for {L} -> {H} step windows with a train/valid/test split; "
                            "give shorter INPUT_SEQ_LEN / PRED_SEQ_LEN")
        sizes = {"train": n_train - L - H + 1, "valid": n_valid - H + 1, "test": n_test - H + 1}
        freq = None
        if dates.notna().iloc[:1000].all() and len(dates) >= 3:
            with warnings.catch_warnings():  # pandas 3 announces a change of infer_freq's return type
                warnings.simplefilter("ignore")
                f = pd.infer_freq(dates.iloc[:1000])
            freq = getattr(f, "freqstr", f)
        step = dates.diff().median()
        values = df[channels].apply(pd.to_numeric, errors="coerce")
        missing = int(values.isna().sum().sum())
        if missing:
            notes.append(f"{missing} missing values: filled forward (then backward) in time")
        train_part = values.iloc[:n_train]
        negative = [c for c in targets if (train_part[c] < 0).any()]
        if negative:
            notes.append(f"channel(s) {', '.join(negative)} have negative values: RMSLE is computed after shifting each "
                         "by its train-period minimum; MSE/MAE are also reported in the standardised and original scale")
        stats = {c: {"mean": round(float(values[c].mean()), 4), "std": round(float(values[c].std()), 4),
                     "min": round(float(values[c].min()), 4), "max": round(float(values[c].max()), 4)} for c in channels}
        summary = (f"{n} time steps ({dates.iloc[0]} to {dates.iloc[-1]}, step {freq or step}) of {len(channels)} "
                   f"channel(s); forecasting {len(targets)} channel(s) {H} steps ahead from {L}")
        extra = {"date_column": dc, "channels": channels, "targets": targets, "input_seq_len": L, "pred_seq_len": H,
                 "rows": {"train": n_train, "valid": n_valid, "test": n_test}, "freq": freq, "step": str(step),
                 "channel_stats": stats, "negative_channels": negative, "summary": summary,
                 "profile_lines": [f"Read {summary}.", f"Rows per period: train {n_train}, valid {n_valid}, test "
                                   f"{n_test}; windows slide one step; valid/test windows may look back into the "
                                   "previous period for their input only."]}
        split = {"method": method, "seed": seed, "sizes": sizes,
                 "ratios": {"train": round(n_train / n, 4), "valid": round(n_valid / n, 4), "test": round(n_test / n, 4)}}
        report = DataReport(path=str(p.resolve()), modality="time_series", rows=n, columns=len(channels),
                            target=",".join(targets), features=channels, missing_cells=missing, split=split,
                            notes=notes + self.pool_notes(req.task or "", DataReport(path="", split=split)),
                            extra=extra, target_summary=stats[targets[0]])
        return report, {"path": str(p)}

    # ---------------------------------------------------------------- model agent / operation agent
    def context(self, plan, req, report, settings):
        ctx = self.base_context(plan, req, report, settings)
        ex = report.extra
        ctx.update(date_column=ex["date_column"], channels=ex["channels"], targets=ex["targets"],
                   input_seq_len=ex["input_seq_len"], pred_seq_len=ex["pred_seq_len"], rows=ex["rows"],
                   freq=ex.get("freq"), fit_args="TRAIN_STARTS, VALID_STARTS")
        return ctx

    def item_work(self, report: DataReport) -> float:
        """A window's values (look-back + horizon, every channel) over ETTh1's 96 + 96 steps of 7 channels."""
        ex = report.extra
        steps = int(ex.get("input_seq_len") or 96) + int(ex.get("pred_seq_len") or 96)
        return steps * max(1, len(ex.get("channels") or [0] * 7)) / (192 * 7)

    def shrink(self, ns: dict[str, Any], seed: int, effort: float = 1.0) -> None:
        rng = np.random.default_rng(seed)
        ns["PROBE_N"], ns["PROBE_VALID_N"] = min(max(self.probe_min_items, int(self.probe_train * effort)), len(ns["TRAIN_STARTS"])), \
            min(self.probe_valid, len(ns["VALID_STARTS"]))
        ns["PROBE_TRAIN_STARTS"] = np.sort(rng.choice(ns["TRAIN_STARTS"], ns["PROBE_N"], replace=False))
        ns["PROBE_VALID_STARTS"] = np.sort(rng.choice(ns["VALID_STARTS"], ns["PROBE_VALID_N"], replace=False))

    def probe_inputs(self, ns: dict[str, Any]) -> None:
        ns["PROBE_TRAIN"], ns["PROBE_VALID"] = ns["PROBE_TRAIN_STARTS"], ns["PROBE_VALID_STARTS"]
        ns["PROBE_ITEMS"] = ns["raw_windows"](ns["PROBE_VALID_STARTS"][:20])
