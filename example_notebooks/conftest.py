"""nbval runs the example notebooks; the run folders they write (runs/*/pipeline.ipynb) are outputs, not tests."""
collect_ignore_glob = ["runs/*"]
