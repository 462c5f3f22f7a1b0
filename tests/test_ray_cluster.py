"""A real local Ray cluster: a head (no CPUs of its own) and a worker started with `ray start` as separate
processes on 127.0.0.1 (benchmarks/ray_local.py, which starts a node again when it misses Ray's start-up
limits on a busy machine); a tabular run with cluster=<head address> fits its trials as Ray tasks, and a
race runs its plans as Ray actors, and Ray's own state API shows they ran on the worker node. One cluster
for the module. Real data (banana_quality, 2,000 rows)."""
from __future__ import annotations

import pytest
from shared_data import banana_sample

ray = pytest.importorskip("ray")
from ray.util.state import list_actors, list_tasks

from automl_agent_jupyter import AutoMLAgent
from benchmarks.ray_local import ClusterDidNotStart
from benchmarks.ray_local import local_cluster as start_cluster


@pytest.fixture(scope="module")
def local_cluster():
    try:
        with start_cluster(workers=1, cpus_per_worker=2) as cluster:
            yield {**cluster, "worker_node": cluster["worker_nodes"][0]}
    except ClusterDidNotStart as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def bananas(tmp_path_factory):
    return banana_sample(tmp_path_factory.mktemp("ray"), rows=2000)


def test_a_tabular_run_fits_its_trials_on_the_clusters_worker(local_cluster, bananas, tmp_path):
    run = AutoMLAgent(budget_s=12, n_plans=1, top_k=2, cluster=local_cluster["address"]).run(
        "Classify banana quality as Good or Bad", data=str(bananas), out=tmp_path / "run")
    assert run.status == "succeeded", run.message
    assert run.metrics["f1"] > 0.8
    tasks = list_tasks(address=local_cluster["api"], filters=[("name", "=", "fit_on_worker")], detail=True)
    assert len(tasks) >= 2 and all(t.node_id == local_cluster["worker_node"] for t in tasks)
    assert {t.state for t in tasks} <= {"FINISHED", "FAILED"} and any(t.state == "FINISHED" for t in tasks)
    source = (run.folder / "pipeline.py").read_text()
    assert f"CLUSTER = '{local_cluster['address']}'" in source and "ray.put(" in source
    assert "on the cluster" in next(a.stdout_tail for a in run.record.attempts if a.stage == "train" and a.ok)


def test_a_race_runs_its_plans_as_actors_on_the_clusters_worker(local_cluster, bananas, tmp_path):
    run = AutoMLAgent(budget_s=15, n_plans=2, top_k=2, race=True, cluster=local_cluster["address"]).run(
        "Classify banana quality as Good or Bad", data=str(bananas), out=tmp_path / "race")
    assert run.status == "succeeded", run.message
    race = run.record.race
    assert race["where"] == "ray cluster" and len(race["plans"]) == 2
    assert all(r["worker"] == "ray actor" and r["node"] == local_cluster["worker_node"] for r in race["plans"]
               if r["status"] in ("trained", "winner"))
    scores = {r["plan"]: r["valid"]["f1"] for r in race["plans"] if r["valid"]}
    assert race["winner"] == max(scores, key=scores.get) == run.record.selected_plan
    actors = [a for a in list_actors(address=local_cluster["api"], detail=True) if a.class_name == "_RayLane"]
    assert len(actors) >= len(scores) and all(a.node_id == local_cluster["worker_node"] for a in actors)
    assert all(a.required_resources == {"CPU": 1.0} for a in actors)  # no GPU asked for a tabular plan
