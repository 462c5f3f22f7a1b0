"""Offline manager rules: knowledge summary, P diverse plans, and revision after a failure."""
from __future__ import annotations

from typing import Any

from ...knowledge import model_entry
from ...schema import DataAnalysis, DataReport, KnowledgeItem, KnowledgeSummary, Plan, PlanSet, Requirements, Revision

# (title, strategy, recipe, model keys in order of preference) per task family
BLUEPRINTS: dict[str, list[tuple[str, str, str, list[str]]]] = {
    "supervised": [
        ("Gradient-boosted trees", "Boosted decision trees on raw numeric features: the strongest default on "
         "medium tabular data.", "trees", ["lightgbm", "xgboost", "hist_gradient_boosting"]),
        ("Bagged tree ensembles", "Randomised tree ensembles: robust with little tuning, low variance.", "trees",
         ["extra_trees", "random_forest"]),
        ("Kernel, neighbour and neural models on scaled features", "Distance- and gradient-based models on "
         "standardised features: strong when classes form smooth regions.", "scaled",
         ["svm_rbf", "knn", "mlp", "logistic_regression", "ridge"]),
        ("Linear baseline", "Regularised linear model: fast, small and interpretable.", "scaled",
         ["logistic_regression", "ridge"]),
    ],
    "clustering": [
        ("k-means on standardised features", "Centroid clustering after standardisation.", "scaled",
         ["kmeans", "gaussian_mixture"]),
        ("Gaussian mixture on quantile-normalised features", "Soft elliptical clusters after a rank-based "
         "transform that tames skewed bio-signals.", "quantile", ["gaussian_mixture", "kmeans"]),
        ("Ward clustering on PCA-whitened features", "Hierarchical clustering on decorrelated components, "
         "extended to new rows by nearest centroid.", "pca", ["agglomerative", "kmeans"]),
    ],
    "image": [
        ("Convolutional network with augmentation", "A compact CNN learns spatial features end to end from scratch, "
         "regularised by random shifts, rotations and scaling.", "augmented", ["cnn"]),
        ("Pretrained vision backbone", "A pretrained backbone found on this machine (ResNet / ConvNeXt / ViT class): "
         "fine-tuned end to end with a new head and augmentation, or frozen with a tuned linear classifier on its "
         "features; offered only when transformers and a local checkpoint are present.", "pretrained",
         ["vision_finetune", "vision_linear_probe"]),
        ("Hand-crafted HOG features + classical models", "Histograms of oriented gradients plus downsampled pixels "
         "with an RBF SVM or logistic regression: strong on small images without a GPU.", "hog",
         ["hog_svm", "hog_logreg"]),
        ("Multi-layer perceptron on pixels", "A two-hidden-layer network on standardised pixels: fast, no spatial "
         "prior, light shift augmentation.", "pixels", ["pixel_mlp"]),
    ],
    "text": [
        ("Word n-gram TF-IDF + linear models", "Sparse word unigrams and bigrams with sublinear TF-IDF, linear "
         "classifiers tuned on the validation split: the strong, fast text baseline.", "word_tfidf",
         ["text_linear_svm", "text_logreg", "text_nb"]),
        ("Fine-tuned pretrained transformer", "A pretrained transformer checkpoint found on this machine, "
         "fine-tuned end to end on its own subword tokens (sentence pairs encoded jointly) within the time budget; "
         "offered only when transformers and a local checkpoint are present.", "subword", ["transformer_finetune"]),
        ("Character n-gram TF-IDF + linear models", "Character 2-5-grams catch misspellings, obfuscation and "
         "morphology that word features miss.", "char_tfidf", ["text_logreg", "text_linear_svm"]),
        ("Neural bag of n-gram embeddings", "fastText-style embeddings of words and word bigrams learned on the "
         "task; an interaction head for sentence pairs.", "tokens", ["text_embedding_bag"]),
    ],
    "time_series": [
        ("Decomposition linear models (DLinear / NLinear)", "Channel-independent linear maps from the input "
         "window to the horizon, on trend/seasonal parts (DLinear) or relative to the last value (NLinear).",
         "standard", ["dlinear", "nlinear"]),
        ("Small neural forecasters with instance normalisation", "A channel-independent MLP and a GRU on "
         "windows normalised per instance (RevIN): non-linear patterns, robust to level drift.", "revin",
         ["mlp_forecast", "gru_forecast"]),
        ("Closed-form direct ridge regression", "One ridge regression per horizon step, fitted exactly on all "
         "train windows: deterministic and instant.", "standard", ["ridge_forecast"]),
    ],
    "graph": [
        ("Graph convolution (GCN / SGC)", "Spectral-style neighbourhood averaging: two-layer GCN, and SGC's "
         "pre-propagated linear model.", "row_normalized", ["gcn", "sgc"]),
        ("Graph attention (GAT)", "Attention weights per edge, eight heads: neighbours count unequally.",
         "row_normalized", ["gat"]),
        ("GraphSAGE on raw features", "Separate self and neighbour weights with mean aggregation, on the binary "
         "features as given: works for nodes unseen in training.", "raw_features", ["graphsage"]),
    ],
}
FAMILY_OF_TASK = {"tabular_clustering": "clustering", "image_classification": "image", "text_classification": "text",
                  "time_series_forecasting": "time_series", "node_classification": "graph"}


