"""AutoML-Agent benchmark suite: the paper's SR / NPS / CS, against FLAML and AutoGluon.

Run from the repository root: ``python -m benchmarks`` (see benchmarks/README.md).
"""
