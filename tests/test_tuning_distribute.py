"""keras_entropy.tuning.distribute: a chief and two workers on 127.0.0.1, as processes."""

import json
import os
import sys
import time

import pytest

from keras_entropy.tuning.distribute.cluster import CHIEF_ID, LoopbackCluster, free_port
from keras_entropy.tuning.distribute.cluster import main as cluster_main

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEARCH_SCRIPT = os.path.join(ROOT, "tests", "scripts", "tuning_cluster_search.py")


def test_cluster_command_line_checks():
    with pytest.raises(SystemExit):
        cluster_main(["--workers", "2"])  # no command
    with pytest.raises(SystemExit):
        cluster_main(["--workers", "0", "--", "python", "-c", "pass"])
    port = free_port()
    assert 0 < port < 65536


def _cluster(tmp_path, trials, sleep, timeout, heartbeat):
    env = {
        "KERAS_BACKEND": "jax",  # the lightest backend to start (see the handoff notes)
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SEARCH_DIR": str(tmp_path / "search"),
        "SEARCH_RUN_LOG": str(tmp_path / "runs.jsonl"),
        "SEARCH_TRIALS": str(trials),
        "SEARCH_SLEEP": str(sleep),
        "SEARCH_TIMEOUT": str(timeout),
        "SEARCH_HEARTBEAT": str(heartbeat),
    }
    return LoopbackCluster(
        [sys.executable, SEARCH_SCRIPT], workers=2, env=env, log_dir=str(tmp_path / "logs"), echo=False, cwd=ROOT
    )


def _run_log(tmp_path):
    path = tmp_path / "runs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _chief_line(cluster, prefix):
    lines = [line for line in cluster.log(CHIEF_ID).splitlines() if line.startswith(prefix)]
    assert lines, cluster.log(CHIEF_ID)[-3000:]
    return lines[-1][len(prefix) :]


def _project_trials(tmp_path):
    project = tmp_path / "search" / "search"
    return {
        json.loads(p.read_text())["trial_id"]: json.loads(p.read_text()) for p in project.glob("trial_*/trial.json")
    }


def test_chief_and_two_workers_run_every_trial_exactly_once(tmp_path):
    cluster = _cluster(tmp_path, trials=4, sleep=0.0, timeout=600, heartbeat=2)
    try:
        cluster.start()
        codes = cluster.wait(timeout=400, grace=60)
        assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}, cluster.log(CHIEF_ID)[-3000:]
    finally:
        cluster.close()
    assert not cluster.running()
    runs = _run_log(tmp_path)
    starts = [r["trial_id"] for r in runs if r["event"] == "start"]
    ends = [r["trial_id"] for r in runs if r["event"] == "end"]
    assert sorted(starts) == sorted(ends) == ["0", "1", "2", "3"]  # each exactly once
    trials = _project_trials(tmp_path)
    assert sorted(trials) == ["0", "1", "2", "3"]
    assert all(t["status"] == "COMPLETED" for t in trials.values())
    best = json.loads(_chief_line(cluster, "BEST "))
    assert best["objective"] == "val_loss"
    assert best["score"] == min(t["score"] for t in trials.values())
    assert _chief_line(cluster, "EXPORTED ").strip() == "4"
    assert json.loads(_chief_line(cluster, "REISSUED ")) == []


def test_a_killed_worker_does_not_lose_the_search(tmp_path):
    trials = 5
    cluster = _cluster(tmp_path, trials=trials, sleep=1.5, timeout=6, heartbeat=0.5)
    try:
        cluster.start()
        deadline = time.monotonic() + 400
        victim = None
        while victim is None:  # the first worker seen running a trial is killed
            assert time.monotonic() < deadline, "no worker started a trial"
            assert cluster.processes[CHIEF_ID].poll() is None, cluster.log(CHIEF_ID)[-3000:]
            runs = _run_log(tmp_path)
            if runs and runs[0]["event"] == "start":
                victim, killed_trial = runs[0]["tuner_id"], runs[0]["trial_id"]
            time.sleep(0.1)
        cluster.kill(victim)
        survivor = "tuner1" if victim == "tuner0" else "tuner0"
        codes = cluster.wait(timeout=400, grace=60)
        assert codes[CHIEF_ID] == 0, cluster.log(CHIEF_ID)[-3000:]
        assert codes[survivor] == 0, cluster.log(survivor)[-3000:]
        assert codes[victim] != 0
    finally:
        cluster.close()
    assert not cluster.running()
    runs = _run_log(tmp_path)
    ends = [r for r in runs if r["event"] == "end"]
    assert not any(r["tuner_id"] == victim and r["trial_id"] == killed_trial for r in ends)
    assert any(r["tuner_id"] == survivor and r["trial_id"] == killed_trial for r in ends)
    expected = [str(i) for i in range(trials)]
    assert sorted({r["trial_id"] for r in ends}) == expected  # every trial finished
    project = _project_trials(tmp_path)
    assert sorted(project) == expected
    assert all(t["status"] == "COMPLETED" for t in project.values())
    assert killed_trial in json.loads(_chief_line(cluster, "REISSUED "))
    best = json.loads(_chief_line(cluster, "BEST "))
    assert best["score"] == min(t["score"] for t in project.values())
