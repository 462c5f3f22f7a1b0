"""Tabular classification, regression and clustering: reading, profiling, probing and cells."""
from __future__ import annotations

import math
import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import templates
from ..errors import DataError
from ..knowledge import catalogue, model_entry, recipe_text
from ..schema import Candidate, CellSpec, ColumnProfile, DataReport, Plan, Requirements
from .base import SPLIT_VALUES, TaskModule, importable
from .modality import TRAIN_SHARE
from .scoring import CLASSIFICATION_METRICS, CLUSTERING_METRICS, REGRESSION_METRICS

TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".data", ".parquet", ".gz"}
EARLY_STOPPED = ("lightgbm", "xgboost")
TAIL_S = 4.0  # seconds of the budget kept after training on a quiet machine: evaluating, plots, measuring (capped), saving
# a test split over TAIL_TEST_ROWS rows adds TAIL_S_PER_100K seconds per 100,000 more rows to the tail: predicting them
# twice (evaluate, measure) and their plots took 4.4-4.9 s on 500,000 rows x 34 columns (XGBoost, load 1.3-1.8), more
# than TAIL_S keeps
TAIL_TEST_ROWS = 100_000
TAIL_S_PER_100K = 0.5
MEASURE_CAP_S = 1.5  # the one-row latency loop of the measure cell stops after this many seconds
REPLAY_LINE = "REPLAY = None  # None: a live run, trials run until the deadline; pipeline.py holds the trials the run completed"
SAMPLE_ROWS = 200_000  # larger tables are profiled (unique values, duplicates) on a random sample of this many rows
MEMORY_FACTOR = 3  # peak memory of reading, splitting and training, as a multiple of the table as read
RELEASE_MB = 50  # a table this large in memory is let go by planning while the cells (their own copy) train
_CACHE: dict[str, Any] = {}
_HANDOFF: dict[str, Any] = {}  # a large table planning read, handed once to the load cell run in this process
PROBE_ROWS = 2000  # train rows every candidate is fitted on at full effort (all of them when fewer)
PROBE_MIN_ROWS = 250  # the fewest rows a smaller probe effort goes down to
PROBE_VALID_ROWS = 1000  # validation rows every candidate is scored on
PROBE_LATENCY_ROWS = 5  # single-row predictions timed per candidate (after one warm-up)
# The work of one probe per family, counted from n (thousands of train rows), v (thousands of validation rows),
# d (tens of features) and k (classes, for the families that fit one model per class; else 1): fitting plus
# scoring, as the catalogue defaults do them (boosting: its trees over rows x features x classes; forests:
# n log n over sqrt(d) features; an RBF SVM: quadratic in rows; kNN: every validation row against every train row)
# A boosting probe grows at most PROBE_TREES trees (rounds x one tree per class beyond two): a ten-class table's
# 300 default rounds are 3,000 trees, 7 CPU s of probes even on 250 rows. Fewer rounds keep the catalogue's
# shrinkage x rounds (Friedman 2001: a smaller learning rate with proportionally more rounds fits alike, to first
# order), with the learning rate at most PROBE_MAX_LR (above it, LightGBM's and scikit-learn's multi-class boosting
# diverged on mfeat); the learning-curve prior is fitted on probes made this way.
PROBE_TREES = 300
PROBE_MAX_LR = 0.5
# Such a probe's one-row latency is scaled to the catalogue's rounds as rounds ratio ** ROUNDS_LATENCY_EXPONENT
# (between a fixed cost per row, 0, and a cost per tree, 1): fitted on mfeat's probes at 300 and at 30 rounds
# (LightGBM, XGBoost, HistGradientBoosting at four efforts, 2026-11-30; per library 0.12-0.91, pooled 0.44).
# Its size grows with its trees.
ROUNDS_LATENCY_EXPONENT = 0.44
# A forest's probe grows PROBE_FOREST_TREES of its trees: its validation score barely moves beyond that (on mfeat's
# 250 probe rows, 50 / 100 / 200 trees: random forest F1 0.927 / 0.932 / 0.932, extra trees 0.939 / 0.945 / 0.950),
# and its one-row latency and its size grow in proportion to the trees, so they are scaled up to the full forest.
PROBE_FOREST_TREES = 50
BOOSTING_ROUNDS = ("n_estimators", "max_iter")  # the catalogue's name for the rounds, per library
PROBE_WORK = {
    "gradient_boosting": lambda n, v, d, k: n * d * k,
    "bagged_trees": lambda n, v, d, k: n ** 1.1 * d ** 0.5 * k,
    "kernel": lambda n, v, d, k: (n * n + n * v) * d,
    "instance_based": lambda n, v, d, k: n * v * d,
    "linear": lambda n, v, d, k: n * d * k,
    "hierarchical": lambda n, v, d, k: n * n * d,
}
EFFORT_SEARCH_SHARE = 0.8  # a fixed effort's share for the candidates' trials; the rest is the final fit's
EFFORT_MAX_SEARCH = 40  # search trials per candidate at most under a fixed effort
SAMPLE_SHARE = 1 / 3  # the candidates' default fits on the train rows may cost this share of the budget (cost model)...
SAMPLE_MIN_ROWS = 100_000  # ...else training takes a random sample of the train rows, never fewer than this many


def _check_path(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"data file not found: {path}")
    if p.is_dir():
        tables = sorted(x.name for x in p.iterdir() if x.suffix.lower() in TABLE_SUFFIXES)[:5]
        hint = f" (it holds {', '.join(tables)})" if tables else ""
        raise DataError(f"--data points to a directory, not a table file: {path}{hint}; pass one CSV file")
    if p.stat().st_size == 0:
        raise DataError(f"data file is empty (0 bytes): {path}")
    return p


def _reader() -> dict[str, Any]:
    """read_table and compact as the generated load cell defines them (one source for both)."""
    ns: dict[str, Any] = {"pd": pd, "np": np, "os": os}
    exec(compile(templates.environment().get_template("tabular/read.py.j2").render(), "<tabular/read>", "exec"), ns)  # noqa: S102
    return ns


def available_memory() -> int:
    """Bytes this process may still use: the smaller of the machine's available memory and a cgroup limit;
    ``AUTOML_AGENT_MEMORY_GB`` caps it (a shared machine, or what to leave to other work)."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 1 << 62
    for cg in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(cg).read_text().strip()
            if raw.isdigit():
                avail = min(avail, int(raw))
        except OSError:
            pass
    if os.environ.get("AUTOML_AGENT_MEMORY_GB"):
        avail = min(avail, int(float(os.environ["AUTOML_AGENT_MEMORY_GB"]) * 2**30))
    return avail


def table_size(p: Path) -> tuple[int, int]:
    """(bytes on disk, estimated bytes of the table in memory as read, before compacting)."""
    disk = p.stat().st_size
    name = p.name.lower()
    if name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(p).metadata
            return disk, sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        except Exception:
            return disk, 4 * disk
    if name.endswith(".gz"):
        with p.open("rb") as f:  # gzip's trailer holds the text size modulo 4 GiB
            f.seek(-4, 2)
            isize = int.from_bytes(f.read(4), "little")
        return disk, max(isize, 3 * disk)
    return disk, disk


def _gb(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{max(1, n // 1024)} kB"


def check_fits(p: Path) -> tuple[int, int]:
    """Refuse, in one line, a table whose reading and training would not fit in this machine's memory."""
    disk, in_memory = table_size(p)
    need, avail = MEMORY_FACTOR * in_memory, available_memory()
    if need > avail:
        raise DataError(f"{p.name} is {_gb(disk)} on disk, about {_gb(in_memory)} in memory, and training needs "
                        f"about {_gb(need)} but {_gb(avail)} is available: use a random sample of its rows "
                        "(e.g. 20%) or run on a machine or Ray cluster (--cluster) with more memory")
    return disk, in_memory