def summarise_knowledge(items: list[KnowledgeItem]) -> KnowledgeSummary:
    return KnowledgeSummary(insights=[f"{i.title}: {i.text}" for i in items if i.kind in ("insight", "preprocessing")])


def make_plans(req: Requirements, report: DataReport, pool: list[str], n_plans: int, top_k: int) -> PlanSet:
    family = FAMILY_OF_TASK.get(req.task or "", "supervised")
    preferred = [m.name for m in req.model if m.name in pool]
    blueprints = list(BLUEPRINTS[family])
    plans: list[Plan] = []
    if preferred:
        recipe = model_entry(preferred[0]).get("preprocessing", "trees")
        extra = [k for bp in blueprints for k in bp[3] if model_entry(k).get("preprocessing") == recipe]
        blueprints.insert(0, ("Your preferred models", "The models named in the request, tuned, with the "
                              "closest alternatives as back-up.", recipe, preferred + extra))
    seen: set[tuple[str, ...]] = set()
    extra = 1 if family == "supervised" else 0  # tables: one family more, the model agent's probes keep the top-k
    for title, strategy, recipe, keys in blueprints:
        models = [k for k in dict.fromkeys(keys) if k in pool][:top_k + extra]
        if not models or tuple(models) in seen:
            continue
        seen.add(tuple(models))
        prep: dict[str, Any] = {"recipe": recipe}
        if req.task == "tabular_regression" and report.target_summary.get("min", -1) >= 0:
            # RMSLE is RMSE on the log1p scale; for other metrics the train cell tries both scales on validation
            metrics = [m.name for m in req.problem.performance_metrics]
            prep["target_transform"] = "log1p" if metrics[:1] in (["rmsle"], ["msle"]) else "auto"
        plans.append(Plan(id=f"P{len(plans) + 1}", title=title, strategy=strategy, preprocessing=prep,
                          model_families=models))
        if len(plans) == n_plans:
            break
    return PlanSet(plans=plans)


def analyse_data(req: Requirements, report: DataReport, plan: Plan, recipe_text: str) -> DataAnalysis:
    if report.modality != "tabular":
        return _analyse_modality(report, plan)
    steps = [f"Read {report.rows} rows x {report.columns} columns from {report.path.rsplit('/', 1)[-1]}."]
    steps += report.notes
    for col, why in report.dropped_columns.items():
        steps.append(f"Drop '{col}': {why}.")
    r = report.split["ratios"]
    steps.append(f"Split {int(r['train'] * 100)}/{int(r['valid'] * 100)}/{int(r['test'] * 100)} train/valid/test "
                 f"({report.split['method']}, seed {report.split['seed']}); the test split is touched only by the "
                 "final evaluation.")
    steps.append(f"Preprocess inside the model pipeline, fitted on train rows only: {recipe_text}.")
    if plan.preprocessing.get("target_transform") == "log1p":
        steps.append("Fit on log1p(target) and invert with expm1, since RMSLE is RMSE on that scale.")
    elif plan.preprocessing.get("target_transform") == "auto":
        steps.append("Fit the first configuration on the raw target and on log1p(target); keep the scale that "
                     "scores better on the validation split.")
    if req.task == "tabular_classification" and len(report.class_counts) == 2:
        steps.append("Tune the decision threshold for F1 on the validation split.")
    if report.imbalance_ratio and report.imbalance_ratio > 3:
        steps.append(f"Classes are imbalanced ({report.imbalance_ratio}:1): stratify and tune the threshold.")
    summary = (f"{len(report.features)} features ({sum(1 for c in report.column_profiles if c.kind == 'numeric')} "
               f"numeric), {report.missing_cells} missing cells, {report.duplicate_rows} duplicate rows; "
               f"expected processed train set: {report.split['sizes']['train']} rows.")
    return DataAnalysis(summary=summary, steps=steps)


def _analyse_modality(report: DataReport, plan: Plan) -> DataAnalysis:
    """Image, text, time-series and graph data: the profile's own lines, the split, the plan's recipe."""
    from ...knowledge import catalogue

    recipe = plan.preprocessing.get("recipe", "")
    steps = list(report.extra.get("profile_lines", [])) + list(report.notes)
    sizes = report.split.get("sizes", {})
    steps.append(f"Split: {report.split.get('method')} - {sizes.get('train')} train / {sizes.get('valid')} valid / "
                 f"{sizes.get('test')} test; the test part is touched only by the final evaluation.")
    steps.append("Preprocess (fitted on the train split only): "
                 + catalogue().get("recipes", {}).get(recipe, {}).get("text", recipe) + ".")
    return DataAnalysis(summary=report.extra.get("summary", ""), steps=steps)


def revise(req: Requirements, tried: list[Plan], remaining: list[Plan], failure: dict[str, Any]) -> Revision:
    """Next plan after a failed implementation: the best untried one, adjusted to the failed check."""
    failed = set(failure.get("failed_checks", []))
    if not remaining:
        return Revision(reason="no untried plan is left", plan=None)
    if failed & {"inference_latency", "model_size", "inference_time_total"}:
        fast = sorted(remaining, key=lambda p: min((c.predicted_latency_ms or 1e9) for c in p.candidates)
                      if p.candidates else 1e9)
        return Revision(reason=f"measured {', '.join(sorted(failed))} missed the limit; trying the plan with the "
                        f"lowest predicted latency", plan=fast[0])
    return Revision(reason=f"{', '.join(sorted(failed)) or 'the run'} failed; trying the next-ranked plan",
                    plan=remaining[0])
