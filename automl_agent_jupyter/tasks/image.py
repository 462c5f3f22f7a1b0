"""Image classification: npz arrays, raw IDX files (MNIST style), a folder per class, or a CSV of image
paths with labels; profiling, probes and the cells (templates/image)."""
from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..schema import DataReport, Requirements
from .checkpoints import local_checkpoint
from .modality import ModalityTask, class_report, importable, random_split

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
PATH_COLUMN = re.compile(r"\.(?:png|jpe?g|bmp|gif|tiff?|webp)$", re.I)
SPLIT_NAMES = {"train": "train", "training": "train", "val": "valid", "valid": "valid", "validation": "valid",
               "test": "test", "testing": "test"}
SIZE_SAMPLE = 200  # images opened (headers only) to profile sizes of file-based data
VISION_MODEL_ENV = "AUTOML_AGENT_IMAGE_MODEL"
# well-known hub checkpoints, looked up in the local Hugging Face cache (the first is downloaded when
# AUTOML_AGENT_DOWNLOAD_MODELS=1 and none is cached)
CACHED_HUB_MODELS = ("microsoft/resnet-18", "microsoft/resnet-50", "facebook/convnext-tiny-224",
                     "google/efficientnet-b0", "google/mobilenet_v2_1.0_224", "google/vit-base-patch16-224")


def local_vision_model() -> tuple[str | None, str]:
    """(a pretrained image classifier checkpoint, or None; why not): AUTOML_AGENT_IMAGE_MODEL (a
    save_pretrained folder or a hub id), else a well-known checkpoint in the local cache; downloads as
    checkpoints.local_checkpoint allows."""
    return local_checkpoint(VISION_MODEL_ENV, CACHED_HUB_MODELS, "image")