def read_table(path: str) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Read Parquet or CSV/TSV (also .gz) robustly with pyarrow, in compact dtypes; return the frame, the
    read options to reuse in generated code, notes."""
    p = _check_path(path)
    check_fits(p)
    key = (str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size)
    if _CACHE.get("key") == key:  # peek and profile read the same file: a large table is parsed once
        return _CACHE["df"], dict(_CACHE["kwargs"]), list(_CACHE["notes"])
    reader = _reader()
    if p.name.lower().endswith(".parquet"):
        try:
            df = reader["read_table"](str(p), {})
        except Exception as exc:
            raise DataError(f"could not read {p.name} as Parquet: {str(exc).splitlines()[0][:200]}") from None
        return _remember(key, _check_shape(df, path), {}, ["read as Parquet"])
    notes: list[str] = []
    if p.name.lower().endswith(".gz"):
        import gzip

        try:
            with gzip.open(p, "rb") as f:
                head = f.read(65536)
        except OSError:
            raise DataError(f"{p.name} is not a valid gzip file") from None
        notes.append("gzip-compressed: read as a compressed CSV")
    else:
        with p.open("rb") as f:
            head = f.read(65536)
    kwargs: dict[str, Any] = {}
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the end of the sample
            kwargs["encoding"] = "cp1252"
            notes.append("the file is not UTF-8; read it as cp1252 (Windows-1252)")
    first = head.decode(kwargs.get("encoding", "utf-8"), errors="replace").splitlines()[0] if head.strip() else ""
    if first.count("\t") > first.count(","):
        kwargs["sep"] = "\t"
    elif first.count(";") > first.count(","):
        kwargs["sep"] = ";"
    try:
        df = reader["read_table"](str(p), kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file has no header and no rows: {path}") from None
    except UnicodeDecodeError:
        kwargs["encoding"] = "cp1252"
        df = reader["read_table"](str(p), kwargs)
        notes.append("the file is not UTF-8; read it as cp1252 (Windows-1252)")
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"could not parse {Path(path).name} as a table: {str(exc).splitlines()[0]}") from None
    _check_shape(df, path)
    qcols = [c for c in df.columns if _is_text(df[c])]
    sample = df.head(SAMPLE_ROWS)  # a '?' placeholder shows in the first rows of a column that uses it
    marks = [c for c in qcols if (sample[c].astype(str).str.strip() == "?").any()]
    if marks:
        kwargs["na_values"] = ["?"]
        df = reader["read_table"](str(p), kwargs)
        notes.append(f"'?' cells read as missing values in {len(marks)} column(s): {', '.join(map(str, marks[:6]))}")
    return _remember(key, df, kwargs, notes)


def take_table(path: str, keep: list[str] | tuple = ()) -> pd.DataFrame | None:
    """The table planning read (a large one, let go by ``TabularTask.release``), handed once to the generated
    load cell when it runs in this process: the same file (path, size, modification time), read by the same
    reader with the same options; None (the cell reads the file) when there is none, or when a column in
    ``keep`` (the target) was compacted to float32 (the cell's own reading keeps it exact)."""
    try:
        p = Path(path).expanduser()
        key = (str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size)
    except OSError:
        return None
    if _HANDOFF.get("key") != key:
        return None
    df = _HANDOFF.pop("df")
    _HANDOFF.clear()
    if any(c in df.columns and df[c].dtype == np.float32 for c in keep):
        return None
    return df


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s)


def _check_shape(df: pd.DataFrame, path: str) -> pd.DataFrame:
    if df.shape[1] < 2:
        raise DataError(f"{Path(path).name} has {df.shape[1]} column; a table needs features and a target")
    if len(df) == 0:
        raise DataError(f"{Path(path).name} has a header but no rows")
    return df


def _remember(key: tuple, df: pd.DataFrame, kwargs: dict[str, Any], notes: list[str]):
    _CACHE.clear()
    _CACHE.update(key=key, df=df, kwargs=dict(kwargs), notes=list(notes))
    return df, kwargs, notes


