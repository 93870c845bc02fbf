"""
The published pages agree with the raw results they are generated from, every published run keeps its raw results,
and the scripts that build them keep their figures.
"""

import json
import os
import subprocess
import sys
import tarfile

import pandas as pd
import pytest
from conftest import ROOT, load_script


def test_every_generated_block_is_current():
    """``benchmarks/docs.py --check``: no page block is stale, and every block has a generator and a place."""
    command = [sys.executable, str(ROOT / "benchmarks" / "docs.py"), "--check"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, f"run python benchmarks/docs.py:\n{completed.stdout}{completed.stderr[-2000:]}"


def test_a_figure_typed_into_a_block_is_found_and_overwritten():
    docs = load_script("docs")
    page = (ROOT / "docs" / "benchmark.md").read_text()
    blocks = docs.pages()["docs/benchmark.md"]
    edited = page.replace("| npg | 5/5 |", "| npg | 4/5 |", 1)
    new, problems = docs.refresh(edited, blocks)
    assert edited != page and new == page and problems == ["block 'table-CartPole-v1' is stale"]


@pytest.mark.parametrize("folder", sorted(path.parent.relative_to(ROOT) for path in (ROOT / "docs").rglob("runs.csv")))
def test_every_published_run_has_its_raw_results(folder):
    """
    Each row of each committed ``runs.csv`` under docs/ keeps its run folder's ``spec.json`` and ``result.json``:
    beside it, or in the experiment's packed archive ``runs.tar.xz`` when there is one.
    """
    runs = pd.read_csv(ROOT / folder / "runs.csv")
    finished = runs[runs["status"] == "finished"]["run_dir"]
    if (archive := ROOT / folder / "runs.tar.xz").is_file():
        with tarfile.open(archive) as tar:
            packed = {os.path.normpath(name) for name in tar.getnames()}
        missing = [run for run in finished if not all(f"{run}/{name}" in packed for name in ("spec.json", "result.json"))]
    else:
        missing = [
            run for run in finished if not all((ROOT / folder / run / name).is_file() for name in ("spec.json", "result.json"))
        ]
    assert not missing, f"{folder}/runs.csv rows whose run folder lacks spec.json or result.json: {missing}"


def test_train_logs_reads_progress_csv_and_keeps_the_rows_of_runs_without_one(tmp_path):
    """updates.csv: read from each finished run's progress.csv; a run without one keeps its rows; others are dropped."""
    train_logs = load_script("train_logs")

    def run(algo: str, seed: int, progress: str | None, finished: bool = True) -> None:
        folder = tmp_path / "Pendulum-v1" / algo / f"seed_{seed}"
        (folder / algo / "Pendulum-v1_1").mkdir(parents=True)
        (folder / "spec.json").write_text(json.dumps({"env_id": "Pendulum-v1", "algo": algo, "seed": seed}))
        (folder / "result.json").write_text("{}") if finished else None
        (folder / algo / "Pendulum-v1_1" / "progress.csv").write_text(progress) if progress else None

    log = "time/total_timesteps,train/n_updates,train/kl_divergence,rollout/ep_rew_mean\n2048,,,-1200\n4096,7,0.0042,-1100\n"
    run("npg", 0, log)  # re-trained with a log: read from it, the rollout-only row left out
    run("npg", 1, None)  # trained before the logs were kept: kept
    run("trpo", 0, None)  # neither a log nor earlier rows
    run("ppo", 0, log)  # not an algorithm updates.csv covers
    run("npg", 2, log, finished=False)  # unfinished
    old = [
        {"env": "Pendulum-v1", "algo": "npg", "seed": seed, "total_timesteps": 8, "n_updates": 1, "kl": 0.5}
        for seed in (0, 1, 9)
    ]
    pd.DataFrame(old).reindex(columns=train_logs.COLUMNS).to_csv(tmp_path / "updates.csv", index=False)

    rows, counts = train_logs.collect(tmp_path)
    assert counts == {"read": 1, "kept": 1, "missing": 1}
    expected = [["0", "7", "0.0042", "4096"], ["1", "1", "0.5", "8"]]
    assert rows[["seed", "n_updates", "kl", "total_timesteps"]].values.tolist() == expected
    # Once the env's runs have all finished, the log is read from the env's archive: the same rows
    progress = tmp_path / "Pendulum-v1" / "npg" / "seed_0" / "npg" / "Pendulum-v1_1" / "progress.csv"
    with tarfile.open(tmp_path / "Pendulum-v1" / "zoo_runs.tar.xz", "w:xz") as archive:
        archive.add(progress, arcname="npg/seed_0/npg/Pendulum-v1_1/progress.csv")
    progress.unlink()
    assert train_logs.collect(tmp_path)[0][["seed", "n_updates", "kl", "total_timesteps"]].values.tolist() == expected


def test_gradient_tables_give_the_first_batch_size_whose_cosine_reaches_a_level():
    """docs/gradients.md's "B to cos 0.9": the smallest measured ``B`` at that level, ``<= B_min``, or ``> B_max``."""
    studies = load_script("docs_studies")
    sizes = pd.Series([256, 512, 1024, 2048])
    assert studies.first_batch(sizes, pd.Series([0.2, 0.45, 0.55, 0.93]), 0.5) == "1,024"
    assert studies.first_batch(sizes, pd.Series([0.2, 0.45, 0.55, 0.93]), 0.9) == "2,048"
    assert studies.first_batch(sizes, pd.Series([0.6, 0.7, 0.8, 0.85]), 0.5) == "<= 256"
    assert studies.first_batch(sizes, pd.Series([0.6, 0.7, 0.8, 0.85]), 0.9) == "> 2,048"