def _idx_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if re.search(r"idx[13]-ubyte(\.gz)?$", p.name))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's raw format, optionally gzipped) as a numpy array."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if raw[:2] != b"\x00\x00" or raw[2] != 8:
        raise DataError(f"{path.name} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and any(f.suffix.lower() in IMAGE_SUFFIXES for f in d.iterdir()))


def detect_format(path: str) -> str | None:
    """npz | idx | folder | split_folder | csv, or None when ``path`` is not image data."""
    p = Path(path).expanduser()
    try:
        if p.is_file() and p.suffix.lower() == ".npz":
            with np.load(p) as z:
                return "npz" if any(z[k].ndim in (3, 4) for k in z.files) else None
        if p.is_file() and re.search(r"idx3-ubyte(\.gz)?$", p.name):
            return "idx"
        if p.is_dir():
            if any("idx3" in f.name for f in _idx_files(p)):
                return "idx"
            subs = {d.name.lower(): d for d in p.iterdir() if d.is_dir()}
            if "train" in subs and _class_dirs(subs["train"]):
                return "split_folder"
            if len(_class_dirs(p)) >= 2:
                return "folder"
            return None
        if p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".txt"):
            import pandas as pd

            df = pd.read_csv(p, nrows=50, sep=None, engine="python")
            texts = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]  # a number is no path
            return "csv" if any(df[c].astype(str).str.contains(PATH_COLUMN).mean() > 0.8 for c in texts) else None
    except Exception:  # noqa: BLE001 - unreadable: not ours to judge; the tabular reader gives the error
        return None
    return None


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def npz_keys(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Which arrays are images and labels (and a given train/test split when x_train/x_test exist)."""
    imgs = [k for k, v in arrays.items() if v.ndim in (3, 4)]
    labels = [k for k, v in arrays.items() if v.ndim == 1]
    out: dict[str, str] = {}
    for part in ("train", "test", "valid", "val"):
        xi = [k for k in imgs if k.lower().endswith(part)]
        yi = [k for k in labels if k.lower().endswith(part)]
        if xi and yi:
            out[f"x_{SPLIT_NAMES[part]}"], out[f"y_{SPLIT_NAMES[part]}"] = xi[0], yi[0]
    if "x_train" in out and "x_test" in out:
        return out
    def pick(keys, prefs):
        return next((k for p in prefs for k in keys if k.lower() == p), keys[0] if keys else None)

    x = pick(imgs, ("x", "images", "data", "x_all", "imgs"))
    y = next((k for k in labels if x is not None and len(arrays[k]) == len(arrays[x])
              and k.lower() in ("y", "labels", "label", "targets", "target")), None) or \
        next((k for k in labels if x is not None and len(arrays[k]) == len(arrays[x])), None)
    if x is None or y is None:
        raise DataError("the .npz file needs an image array (N x H x W [x C]) and a label array of the same length; "
                        f"it holds {', '.join(f'{k}{tuple(v.shape)}' for k, v in arrays.items())}")
    return {"x": x, "y": y}


def idx_pairs(path: Path) -> dict[str, tuple[str, str]]:
    """split -> (images file, labels file) among the IDX files of a folder (train-*/t10k-* as train/test)."""
    folder = path if path.is_dir() else path.parent
    files = _idx_files(folder)
    images = [f for f in files if "idx3" in f.name and (path.is_dir() or f == path)]
    out = {}
    for img in images:
        prefix = img.name.split("-images")[0].split("-idx3")[0]
        lab = next((f for f in files if "idx1" in f.name and f.name.startswith(prefix)), None)
        if lab is None:
            raise DataError(f"no labels file (…{prefix}…idx1-ubyte) beside {img.name}")
        split = "test" if prefix.startswith(("t10k", "test")) else "train" if prefix.startswith("train") else "all"
        out[split] = (img.name, lab.name)
    if set(out) == {"test"}:  # only the test files (as in our MNIST copy): one pool to split
        out = {"all": out["test"]}
    return out


def csv_columns(df) -> tuple[str, list[str]]:
    path_col = next(c for c in df.columns if df[c].astype(str).str.contains(PATH_COLUMN).mean() > 0.8)
    return path_col, [c for c in df.columns if c != path_col]


def resolve_image_path(base: Path, rel: str) -> Path | None:
    """A CSV's image path: as given, beside the CSV, or in one of the CSV folder's subfolders."""
    cands = [Path(rel), base / rel] + [d / rel for d in sorted(base.iterdir()) if d.is_dir()]
    return next((c for c in cands if c.is_file()), None)


class ImageTask(ModalityTask):
    tasks = ("image_classification",)
    modality = "image"
    template_dir = "image"
    probe_train = 1200
    probe_valid = 500
    probe_pretrained = 200  # train and validation images a pretrained backbone's probe uses (a large network)
    # the modalities' share (2.5% of the budget): the compact CNN's probe tells it from the MLP and the HOG models on
    # 600 images (MNIST, two epochs: CNN 0.83, pixel MLP 0.80, HOG + SVM 0.91, HOG + logistic 0.93 validation accuracy;
    # each extrapolated with its own fitted curve), and planning's wall time is charged to the budget

    def accepts(self, path: str) -> bool:
        return detect_format(path) is not None

    # ---------------------------------------------------------------- data agent
    def peek(self, path: str) -> dict[str, Any]:
        fmt = detect_format(path)
        out: dict[str, Any] = {"name": Path(path).stem, "modality": "image", "format": fmt}
        if fmt == "csv":
            import pandas as pd

            df = pd.read_csv(path, sep=None, engine="python")
            out["columns"] = [str(c) for c in df.columns]
            out["values"] = {c: df[c].dropna().unique()[:20].tolist() for c in df.columns if df[c].nunique() <= 20}
            out["nunique"] = {c: int(df[c].nunique()) for c in df.columns}
            out["rows"] = len(df)
        return out

    def profile(self, path: str, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        p = Path(path).expanduser()
        fmt = detect_format(path)
        if fmt is None:
            raise DataError(f"{path} holds no images I can read (npz arrays, IDX files, a folder per class, "
                            "or a CSV of image paths and labels)")
        notes: list[str] = []
        extra: dict[str, Any] = {"format": fmt}
        given: dict[str, int] = {}
        if fmt == "npz":
            arrays = _npz_arrays(p)
            keys = npz_keys(arrays)
            extra["npz_keys"] = keys
            xs = [arrays[keys[k]] for k in keys if k.startswith("x")]
            labels = np.concatenate([arrays[keys[k]] for k in keys if k.startswith("y")])
            shape = xs[0].shape[1:]
            given = {k[2:]: len(arrays[keys[k]]) for k in keys if k.startswith("x_")}
            sample = xs[0][:64]
        elif fmt == "idx":
            pairs = idx_pairs(p)
            extra["idx_folder"] = str(p if p.is_dir() else p.parent)
            extra["idx_pairs"] = pairs
            folder = Path(extra["idx_folder"])
            ys = {s: read_idx(folder / lab) for s, (_, lab) in pairs.items()}
            labels = np.concatenate(list(ys.values()))
            first = read_idx(folder / next(iter(pairs.values()))[0])
            shape, sample = first.shape[1:], first[:64]
            given = {s: len(v) for s, v in ys.items() if s != "all"}
            if "all" in pairs:
                notes.append(f"one set of IDX files ({pairs['all'][0]}): split it at random")
        else:
            items = self.file_items(p, fmt, req)
            labels = np.asarray([lab for _, lab, _ in items], dtype=object)
            given = {s: sum(1 for *_, sp in items if sp == s) for s in {sp for *_, sp in items if sp}}
            shape, sample, mode_notes = self._file_sizes([f for f, _, _ in items], seed)
            notes += mode_notes
            extra["label_column"] = getattr(self, "_label_column", None)
            extra["path_column"] = getattr(self, "_path_column", None)
        h, w = int(shape[0]), int(shape[1])
        channels = 1 if len(shape) == 2 else int(shape[-1] if shape[-1] in (1, 3, 4) else shape[0])
        extra.update(height=h, width=w, channels=min(channels, 3), dtype=str(sample.dtype),
                     pixel_range=[float(np.min(sample)), float(np.max(sample))])
        if channels == 4:
            notes.append("images have an alpha channel: it is dropped (RGB)")
        cc, imb = class_report(list(labels))
        if len(cc) < 2:
            raise DataError(f"the images have a single class ({next(iter(cc))!r}); classification needs two or more")
        small = [k for k, v in cc.items() if v < 2]
        if small:
            raise DataError(f"class {small[0]!r} has a single image; every class needs at least two to be split")
        n = len(labels)
        user = req.dataset[0].split if req.dataset else None
        if given.get("train") and given.get("test"):
            valid_n = given.get("valid") or int(np.ceil(0.1 * given["train"]))
            sizes = {"train": given["train"] - (0 if given.get("valid") else valid_n), "valid": valid_n,
                     "test": given["test"]}
            split = {"method": "given train/test split" + (" and valid split" if given.get("valid") else
                                                            "; valid carved from train (stratified, 10%)"),
                     "seed": seed, "sizes": sizes, "ratios": {k: round(v / n, 4) for k, v in sizes.items()},
                     "test_size": 0.0, "valid_size_of_rest": 0.1}
        else:
            split = random_split(n, user, seed, stratified=True)
        extra["image_size"] = min(h, w) if fmt in ("npz", "idx") else int(min(max(h, w), 224))
        extra["n_classes"] = len(cc)
        report = DataReport(path=str(p.resolve()), modality="image", rows=n, columns=h * w * min(channels, 3),
                            target=req.target or extra.get("label_column") or "label", class_counts=cc,
                            imbalance_ratio=imb, split=split, notes=notes + self.pool_notes(req.task or "", DataReport(
                                path="", split=split)), extra=extra)
        report.features = [f"{h}x{w}x{min(channels, 3)} pixels"]
        return report, {"path": str(p)}

    def checkpoint(self, what: str) -> tuple[str | None, str]:
        if not importable("transformers"):
            return None, "transformers is not installed"
        return local_vision_model()

    # ---------------------------------------------------------------- file-based data
    def file_items(self, p: Path, fmt: str, req: Requirements) -> list[tuple[Path, str, str | None]]:
        """(image file, label, given split or None) for folder, split_folder and csv formats."""
        items: list[tuple[Path, str, str | None]] = []
        if fmt == "folder":
            for d in _class_dirs(p):
                items += [(f, d.name, None) for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        elif fmt == "split_folder":
            for sub in sorted(d for d in p.iterdir() if d.is_dir() and d.name.lower() in SPLIT_NAMES):
                for d in _class_dirs(sub):
                    items += [(f, d.name, SPLIT_NAMES[sub.name.lower()]) for f in sorted(d.iterdir())
                              if f.suffix.lower() in IMAGE_SUFFIXES]
        else:
            import pandas as pd

            df = pd.read_csv(p, sep=None, engine="python")
            path_col, others = csv_columns(df)
            label = req.target if req.target in others else next(
                (c for c in others if str(c).lower() in ("label", "labels", "class", "category", "target", "y")),
                None) or next((c for c in others if df[c].nunique() < max(2, 0.5 * len(df))), None)
            if label is None:
                raise DataError(f"{p.name} has image paths in '{path_col}' but no label column; columns: "
                                + ", ".join(map(str, df.columns)))
            self._label_column, self._path_column = str(label), str(path_col)
            missing = []
            for rel, lab in zip(df[path_col].astype(str), df[label]):
                f = resolve_image_path(p.parent, rel)
                if f is None:
                    missing.append(rel)
                elif not pd.isna(lab):
                    items.append((f, str(lab), None))
            if missing:
                raise DataError(f"{len(missing)} image path(s) in {p.name} do not exist (first: {missing[0]}); paths "
                                "are looked up as given, beside the CSV and in its subfolders")
        if not items:
            raise DataError(f"no image files found under {p}")
        return items

    def _file_sizes(self, files: list[Path], seed: int) -> tuple[tuple[int, ...], np.ndarray, list[str]]:
        try:
            from PIL import Image
        except ImportError:
            raise DataError("reading image files needs Pillow: pip install pillow") from None
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(files), size=min(SIZE_SAMPLE, len(files)), replace=False)
        sizes, modes = [], set()
        for i in pick:
            with Image.open(files[i]) as im:
                sizes.append(im.size)
                modes.add(im.mode)
        ws, hs = zip(*sizes)
        channels = 1 if modes <= {"L", "1", "I;16", "I"} else 3
        notes = []
        if len(set(sizes)) > 1:
            notes.append(f"image sizes vary ({min(ws)}-{max(ws)} x {min(hs)}-{max(hs)} px): all are resized to one "
                         "square size")
        with Image.open(files[pick[0]]) as im:
            sample = np.asarray(im.convert("L" if channels == 1 else "RGB"))
        return (int(np.median(hs)), int(np.median(ws)), channels), sample, notes

    # ---------------------------------------------------------------- model agent / operation agent
    def context(self, plan, req, report, settings):
        ctx = self.base_context(plan, req, report, settings)
        ex = report.extra
        ctx.update(fmt=ex["format"], channels=ex["channels"], height=ex["height"], width=ex["width"],
                   native_size=ex["image_size"], npz_keys=ex.get("npz_keys", {}), idx_pairs=ex.get("idx_pairs", {}),
                   idx_folder=ex.get("idx_folder", ""), label_column=ex.get("label_column"),
                   path_column=ex.get("path_column"), digits_like=ex["channels"] == 1)
        return ctx

    def item_work(self, report: DataReport) -> float:
        """Pixels x channels over an MNIST digit's (28 x 28 x 1)."""
        ex = report.extra
        return float(ex.get("height", 28) * ex.get("width", 28) * ex.get("channels", 1)) / 784

    def shrink(self, ns: dict[str, Any], seed: int, effort: float = 1.0) -> None:
        rng = np.random.default_rng(seed)
        for part, n in (("train", max(self.probe_min_items, int(self.probe_train * effort))), ("valid", self.probe_valid)):
            X, y = ns[f"X_{part}"], ns[f"y_{part}"]
            if len(y) > n:
                idx = rng.choice(len(y), size=n, replace=False)
                ns[f"X_{part}"], ns[f"y_{part}"] = X[idx], y[idx]
        ns["PROBE_N"], ns["PROBE_VALID_N"] = len(ns["y_train"]), len(ns["y_valid"])

    def probe_inputs(self, ns: dict[str, Any]) -> None:
        X_valid, y_valid = ns["X_valid"], ns["y_valid"]
        X_train, y_train = ns["X_train"], ns["y_train"]
        if "VISION_MODEL" in ns:  # a pretrained backbone costs a large network's forward pass per image
            X_valid, y_valid = X_valid[:self.probe_pretrained], y_valid[:self.probe_pretrained]
            X_train, y_train = X_train[:self.probe_pretrained], y_train[:self.probe_pretrained]
            ns["PROBE_N"], ns["PROBE_VALID_N"] = len(y_train), len(y_valid)
        ns["PROBE_TRAIN"] = (ns["inputs"](X_train), y_train)
        ns["PROBE_VALID"] = (ns["inputs"](X_valid), y_valid)
        ns["PROBE_ITEMS"] = X_valid