def sample_rows(df: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """At most n rows of df, drawn at random, in their original order (a monotonic column stays monotonic)."""
    if len(df) <= n:
        return df
    idx = np.sort(np.random.default_rng(seed).choice(len(df), size=n, replace=False))
    return df.iloc[idx]


def _label_codes(y: pd.Series) -> pd.Series:
    """Class codes numbered as the labels sort as text (as the load cell numbers its CLASSES): a categorical's codes
    renumbered, with no text copy of millions of labels; other labels through their text."""
    if isinstance(y.dtype, pd.CategoricalDtype):
        codes = y.cat.codes.to_numpy()
        if len(codes) and codes.min() >= 0:
            present = np.flatnonzero(np.bincount(codes, minlength=len(y.cat.categories)))
            names = np.array([str(v) for v in y.cat.categories[present]], dtype=object)
            if len(set(names)) == len(names):  # distinct as text too
                rank = np.empty(len(names), dtype=np.int64)
                rank[np.argsort(names)] = np.arange(len(names))
                lut = np.full(len(y.cat.categories), -1, dtype=np.int64)
                lut[present] = rank
                return pd.Series(pd.Categorical.from_codes(lut[codes], np.sort(names)), index=y.index).cat.codes
    return y.astype(str).astype("category").cat.codes


def split_parts(df: pd.DataFrame, column: str) -> pd.Series:
    """'train' / 'valid' / 'test' per row from a user-given split column (Train/Test, TRAIN/TRIAL/TEST, ...)."""
    if column not in df.columns:
        raise DataError(f"split column '{column}' is not in the data; columns are: " + ", ".join(map(str, df.columns)))
    parts = df[column].astype(str).str.strip().str.lower().map(SPLIT_VALUES)
    if parts.isna().any() or not {"train", "test"} <= set(parts.unique()):
        raise DataError(f"split column '{column}' must say train or test (also valid) in every row; it holds "
                        + ", ".join(map(str, df[column].dropna().unique()[:8])))
    return parts


DATE_PARTS = ("year", "month", "day", "day_of_week", "hour")  # as runtime.py.j2 expands them


def _is_datetime(s: pd.Series) -> bool:
    """Text that reads as dates/times in at least 90% of a sample (with digits and a date or time separator)."""
    sample = s.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d{1,4}[-/:.]\d{1,2}", regex=True).mean() >= 0.9:
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce")
    return bool(parsed.notna().mean() >= 0.9)


def _template_function(name: str, template: str) -> Any:
    """A helper the generated cells define, as a Python function here: one source for both."""
    ns: dict[str, Any] = {"np": np, "pd": pd}
    exec(compile(templates.render(template), f"<{template}>", "exec"), ns)  # noqa: S102 - our own template
    return ns[name]


safe_stratify = _template_function("safe_stratify", "tabular/stratify")


class TabularTask(TaskModule):
    tasks = ("tabular_classification", "tabular_regression", "tabular_clustering")
    modality = "tabular"
    # a table's probes cost about 1 CPU s at the smallest effort (full-size forests and boosting have fixed costs),
    # and issue 11 wants instruction -> plans under 2 s at the default 60 s budget: 2% of it (1.2 s)
    probe_share = 0.02
    # one family more than top-k per plan, the probes keep the top-k: on the kernel / neighbour / neural plan the fourth
    # is a linear model, best of that plan on mfeat (0.980 valid), telco_churn and near it on dev_salary and more_kids
    # (benchmarks/results/ranking/records*.json), never probed when the plan stopped at three
    extra_families = 1

    # ---------------------------------------------------------------- data agent
    def peek(self, path: str) -> dict[str, Any]:
        full, _, _ = read_table(path)
        df = sample_rows(full, SAMPLE_ROWS)  # a look at the columns: a sample of a large table is enough
        values = {c: df[c].dropna().unique()[:20].tolist() for c in df.columns if df[c].nunique() <= 20}
        return {"name": Path(path).stem, "modality": "tabular", "columns": [str(c) for c in df.columns],
                "values": values, "numeric": [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])],
                "nunique": {c: int(df[c].nunique()) for c in df.columns}, "rows": len(full),
                "sample": {str(c): df[c].dropna().head(3).tolist() for c in df.columns}}

    def profile(self, path: str, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        df, read_kwargs, notes = read_table(path)
        task, target = req.task, req.target
        unlabelled = task == "tabular_clustering" and not target  # clusters scored on the features (silhouette)
        if unlabelled:
            y = pd.Series(np.zeros(len(df), dtype=int), index=df.index)  # a placeholder: no label column
            notes.append("no label column: the clusterings are fitted and chosen on the features alone, scored by "
                         "the silhouette (no reference labels to compare with)")
        elif target not in df.columns:
            raise DataError(f"target column '{target}' is not in {Path(path).name}; columns are: "
                            + ", ".join(map(str, df.columns)))
        if not unlabelled:
            y = df[target]
        if y.isna().all():
            raise DataError(f"target column '{target}' has no values")
        if y.isna().any():
            notes.append(f"{int(y.isna().sum())} rows without a '{target}' value are left out")
        sample = sample_rows(df, SAMPLE_ROWS, seed)
        missing = pd.Series({c: int(df[c].isna().sum()) for c in df.columns})  # one column at a time: no mask of the table
        extra: dict[str, Any] = {"read_kwargs": read_kwargs, "memory_mb": round(df.memory_usage(deep=True).sum() / 2**20, 1)}
        if len(sample) < len(df):  # counts of values and duplicates on a sample; missing values and classes on all rows
            extra["profiled_rows"] = len(sample)
            notes.append(f"large table ({len(df):,} rows, {extra['memory_mb']:,.0f} MB in memory as read, compact "
                         f"dtypes): unique values, duplicates and text columns profiled on a random sample of "
                         f"{len(sample):,} rows; missing values and classes counted on all rows; the model agent "
                         f"probes on at most {PROBE_ROWS} train rows (sized from the budget); training uses every train row unless the "
                         "cost model prices the candidates' default fits on them over a third of the budget (then a "
                         "random sample, said in the load cell)")
        dups = int(sample.duplicated().sum())
        report = DataReport(path=str(Path(path).resolve()), rows=len(df), columns=df.shape[1], target=target,
                            missing_cells=int(missing.sum()),
                            duplicate_rows=dups if len(sample) == len(df) else int(round(dups * len(df) / len(sample))),
                            notes=notes, extra=extra)
        n = len(sample)
        for col in df.columns:
            if col == target:
                continue
            s = sample[col]
            nun = int(s.nunique())
            kind = "numeric" if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else "categorical"
            if len(sample) < len(df) and nun <= 1:  # constant on the sample: confirm on every row
                nun = int(df[col].nunique())
            if missing[col] == len(df):
                report.dropped_columns[str(col)] = "all values missing"
                kind = "constant"
            elif nun <= 1:
                report.dropped_columns[str(col)] = "constant"
                kind = "constant"
            elif kind == "categorical" and _is_datetime(s):
                kind = "datetime"
                report.notes.append(f"'{col}' holds dates/times: expanded into year, month, day, day of week and hour")
            elif nun == n and (kind == "categorical" or "id" in str(col).lower().split("_")
                               or str(col).lower() in ("id", "index") or s.is_monotonic_increasing):
                report.dropped_columns[str(col)] = "ID-like: a different value in every row"
                kind = "id"
                report.notes.append(f"'{col}' looks like an ID (a different value in every row): left out")
            elif kind == "categorical" and nun > 0.5 * n and s.astype(str).str.len().mean() > 25:
                report.dropped_columns[str(col)] = "free text (use a text task for it)"
                kind = "text"
                report.notes.append(f"'{col}' is free text ({nun} distinct values): left out; a text task can use it")
            elif kind == "categorical" and nun > 50:
                report.notes.append(f"'{col}' is a high-cardinality category ({nun} values): ordinal codes for trees, "
                             "the 20 most frequent one-hot for other models")
            report.column_profiles.append(ColumnProfile(name=str(col), dtype=str(s.dtype), kind=kind,
                                                        missing=int(missing[col]), unique=nun))
        report.features = [c.name for c in report.column_profiles if c.name not in report.dropped_columns]
        if task == "tabular_classification":
            counts = y.value_counts()
            if len(counts) < 2:
                raise DataError(f"target '{target}' has a single class ({counts.index[0]!r}); "
                                "classification needs at least two")
            rare = counts[counts <= 5]
            if len(rare):
                report.notes.append(f"{len(rare)} rare class(es) with at most 5 rows ("
                             + ", ".join(f"{k!r}: {v}" for k, v in rare.head(6).items())
                             + "): kept; splits stratify with classes of one row pooled, and a class a split "
                             "lacks is scored as missed")
            report.class_counts = {str(k): int(v) for k, v in counts.items()}
            report.imbalance_ratio = round(float(counts.max() / counts.min()), 3)
        elif task == "tabular_regression":
            if not pd.api.types.is_numeric_dtype(y):
                raise DataError(f"target '{target}' is not numeric ({y.dtype}); regression needs numbers")
            report.target_summary = {k: float(v) for k, v in y.describe().items()}
        elif not unlabelled:
            report.class_counts = {str(k): int(v) for k, v in y.value_counts().items()}
        if not report.features:
            raise DataError("no usable feature columns remain after dropping constant, empty and ID-like columns")
        split_col = req.dataset[0].split_column if req.dataset else None
        parts = None
        if split_col:
            parts = split_parts(df, split_col)
            report.dropped_columns[split_col] = "the user-given train/test split (not a feature)"
            report.features = [f for f in report.features if f != split_col]
            parts = parts[y.notna()]
        report.split = self.split_policy(req, y, seed, parts)
        return report, df

    def release(self, report: DataReport, handoff: bool = True) -> bool:
        """A large table (RELEASE_MB in memory) is not kept by planning beside the cells' own copy while they
        train: the read cache and the probes' data go; a revision's probes read it again."""
        if report.extra.get("memory_mb", 0) < RELEASE_MB:
            return False
        _HANDOFF.clear()
        if handoff and _CACHE.get("df") is not None:  # the load cell takes it (take_table), not parsing the file again
            _HANDOFF.update(key=_CACHE["key"], df=_CACHE["df"])
        _CACHE.clear()
        self._probe_data, self._probe_cache, self._probe_splits = None, {}, {}
        return True

    def split_policy(self, req: Requirements, y: pd.Series, seed: int, parts: pd.Series | None = None) -> dict[str, Any]:
        if parts is not None:  # the user's own split column: its test rows are the test split
            n_test, n_given_valid = int((parts == "test").sum()), int((parts == "valid").sum())
            n_rest = int((parts != "test").sum())
            valid_of_rest = 0.0 if n_given_valid else 0.2
            n_valid = n_given_valid or int(np.ceil(valid_of_rest * n_rest))
            n = n_test + n_rest
            col = req.dataset[0].split_column
            return {"method": f"given split (column '{col}')" + ("" if n_given_valid else
                                                                  "; valid carved from its train rows (20%)"),
                    "seed": seed, "ratios": {"train": round((n_rest - n_valid) / n, 4), "valid": round(n_valid / n, 4),
                                             "test": round(n_test / n, 4)},
                    "sizes": {"train": n_rest - n_valid, "valid": n_valid, "test": n_test},
                    "test_size": round(n_test / n, 6), "valid_size_of_rest": valid_of_rest, "split_column": col}
        user = (req.dataset[0].split if req.dataset else None) or {}
        test = float(user.get("test", 0.10))
        train = float(user.get("train", 1 - test - 0.20))
        valid = float(user.get("valid", max(0.0, 1 - test - train))) or 0.2 * (1 - test)
        stratified = req.task == "tabular_classification"
        n = int(y.notna().sum())
        n_test = int(np.ceil(test * n))  # as sklearn's train_test_split rounds, with the fractions the cells use
        n_valid = int(np.ceil(round(valid / (1 - test), 6) * (n - n_test)))
        return {"method": ("user-given " if user else "") + ("stratified " if stratified else "") + "random split",
                "seed": seed, "ratios": {"train": round(1 - test - valid, 4), "valid": round(valid, 4),
                                         "test": round(test, 4)},
                "sizes": {"train": n - n_test - n_valid, "valid": n_valid, "test": n_test},
                "test_size": test, "valid_size_of_rest": round(valid / (1 - test), 6)}

    # ---------------------------------------------------------------- metrics
    def primary_metric(self, req: Requirements, report: DataReport) -> str:
        allowed = {"tabular_classification": CLASSIFICATION_METRICS, "tabular_regression": REGRESSION_METRICS,
                   "tabular_clustering": CLUSTERING_METRICS}[req.task or ""]
        multiclass = len(report.class_counts) > 2
        if req.task == "tabular_clustering" and not report.target:
            return "silhouette"  # no labels: the Rand indices cannot be computed
        for m in req.problem.performance_metrics:
            name = "f1_weighted" if (m.name == "f1" and multiclass and req.task == "tabular_classification") else m.name
            if name in allowed and not (name == "rmsle" and report.target_summary.get("min", 0) < 0):
                return name
        if req.task == "tabular_classification":
            return "f1_weighted" if multiclass else "f1"
        if req.task == "tabular_regression":
            return "rmsle" if report.target_summary.get("min", 0) >= 0 else "rmse"
        return "rand_index" if report.target else "silhouette"

    # ---------------------------------------------------------------- model agent
    def candidate_pool(self, req: Requirements, report: DataReport) -> list[str]:
        pool = []
        for key, m in catalogue()["models"].items():
            if req.task not in m["tasks"]:
                continue
            if m.get("max_rows") and report.split.get("sizes", {}).get("train", 0) > m["max_rows"] \
                    and req.task != "tabular_clustering":
                continue
            if key == "xgboost" and not importable("xgboost"):
                continue
            pool.append(key)
        return pool

    def probe_size(self, effort: float, report: DataReport) -> dict[str, Any]:
        sizes = report.split.get("sizes", {})
        return {"items": int(min(sizes.get("train", PROBE_ROWS), max(PROBE_MIN_ROWS, round(PROBE_ROWS * effort)))),
                "valid_items": int(min(sizes.get("valid", PROBE_VALID_ROWS), PROBE_VALID_ROWS)), "epochs": None}

    def probe_units(self, name: str, size: dict[str, Any], report: DataReport) -> float:
        kinds = {p.name: p.kind for p in report.column_profiles}
        d = sum(len(DATE_PARTS) if kinds.get(f) == "datetime" else 1 for f in report.features) / 10
        family = model_entry(name)["family"]
        k = len(report.class_counts) if family in ("gradient_boosting", "linear") and len(report.class_counts) > 2 else 1
        if family == "bagged_trees" and size.get("full"):  # all its trees: the units count a probe's PROBE_FOREST_TREES
            trees = int(model_entry(name).get("defaults", {}).get("n_estimators", 0))
            if trees > PROBE_FOREST_TREES:
                k = k * trees / PROBE_FOREST_TREES
        if family == "gradient_boosting" and not size.get("full"):  # a probe's rounds (probe_boosting)
            params = model_entry(name).get("defaults", {})
            rounds = next((params[r] for r in BOOSTING_ROUNDS if r in params), None)
            if rounds:
                k = k * probe_boosting(params, len(report.class_counts))[0] / rounds
        work = PROBE_WORK.get(family, lambda n, v, d, k: n * d)
        return float(work(size["items"] / 1000, size["valid_items"] / 1000, max(0.1, d), k))

    def probe(self, plan: Plan, candidates: list[Candidate], data: pd.DataFrame, report: DataReport,
              req: Requirements, seed: int, budget_s: float, effort: float = 1.0) -> list[Candidate]:
        """Every candidate at full size (catalogue defaults: all its trees, all its iterations) fitted on the
        same train-split rows and scored on the same validation rows: the same effort for every candidate, so
        the order does not depend on how fast or busy the machine is. ``effort`` (1 = PROBE_ROWS rows) is the
        model agent's, sized from the run's budget, the same for every candidate."""
        rows = self.probe_size(effort, report)["items"]
        # probes are shared across the plans of one dataset; holding the object (not its id) so a later
        # run's data can never be mistaken for it
        if getattr(self, "_probe_data", None) is not data:
            self._probe_cache: dict[tuple, Candidate] = {}
            self._probe_data, self._probe_splits = data, {}  # the split of another table is not kept
        ns = None
        out = []
        # the effort seconds each candidate's training has: the run's training share over the plan's candidates
        share_s = TRAIN_SHARE * float(budget_s) / max(1, len(candidates))
        for cand in candidates:
            key = (seed, req.task, report.target, plan.preprocessing.get("recipe"),
                   plan.preprocessing.get("target_transform"), cand.name, rows, round(share_s, 3))
            if key not in self._probe_cache:
                if ns is None:
                    ns = self._probe_namespace(plan.model_copy(update={"candidates": candidates}), req, report,
                                               data, seed, rows)
                self._probe_cache[key] = self._probe_one(cand, ns, report, effort, share_s)
            out.append(self._probe_cache[key].model_copy(update={"rank": cand.rank}))
        return out

    def _probe_one(self, cand: Candidate, ns: dict[str, Any], report: DataReport, effort: float,
                   share_s: float = math.inf) -> Candidate:
        c = cand.model_copy()
        entry = model_entry(c.name)
        params = dict(entry.get("defaults", {}))  # full size: the catalogue's own trees / iterations
        if "n_jobs" in params:
            params["n_jobs"] = 1
        if c.name in ("lightgbm", "xgboost"):
            params["n_jobs"] = 1
        if entry["family"] == "bagged_trees" and int(params.get("n_estimators", 0)) > PROBE_FOREST_TREES:
            c.probe = {"trees": PROBE_FOREST_TREES, "trees_full": int(params["n_estimators"])}
            params["n_estimators"] = PROBE_FOREST_TREES
        if entry["family"] == "gradient_boosting":
            rounds, lr = probe_boosting(params, len(report.class_counts))
            key = next((r for r in BOOSTING_ROUNDS if r in params), None)
            if key and rounds != params[key]:
                c.probe = {"rounds": rounds, "learning_rate": lr, "rounds_full": int(params[key])}
                params.update({key: rounds, "learning_rate": lr})
        try:
            from threadpoolctl import threadpool_limits

            # one thread for every candidate: CPU time then measures the work, whatever else runs beside it
            with threadpool_limits(limits=1):
                return self._probe_fit(c, entry, params, ns, report, effort, share_s)
        except Exception as exc:  # a candidate that fails its probe is ranked last, with the reason
            c.basis = f"probe failed: {type(exc).__name__}: {str(exc)[:80]}"
            c.predicted_metric = None
            return c

    def _probe_fit(self, c: Candidate, entry: dict[str, Any], params: dict[str, Any], ns: dict[str, Any],
                   report: DataReport, effort: float, share_s: float = math.inf) -> Candidate:
        from ..knowledge import learning_curves as lc
        from . import scoring

        metric = ns["metric"]
        pipe = ns["make_probe_pipeline"](c.name, params)
        cpu0 = t0 = time.process_time()
        if ns["N_CLUSTERS"] and metric in ("rand_index", "adjusted_rand_index", "silhouette"):
            pipe.fit(ns["Xp_train"])
        else:
            pipe.fit(ns["Xp_train"], ns["yp_train"])
        fit_cpu = time.process_time() - t0
        t0 = time.process_time()
        score = _probe_score(pipe, metric, ns["Xp_valid"], ns["yp_valid"], ns["n_classes"])
        predict_cpu = time.process_time() - t0
        lat = _row_latency_ms(pipe, c.name, ns)
        cpu_s = time.process_time() - cpu0
        size_mb = len(pickle.dumps(pipe)) / 2**20
        n_train, n_valid = int(report.split["sizes"]["train"]), int(report.split["sizes"]["valid"])
        n_probe = len(ns["Xp_train"])
        data_ratio = max(1.0, n_train / max(1, n_probe))
        # what its training can afford (learning_curves.affordable_ratio): every row on a small table; on a large one
        # the rows an SVM or k-NN is fitted on, or the rounds / epochs boosting, forests and networks get in their time
        queries = n_valid + 2 * int(report.split["sizes"].get("test", 0))  # validation once, test in evaluate and measure
        size = {"items": n_probe, "valid_items": len(ns["Xp_valid"]), "epochs": None}
        units = self.probe_units(c.name, size, report)
        # priced as the full model (all its trees and rounds) on the probe's rows: what training fits
        whole_model = self.probe_units(c.name, {**size, "full": True}, report)
        ratio = lc.affordable_ratio(entry["family"], data_ratio, lc.probe_cost_s(c.name, entry["family"], whole_model),
                                    len(ns["Xp_valid"]), queries, share_s)
        prior = lc.curve("tabular", entry["family"], entry.get("learning_curve", 0.1))
        higher = scoring.higher_is_better(metric)
        pred, lo, hi = lc.extrapolate_metric(metric, higher, score, ratio, prior, caution=lc.CAUTION)
        lat_ms = lat
        grow = c.probe.get("trees_full", 1) / c.probe.get("trees", 1)  # a forest probed on fewer of its trees
        lat_ms, size_mb = lat * grow, size_mb * grow
        if "rounds" in c.probe:  # a multi-class booster probed on fewer rounds (probe_boosting)
            more = c.probe["rounds_full"] / c.probe["rounds"]
            lat_ms, size_mb = lat_ms * more ** ROUNDS_LATENCY_EXPONENT, size_mb * more
        c.predicted_metric = round(pred, 4)
        c.predicted_interval = [round(lo, 4), round(hi, 4)]
        # one default fit on every train row, from the cost model (no clock: the same on a busy machine)
        full = {"items": n_train, "valid_items": n_valid, "epochs": None, "full": True}
        c.predicted_train_s = round(lc.probe_cost_s(c.name, entry["family"], self.probe_units(c.name, full, report)), 3)
        c.predicted_latency_ms = round(lc.extrapolate_cost("latency", lat_ms, ratio, prior)[0], 3)
        c.predicted_size_mb = round(lc.extrapolate_cost("size", size_mb, ratio, prior)[0], 4)
        c.probe = {**c.probe, "metric": round(score, 5), "items": n_probe, "valid_items": len(ns["Xp_valid"]),
                   "epochs": None, "effort_ratio": round(ratio, 3), "row_ratio": round(data_ratio, 3), "queries": queries,
                   "share_s": round(share_s, 3) if math.isfinite(share_s) else None, "latency_ms": round(lat_ms, 4),
                   "size_mb": round(size_mb, 5),
                   "fit_cpu_s": round(fit_cpu, 3), "predict_cpu_s": round(predict_cpu, 3), "cpu_s": round(cpu_s, 3),
                   "units": round(units, 5), "cost_s": round(lc.probe_cost_s(c.name, entry["family"], units), 4),
                   "curve": prior["key"], "effort": effort}
        sized = f"; probe effort {effort:g} of nominal (sized from the budget)" if effort < 1 else ""
        afford = "" if ratio >= data_ratio else (f" (the effort its {share_s:.0f} s training share affords, of "
                                                  f"{data_ratio:.1f}x rows)")
        if "trees" in c.probe:
            sized += (f"; {c.probe['trees']} of its {c.probe['trees_full']} trees (latency and size scaled to all of "
                      "them)")
        if "rounds" in c.probe:
            sized += (f"; {c.probe['rounds']} rounds at learning rate {c.probe['learning_rate']:g} (the catalogue's "
                      f"rounds x learning rate, within {PROBE_TREES} trees for {len(report.class_counts)} classes; "
                      f"latency and size scaled to {c.probe['rounds_full']} rounds)")
        whole = "" if "trees" in c.probe or "rounds" in c.probe else " at full size"
        c.basis = (f"probe: catalogue defaults{whole} fitted on {n_probe} train rows, scored on "
                   f"{len(ns['Xp_valid'])} validation rows ({metric} {score:.4f}, {fit_cpu:.2f} CPU s); "
                   f"{lc.describe(prior)} extrapolates {ratio:.1f}x{afford} to {n_train} train rows{sized}; "
                   f"a cautious estimate, {lc.CAUTION:g} residual sd toward the worse end of its interval")
        return c

    def _probe_split(self, data: pd.DataFrame, report: DataReport, req: Requirements,
                     seed: int) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]:
        """(labels as codes or floats, the table's row of each labelled row, train rows, validation rows): the load
        cell's split, made on row numbers (the same rows as splitting the whole table, without copies of it) and
        made once per table and seed: every plan's and a revision's probes share it (on millions of rows each
        stratified split takes about a second). Never a test row."""
        from sklearn.model_selection import train_test_split

        key = (seed, req.task, report.target, report.split.get("split_column"), report.split["test_size"],
               report.split["valid_size_of_rest"])
        cache = getattr(self, "_probe_splits", {})
        if cache.get("data") is data and key in cache:
            return cache[key]
        split_col = report.split.get("split_column")
        parts = split_parts(data, split_col) if split_col else None
        if report.target:
            keep = data[report.target].notna().to_numpy()
            y = data[report.target][keep].reset_index(drop=True)
        else:  # clustering without labels: a placeholder label, never fitted or scored on
            keep = np.ones(len(data), dtype=bool)
            y = pd.Series(np.zeros(len(data), dtype=int))
        y = _label_codes(y) if req.task != "tabular_regression" else y.astype(float)
        strat = y if req.task == "tabular_classification" else None
        rows_kept = np.flatnonzero(keep)  # the table's row of each kept row
        idx = np.arange(len(y))
        if parts is not None:  # only the user's train and valid rows (never a test row) feed the probe
            part = parts[keep].reset_index(drop=True).to_numpy()
            tr = idx[part == "train"]
            if (part == "valid").any():
                va = idx[part == "valid"]
            else:  # carved from the user's train rows, as the load_split cell does
                tr, va = train_test_split(tr, test_size=report.split["valid_size_of_rest"], random_state=seed,
                                          stratify=safe_stratify(y.iloc[tr], report.split["valid_size_of_rest"])
                                          if strat is not None else None)
        else:
            rest, _ = train_test_split(idx, test_size=report.split["test_size"], random_state=seed,
                                       stratify=safe_stratify(strat, report.split["test_size"]))
            tr, va = train_test_split(rest, test_size=report.split["valid_size_of_rest"], random_state=seed,
                                      stratify=None if strat is None else
                                      safe_stratify(y.iloc[rest], report.split["valid_size_of_rest"]))
        if cache.get("data") is not data:
            cache = {"data": data}
        cache[key] = (y, rows_kept, tr, va)
        self._probe_splits = cache
        return cache[key]

    def _probe_namespace(self, plan: Plan, req: Requirements, report: DataReport, data: pd.DataFrame,
                         seed: int, rows: int = PROBE_ROWS) -> dict[str, Any]:
        """Execute the plan's own preprocessing and model code; ``rows`` train-split rows to fit on and up to
        PROBE_VALID_ROWS rows of the validation split to score on (the split the train cell selects on)."""
        from sklearn.model_selection import train_test_split

        y, rows_kept, tr, va = self._probe_split(data, report, req, seed)
        strat = y if req.task == "tabular_classification" else None

        def sub(ix, n):
            if len(ix) > SAMPLE_ROWS and n < len(ix):  # a split of millions of rows: drawn from a random pool of it
                ix = np.sort(np.random.default_rng(seed).choice(ix, SAMPLE_ROWS, replace=False))
            if n < len(ix):
                ix = train_test_split(ix, train_size=n, random_state=seed, stratify=safe_stratify(
                    y.iloc[ix], len(ix) - n) if strat is not None else None)[0]
            X_ = data.iloc[rows_kept[ix]].drop(columns=list(report.dropped_columns) + ([report.target] if report.target
                                                                                      else []))
            X_.index = ix
            return X_, y.iloc[ix]

        Xp_train, yp_train = sub(tr, rows)
        Xp_valid, yp_valid = sub(va, PROBE_VALID_ROWS)
        ctx = self.context(plan, req, report, {"run_dir": "", "run_id": "", "seed": seed})
        ns: dict[str, Any] = {"SEED": seed, "X_train": Xp_train, "X_valid": Xp_valid, "N_CLUSTERS": ctx["n_clusters"],
                              "Xp_train": Xp_train, "Xp_valid": Xp_valid, "yp_train": yp_train, "yp_valid": yp_valid,
                              "metric": ctx["metric"], "n_classes": int(y.nunique()), "TASK": req.task,
                              "np": np, "pd": pd,  # as the load cell imports them (the runtime's DataFrame path)
                              "target_transform": ctx["target_transform"]}
        source = templates.render("tabular/preprocess", **ctx).replace("print(", "(lambda *a, **k: None)(")
        source += "\n\ndef make_model(name, params):\n" + templates.environment().get_template(
            "tabular/models.py.j2").render(**ctx) + "\n    raise ValueError(name)\n"
        source += "\n\n" + templates.environment().get_template("tabular/runtime.py.j2").render(**ctx)
        source += ("\n\ndef make_probe_pipeline(name, params):\n"
                   "    return Pipeline([('prep', make_preprocessor()), ('model', make_model(name, params))])\n")
        exec(compile(source, f"<probe {plan.id}>", "exec"), ns)  # noqa: S102 - our own rendered template
        if ns["DATE_COLS"]:  # the models see date/time columns expanded into numeric parts, as in the cells
            ns["Xp_train"], ns["Xp_valid"] = (ns["expand_dates"](ns[k], ns["DATE_COLS"]) for k in ("Xp_train", "Xp_valid"))
        return ns

    def model_steps(self, plan: Plan, budget_s: float, seed: int) -> list[str]:
        names = ", ".join(c.name for c in plan.candidates)
        clustering = any("tabular_clustering" in model_entry(c.name)["tasks"] for c in plan.candidates)
        fit = "Fit each on the train rows; pick by the validation split (labels score, never fit)" if clustering \
            else ("Start each from its library defaults and known-good configurations (early stopping on the "
                  "validation split for boosting), then Optuna TPE until the run's time is up "
                  f"({budget_s:.0f} s for the whole run)")
        return [f"Rank candidates without full training; top-{len(plan.candidates)}: {names}.",
                f"{fit}, seed {seed}.",
                "Score the chosen clustering once on the untouched test split (Rand index and adjusted Rand index)."
                if clustering else
                ("Choose on validation only: the best candidate within any latency limit, or a greedy ensemble "
                 "when it beats it; refit on train+valid when the time allows; evaluate once on the untouched "
                 "test split."),
                ("Save model.joblib and predict.py, measure one-row latency through predict.py, test-set "
                 "inference time and model size; save serve.py.")]

    # ---------------------------------------------------------------- operation agent
    def context(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> dict[str, Any]:
        task = req.task or "tabular_classification"
        cand_specs = {}
        for c in plan.candidates:
            entry = model_entry(c.name)
            space = dict(entry.get("search_space", {}))
            base = dict(entry.get("defaults", {}))
            if c.name in EARLY_STOPPED:  # early stopping on the validation split picks the boosting rounds
                space.pop("n_estimators", None)
                base.pop("n_estimators", None)
            if task == "tabular_clustering":
                cand_specs[c.name] = {"defaults": base, "space": space}
            else:
                cand_specs[c.name] = {"portfolio": [dict(p) for p in entry.get("portfolio", [{}])], "base": base,
                                      "space": space}
        kinds = {p.name: p.kind for p in report.column_profiles}
        features = report.features
        return {
            "run_id": settings.get("run_id", ""), "plan_id": plan.id, "plan_title": plan.title,
            "seed": settings.get("seed", 0), "run_dir": settings.get("run_dir", ""), "data_path": report.path,
            "target": report.target, "task": task, "metric": self.primary_metric(req, report),
            "read_kwargs": report.extra.get("read_kwargs", {}), "drop_columns": report.dropped_columns,
            "split_text": f"{report.split['method']}, ratios {report.split['ratios']}, seed {report.split['seed']}",
            "split_method": report.split["method"], "test_size": report.split["test_size"],
            "split_column": report.split.get("split_column"), "split_values": SPLIT_VALUES,
            "valid_size_of_rest": report.split["valid_size_of_rest"],
            "recipe": plan.preprocessing.get("recipe", "trees"),
            # what the debugger's repairs change (OperationAgent.apply): the split and the column kinds
            "stratify": plan.preprocessing.get("stratify", True) is not False,
            "max_train_fraction": plan.preprocessing.get("max_train_fraction"),
            "mixed_as_categorical": bool(plan.preprocessing.get("mixed_as_categorical", False)),
            "recipe_text": recipe_text(plan.preprocessing.get("recipe", "trees")),
            "num_cols": [f for f in features if kinds.get(f) == "numeric"]
            + [f"{f}__{part}" for f in features if kinds.get(f) == "datetime" for part in DATE_PARTS],
            "date_cols": [f for f in features if kinds.get(f) == "datetime"],
            "cat_cols": [f for f in features if kinds.get(f) == "categorical"],
            "candidates": plan.candidates, "candidate_specs": cand_specs,
            "classification": task == "tabular_classification",
            "target_transform": plan.preprocessing.get("target_transform", "none"),
            "storage": settings.get("storage"), "cluster": settings.get("cluster"), "budget_s": round(float(settings.get("budget_s", 60)), 1),
            "resume": bool(settings.get("resume")), "tail_s": tail_seconds(int(report.split.get("sizes", {}).get("test", 0))),
            "measure_cap_s": MEASURE_CAP_S,
            "latency_limit_ms": next((c.value for c in req.problem.complexity_metrics
                                      if c.name == "inference_latency"), None),
            "n_clusters": req.problem.n_clusters or max(2, len(report.class_counts) or 2),
            "effort": self.effort_plan(cand_specs, report, settings.get("effort_s")),
            "train_sample": None if task == "tabular_clustering" else
            self.train_sample([c.name for c in plan.candidates], report, float(settings.get("budget_s", 60))),
        }

    def train_sample(self, names: list[str], report: DataReport, budget_s: float) -> dict[str, Any] | None:
        """A random sample of the train rows for training, when the cost model prices one default fit of every
        candidate on all of them (``probe_cost_s``, reference CPU seconds) over SAMPLE_SHARE of the budget: the
        rows that bring it within (linear in rows, as histogram boosting is), never under SAMPLE_MIN_ROWS; None
        when every train row fits. The validation split is sampled to as many rows when it has
        more (every boosting round and every trial scores it); the test split keeps every row."""
        from ..knowledge import learning_curves as lc

        sizes = report.split.get("sizes", {})
        n_train = int(sizes.get("train", 0))
        if n_train <= SAMPLE_MIN_ROWS or not names:
            return None
        full = {"items": n_train, "valid_items": int(sizes.get("valid", 0)), "epochs": None, "full": True}
        cost = sum(lc.probe_cost_s(n, model_entry(n)["family"], self.probe_units(n, full, report)) for n in names)
        allowed = SAMPLE_SHARE * budget_s
        if cost <= allowed:
            return None
        rows = max(SAMPLE_MIN_ROWS, int(n_train * allowed / cost))
        n_valid = int(sizes.get("valid", 0))
        valid = rows if n_valid > rows else None
        kept = (f"validation uses a random {valid:,} of its {n_valid:,} rows (as many as training: every boosting round "
                "and every trial scores them) and the test split keeps every row") if valid else \
            "validation and test keep every row"
        return {"rows": rows, "of": n_train, "cost_all_rows_s": round(cost, 1), "allowed_s": round(allowed, 1),
                **({"valid_rows": valid, "valid_of": n_valid} if valid else {}),
                "why": f"one default fit of {', '.join(names)} on all {n_train:,} train rows is priced at {cost:,.0f} "
                       f"reference CPU s by the cost model, over {allowed:,.0f} s ({SAMPLE_SHARE:.0%} of the {budget_s:.0f} s "
                       f"budget): training uses a random {rows:,} of them; {kept}"}

    def effort_plan(self, specs: dict[str, Any], report: DataReport, effort_s: float | None) -> dict[str, Any] | None:
        """The train cell's trials fixed up front (a raced plan: ``effort_s`` reference CPU seconds), so the models
        it chooses do not depend on how much of the machine its worker got: every portfolio configuration, then
        search trials per candidate as many as its share of the effort buys at the cost model's price of one
        default fit on every train row (``probe_cost_s``, the model agent's units). None: trials until the
        deadline (a run on its own)."""
        if effort_s is None or "portfolio" not in next(iter(specs.values()), {}):
            return None
        from ..knowledge import learning_curves as lc

        sizes = report.split.get("sizes", {})
        full = {"items": int(sizes.get("train", 0)), "valid_items": int(sizes.get("valid", 0)), "epochs": None,
                "full": True}  # all its trees and rounds, as the train cell fits them
        share = EFFORT_SEARCH_SHARE * float(effort_s) / len(specs)
        cost, trials = {}, {}
        for name, spec in specs.items():
            cost[name] = lc.probe_cost_s(name, model_entry(name)["family"], self.probe_units(name, full, report))
            bought = int(share / max(cost[name], 1e-6)) - len(spec["portfolio"])
            trials[name] = min(EFFORT_MAX_SEARCH, max(0, bought)) if spec["space"] else 0
        return {"cpu_s": round(float(effort_s), 2), "search_trials": trials,
                "fit_cost_s": {n: round(c, 3) for n, c in cost.items()}}

    def replay_cells(self, cells: list[CellSpec], results: dict[str, Any]) -> list[CellSpec]:
        """The train cell with the trials, refit and latency verdicts of the run instead of the clock."""
        replay = (results or {}).get("replay")
        if not replay:
            return cells
        out = []
        for c in cells:
            if c.stage == "train" and REPLAY_LINE in c.source:
                line = f"REPLAY = {templates.pyrepr(replay)}  # what the run completed: replayed without the clock"
                c = c.model_copy(update={"source": c.source.replace(REPLAY_LINE, line, 1)})
            out.append(c)
        return out

    def cells(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> list[CellSpec]:
        ctx = self.context(plan, req, report, settings)
        train = "tabular/train_clustering" if req.task == "tabular_clustering" else "tabular/train"
        stages = [("setup", "Setup: seeds, device, paths", "tabular/setup"),
                  ("load_split", "Load data and split train/valid/test", "tabular/load_split"),
                  ("preprocess", "Preprocessing", "tabular/preprocess"),
                  ("train", "Train with hyperparameter tuning", train),
                  ("evaluate", "Evaluate on the held-out test split", "tabular/evaluate"),
                  ("measure", "Measure latency and model size", "tabular/measure"),
                  ("save", "Save model, predict entry point and results", "tabular/save"),
                  ("predict", "Predict with the saved model", "tabular/predict")]
        return [CellSpec(stage=s, title=t, source=templates.render(name, **ctx),
                         params={"template": name, "recipe": ctx["recipe"]}) for s, t, name in stages]


def tail_seconds(n_test: int) -> float:
    """Seconds of the budget kept after training on a quiet machine: TAIL_S, and TAIL_S_PER_100K per 100,000 test rows
    beyond TAIL_TEST_ROWS (a rule on the size, so a rerun keeps the same tail)."""
    return round(TAIL_S + TAIL_S_PER_100K * max(0, n_test - TAIL_TEST_ROWS) / 100_000, 2)


def probe_boosting(params: dict[str, Any], n_classes: int) -> tuple[int, float]:
    """(rounds, learning rate) of a boosting probe: the catalogue's defaults when they grow at most PROBE_TREES trees
    (one per round, one per class and round beyond two classes); else fewer rounds with the learning rate raised to
    keep rounds x learning rate, the rate at most PROBE_MAX_LR. The same rule for every boosting candidate."""
    rounds = next((int(params[r]) for r in BOOSTING_ROUNDS if r in params), 0)
    lr = float(params.get("learning_rate", 0.1))
    per_round = n_classes if n_classes > 2 else 1
    if not rounds or rounds * per_round <= PROBE_TREES:
        return rounds, lr
    fewer = max(1, PROBE_TREES // per_round, math.ceil(rounds * lr / PROBE_MAX_LR))
    return fewer, round(rounds * lr / fewer, 4)


def _row_latency_ms(pipe: Any, name: str, ns: dict[str, Any]) -> float:
    """Median CPU milliseconds of one raw row through the runtime the saved model answers with
    (tabular/runtime.py.j2: the row as an array, the native booster, one thread), after a warm-up; a
    clustering pipeline predicts through the pipeline, as its saved model does."""
    rows = ns["Xp_valid"].head(PROBE_LATENCY_ROWS).to_dict("records")
    if ns["N_CLUSTERS"] and ns["metric"] in ("rand_index", "adjusted_rand_index", "silhouette"):
        model = {"pipeline": pipe, "features": list(ns["Xp_valid"].columns)}
    else:
        prep, est = pipe.named_steps["prep"], pipe.named_steps["model"]
        member = {"name": name, "kind": name if name in ("lightgbm", "xgboost") else "sklearn", "model": est,
                  "weight": 1.0, "task": ns["TASK"], "n_classes": ns["n_classes"], "iterations": None}
        model = ns["single_threaded"]({
            "task": ns["TASK"], "features": list(ns["Xp_valid"].columns), "threshold": 0.5, "members": [member],
            "target_transform": ns["target_transform"], "prep": prep, "layout": ns["compile_rows"](prep)})
    ns["predict_row"](model, rows[0])  # warm-up, as the measure cell does
    lat = []
    for r in rows:  # CPU time of one single-threaded prediction: the work, not the machine's load
        t = time.process_time()
        ns["predict_row"](model, r)
        lat.append((time.process_time() - t) * 1000)
    return float(np.median(lat))


def _probe_score(pipe: Any, metric: str, X: pd.DataFrame, y: pd.Series, n_classes: int) -> float:
    """The probe's validation score, as the train cell scores a candidate: binary F1 at the validation-best
    decision threshold (tabular/train's best_threshold), every other metric on the predictions."""
    from . import scoring

    if metric == "silhouette":  # a clustering without labels: how well separated its clusters are
        from sklearn import metrics as skm

        pred = pipe.predict(X)
        if len(np.unique(pred)) < 2:
            return -1.0
        Z = pipe[:-1].transform(X)
        return float(skm.silhouette_score(Z, pred, sample_size=min(2000, len(pred)), random_state=0))
    if metric == "f1" and n_classes == 2 and (hasattr(pipe, "predict_proba") or hasattr(pipe, "decision_function")):
        try:
            out = pipe.predict_proba(X)[:, 1] if hasattr(pipe, "predict_proba") else pipe.decision_function(X)
        except AttributeError:  # e.g. an SVC without probability=True exposes predict_proba but cannot use it
            out = pipe.decision_function(X)
        grid = np.unique(np.quantile(out, np.linspace(0.02, 0.98, 97)))
        truth = np.asarray(y) == 1  # F1 at every threshold at once, as the train cell's best_threshold
        pred = out[None, :] >= grid[:, None]
        tp = (pred & truth[None, :]).sum(axis=1)
        return float((2 * tp / np.maximum(1, pred.sum(axis=1) + truth.sum())).max())
    return scoring.score(metric, y, pipe.predict(X))
