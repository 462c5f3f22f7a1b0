"""Node classification on Planetoid citation graphs (Cora, CiteSeer, PubMed): the raw ``ind.<name>.*`` files
read from a local folder through torch_geometric's Planetoid (no download), the public split, and the
cells (templates/graph)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..schema import DataReport, Requirements
from .modality import ModalityTask, class_report, importable

PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}


def planetoid_files(path: str) -> tuple[Path, str] | None:
    """(folder, dataset name) when ``path`` is a folder (or a file in one) with the eight ind.<name>.* files."""
    p = Path(path).expanduser()
    folder = p if p.is_dir() else p.parent
    try:
        names = {m.group(1) for f in folder.iterdir() if (m := re.match(r"ind\.(\w+)\.x$", f.name))}
    except OSError:
        return None
    for name in sorted(names):
        if all((folder / f"ind.{name}.{part}").exists() for part in PARTS) and \
                (p.is_dir() or p.name.startswith(f"ind.{name}.")):
            return folder, name
    return None


class GraphTask(ModalityTask):
    tasks = ("node_classification",)
    modality = "graph"
    template_dir = "graph"
    probe_epochs = 50  # full-batch epochs every GNN trains for in its probe (of its catalogue max_epochs)

    def accepts(self, path: str) -> bool:
        return planetoid_files(path) is not None

    # ---------------------------------------------------------------- data agent
    def peek(self, path: str) -> dict[str, Any]:
        folder, name = planetoid_files(path)  # type: ignore[misc]
        return {"name": NAMES.get(name, name), "modality": "graph", "format": "planetoid", "folder": str(folder)}

    def profile(self, path: str, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        found = planetoid_files(path)
        if found is None:
            raise DataError(f"{path} holds no Planetoid graph (the eight files ind.<name>.{{{','.join(PARTS)}}})")
        if not importable("torch_geometric"):
            raise DataError("node classification needs torch_geometric: pip install torch_geometric")
        folder, name = found
        from torch_geometric.io import read_planetoid_data
        from torch_geometric.utils import contains_isolated_nodes, is_undirected

        data = read_planetoid_data(str(folder), name)
        y = data.y.numpy()
        src, dst = data.edge_index.numpy()
        homophily = float((y[src] == y[dst]).mean())
        cc, imb = class_report(y.tolist())
        n, e, f = int(data.num_nodes), int(data.edge_index.shape[1]), int(data.x.shape[1])
        sizes = {"train": int(data.train_mask.sum()), "valid": int(data.val_mask.sum()), "test": int(data.test_mask.sum())}
        density = float((data.x > 0).float().mean())
        notes = [f"the raw Planetoid files in {folder} are read with torch_geometric's Planetoid loader; nothing is "
                 "downloaded (this also works offline)"]
        notes += self.pool_notes(req.task or "", DataReport(path="", split={"sizes": sizes}))
        isolated = bool(contains_isolated_nodes(data.edge_index, n))
        summary = (f"{NAMES.get(name, name)}: {n} nodes, {e // 2 if is_undirected(data.edge_index) else e} "
                   f"undirected edges, {f} bag-of-words features ({density:.1%} non-zero), {len(cc)} classes; "
                   f"edge homophily {homophily:.2f}")
        extra = {"name": NAMES.get(name, name), "prefix": name, "folder": str(folder), "nodes": n, "edges": e,
                 "features": f, "n_classes": len(cc), "homophily": round(homophily, 4),
                 "feature_density": round(density, 5), "isolated_nodes": isolated, "summary": summary,
                 "profile_lines": [f"Read {summary}.", "Public Planetoid split: "
                                   f"{sizes['train']} labelled train nodes (20 per class), {sizes['valid']} "
                                   f"validation and {sizes['test']} test nodes."]}
        split = {"method": "public Planetoid split (Yang et al. 2016)", "seed": seed, "sizes": sizes,
                 "ratios": {k: round(v / n, 4) for k, v in sizes.items()}}
        report = DataReport(path=str(folder.resolve()), modality="graph", rows=n, columns=f, target="node label",
                            class_counts=cc, imbalance_ratio=imb, split=split, notes=notes, extra=extra,
                            features=[f"{f} node features", "graph structure"])
        return report, {"path": str(folder)}

    # ---------------------------------------------------------------- model agent / operation agent
    def context(self, plan, req, report, settings):
        ctx = self.base_context(plan, req, report, settings)
        ctx.update(dataset_name=report.extra["name"], prefix=report.extra["prefix"],
                   fit_args="data, (TRAIN_IDX, VALID_IDX)")
        return ctx

    def probe_size(self, effort: float, report: DataReport) -> dict[str, Any]:
        """The whole graph (full-batch training); a smaller effort trains fewer epochs."""
        sizes = report.split.get("sizes", {})
        return {"items": int(sizes.get("train", 0)), "valid_items": int(sizes.get("valid", 0)),
                "epochs": max(10, round(self.probe_epochs * effort))}

    def probe_units(self, name: str, size: dict[str, Any], report: DataReport) -> float:
        """Epochs x (nodes x features + edges), over Cora's per 50 epochs."""
        ex = report.extra
        graph = (ex.get("nodes", 2708) * ex.get("features", 1433) + 50 * ex.get("edges", 10556)) / (2708 * 1433 + 50 * 10556)
        return float(graph * int(size["epochs"] or self.probe_epochs) / 50)

    def shrink(self, ns: dict[str, Any], seed: int, effort: float = 1.0) -> None:
        ns["PROBE_N"], ns["PROBE_VALID_N"] = len(ns["TRAIN_IDX"]), len(ns["VALID_IDX"])  # the whole graph

    def probe_inputs(self, ns: dict[str, Any]) -> None:
        ns["PROBE_TRAIN"], ns["PROBE_VALID"] = ns["data"], (ns["TRAIN_IDX"], ns["VALID_IDX"])
        ns["PROBE_ITEMS"] = np.asarray(ns["VALID_IDX"])
