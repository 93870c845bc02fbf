"""
The published pages agree with the raw results they are generated from, every published run keeps its raw results,
and the scripts that build them keep their figures.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable

import numpy as np
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


def packed_json(prefix: str, **source) -> dict[str, bytes]:
    """:return: the JSON files of an archive (``tarfile.open(**source)``) and of those in it, by path under ``prefix``"""
    found = {}
    with tarfile.open(**source) as tar:
        for member in filter(tarfile.TarInfo.isfile, tar):
            name, data = os.path.normpath(prefix + member.name), tar.extractfile(member)
            assert data is not None  # a regular file's member always has a reader
            if member.name.endswith(".json"):
                found[name] = data.read()
            elif member.name.endswith(".tar.xz"):
                found |= packed_json(os.path.dirname(name) + "/", fileobj=io.BytesIO(data.read()))
    return found


@pytest.mark.parametrize("folder", sorted(path.parent.relative_to(ROOT) for path in (ROOT / "docs").rglob("runs.csv")))
def test_every_published_run_has_its_raw_results(folder):
    """
    Each finished row of each committed ``runs.csv`` under docs/ keeps its run's ``spec.json`` and ``result.json`` in an
    archive: its environment's (``<env>/runs.tar.xz``, what ``python -m sb3_pg.compare`` packs), the experiment's
    (``runs.tar.xz`` beside ``runs.csv``), or its study's or candidate's (``benchmarks/study.py pack``); and its
    ``result.json`` gives the row's final return.
    """
    runs = pd.read_csv(ROOT / folder / "runs.csv")
    runs = runs[runs["status"] == "finished"]
    packed = {}
    for archive in [*(ROOT / folder).glob("*.tar.xz"), *(ROOT / folder).glob("*/runs.tar.xz")]:
        prefix = archive.parent.relative_to(ROOT / folder).as_posix() + "/"
        packed |= packed_json("" if prefix == "./" else prefix, name=archive)
    base = pd.Series("", index=runs.index)  # where the run's comparison folder is in the archive
    if "study" in runs:
        base = "recheck/" + runs["study"] + "/" + runs["candidate"] + "/"
    elif "candidate" in runs:
        base = runs["candidate"] + "/"
    paths = [os.path.normpath(path) for path in base + runs["run_dir"]]
    missing = [run for run in paths if not all(f"{run}/{name}" in packed for name in ("spec.json", "result.json"))]
    assert not missing, f"{folder}/runs.csv rows whose run lacks spec.json or result.json: {missing[:5]}"
    for run, final in zip(paths, runs["final_return"], strict=True):
        curve = json.loads(packed[f"{run}/result.json"])["evaluations"]
        budget = json.loads(packed[f"{run}/spec.json"])["n_timesteps"]
        pairs = zip(curve["timesteps"], curve["results"], strict=True)
        means = [sum(values) / len(values) for steps, values in pairs if steps <= budget]
        assert means[-1] == pytest.approx(final), f"{folder}/{run}: runs.csv's final return is not its result.json's"


def test_train_logs_reads_progress_csv_and_keeps_the_rows_of_runs_without_one(tmp_path):
    """updates.csv: read from each finished run's progress.csv; a run without one keeps its rows; others are dropped."""
    train_logs = load_script("train_logs")

    def run(algo: str, seed: int, progress: str | None, finished: bool = True) -> None:
        folder = tmp_path / "Pendulum-v1" / algo / f"seed_{seed}"
        (folder / algo / "Pendulum-v1_1").mkdir(parents=True)
        spec = {"env_id": "Pendulum-v1", "algo": algo, "seed": seed, "n_timesteps": 8, "conf_file": "", "eval_freq": 4}
        (folder / "spec.json").write_text(json.dumps(spec))
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
    with tarfile.open(tmp_path / "Pendulum-v1" / "runs.tar.xz", "w:xz") as archive:
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


def test_a_packed_sweep_unpacks_to_the_same_files_and_keeps_its_tables(tmp_path):
    """``benchmarks/study.py pack``: each candidate folder into ``<name>.tar.xz`` (models left in place), its tables
    into the sweep's CSVs with a ``candidate`` column, rows of other candidates kept; ``unpack`` gives the files back."""
    study = load_script("study")
    files = {}
    for name, final in (("a", "1.5"), ("b", "2.5")):
        for table in ("runs.csv", "summary.csv", "evaluations.csv"):
            files[f"{name}/{table}"] = f"env,algo,seed,final_return\nCartPole-v1,vpg,0,{final}\n"
        files[f"{name}/CartPole-v1/runs.tar.xz"] = "an environment's archive"
        files[f"{name}/CartPole-v1/vpg/seed_0/vpg/CartPole-v1_1/CartPole-v1.zip"] = "a model"
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    study.pack(tmp_path, "a")
    study.pack(tmp_path, "b")
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert runs[["candidate", "final_return"]].values.tolist() == [["a", 1.5], ["b", 2.5]]
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == [
        "a.tar.xz",
        "b.tar.xz",
        "evaluations.csv",
        "runs.csv",
        "summary.csv",
    ]
    assert (tmp_path / "a/CartPole-v1/vpg/seed_0/vpg/CartPole-v1_1/CartPole-v1.zip").read_text() == "a model"
    (tmp_path / "a/CartPole-v1/vpg/seed_0/vpg/CartPole-v1_1/CartPole-v1.zip").unlink()
    study.unpack(tmp_path, "a")
    assert {path: (tmp_path / path).read_text() for path in files if path.startswith("a/") and "zip" not in path} == {
        path: text for path, text in files.items() if path.startswith("a/") and "zip" not in path
    }
    (tmp_path / "a" / "summary.csv").write_text("newer")  # a file already there is newer than the archive's: kept
    study.unpack(tmp_path, "a")
    assert (tmp_path / "a" / "summary.csv").read_text() == "newer"
    (tmp_path / "a" / "summary.csv").write_text(files["a/summary.csv"])
    (tmp_path / "a" / "runs.csv").write_text("env,algo,seed,final_return\nCartPole-v1,vpg,0,9.0\n")  # retrained
    study.pack(tmp_path, "a")
    assert pd.read_csv(tmp_path / "runs.csv").set_index("candidate")["final_return"].to_dict() == {"a": 9.0, "b": 2.5}


def test_table1_normalises_per_task_by_random_and_the_best_setting_and_averages_over_common_tasks(tmp_path, monkeypatch):
    """docs/table1.md's score: ``(R - R_random) / (R_best - R_random)``, ``R_best`` the best setting's mean over seeds on
    the task; the averages are over the tasks shared by the settings with runs on the most tasks, each task the mean
    over its seeds, and a setting with runs on fewer tasks (one under way) has no average."""
    table1 = load_script("table1")
    monkeypatch.setattr(table1, "OUT", tmp_path)
    random = pd.DataFrame({"env": ["HalfCheetah-v4", "Hopper-v4", "Walker2d-v4"], "random_return": [-10.0, 0.0, 0.0]})
    random.to_csv(tmp_path / "random.csv", index=False)
    scores = pd.DataFrame(
        [
            ["clip_0.2", "HalfCheetah-v4", 0, 90.0],
            ["clip_0.2", "HalfCheetah-v4", 1, 110.0],  # mean 100: the best on HalfCheetah-v4
            ["clip_0.2", "Hopper-v4", 0, 2.0],  # 2 / 4 = 0.5
            ["adaptive_0.01", "HalfCheetah-v4", 0, 45.0],  # (45 + 10) / (100 + 10) = 0.5
            ["adaptive_0.01", "Hopper-v4", 0, 4.0],  # the best on Hopper-v4
            ["none", "Walker2d-v4", 0, 3.0],  # under way: one task, its best; not averaged, not a common task
        ],
        columns=["setting", "env", "seed", "last100"],
    )
    norm = table1.normalized(scores, "last100")["norm"]
    assert norm.tolist() == pytest.approx([100 / 110, 120 / 110, 0.5, 0.5, 1.0, 1.0])
    settings, averaged, common = table1.measured(scores)
    assert settings == ["none", "clip_0.2", "adaptive_0.01"]  # the paper's order
    assert averaged == ["clip_0.2", "adaptive_0.01"] and common == ["HalfCheetah-v4", "Hopper-v4"]
    frame = table1.normalized(scores, "last100").query("env in @common")
    mean, low, high = table1.average(frame[frame["setting"] == "clip_0.2"])  # HalfCheetah-v4's two seeds resampled
    assert (
        mean == pytest.approx(0.75)
        and low == pytest.approx((100 / 110 + 0.5) / 2)
        and high == pytest.approx((120 / 110 + 0.5) / 2)
    )
    assert table1.average(frame[frame["setting"] == "adaptive_0.01"]) == pytest.approx((0.75, 0.75, 0.75))
    assert [table1.seeds_said(s) for s in ([3], [3, 4], [0, 1, 2, 3, 4], [1, 3, 4])] == [
        "seed 3",
        "seeds 3, 4",
        "seeds 0-4",
        "seeds 1, 3, 4",
    ]


def test_table1_counts_each_setting_against_the_seeds_the_issue_asks_of_it(tmp_path, monkeypatch):
    """The runs column and the missing list count a setting's runs against its own seeds: 5 for the pair, 3 otherwise."""
    table1 = load_script("table1")
    monkeypatch.setattr(table1, "OUT", tmp_path)
    random = pd.DataFrame({"env": list(table1.TASKS), "random_return": 0.0, "random_sem": 0.0})
    random.to_csv(tmp_path / "random.csv", index=False)
    rows = [["clip_0.2", "Hopper-v4", 3], ["clip_0.2", "Hopper-v4", 0], ["none", "Hopper-v4", 1]]
    scores = pd.DataFrame(rows, columns=["setting", "env", "seed"]).assign(last100=1.0, final_eval=1.0)
    scores.assign(kl_early=np.nan, kl_late=np.nan).to_csv(tmp_path / "scores.csv", index=False)
    found = table1.blocks()
    assert "| 2 of 35, on 1 of 7 tasks |" in found["table1"] and "| 1 of 21, on 1 of 7 tasks |" in found["table1"]
    missing = found["table1-missing"].splitlines()
    assert "- clipping, epsilon 0.2: 33 of 35 (HalfCheetah-v4 seeds 0-4; Hopper-v4 seeds 1, 2, 4;" in missing[1]
    assert missing[0].startswith("- no clipping or penalty: 20 of 21 (HalfCheetah-v4 seeds 0-2; Hopper-v4 seeds 0, 2;")
    assert missing[2] == "- adaptive KL, d_targ 0.01: 35 of 35 (every task)" and found["table1-kl"] == "No KL scored yet.\n"
    # then the rest of the paper's row, 3 seeds each, in the paper's order
    assert missing[5:] == [f"- {table1.said(s)}: 21 of 21 (every task)" for s in table1.PAPER if s not in table1.HEADLINE]
    assert missing[5] == "- clipping, epsilon 0.1: 21 of 21 (every task)" and len(missing) == 12


def test_table1_ablation_is_normalised_by_the_papers_settings_and_shown_beside_the_setting_it_changes(tmp_path, monkeypatch):
    """An ablation (``none_const``: no constraint, a constant step size) scoring above every setting of the paper on a
    task does not become the task's best, stays out of the table and the averages, and has its own block, a row for it
    and one for the setting it changes on each task it has run on, with both metrics and the KL per update."""
    table1 = load_script("table1")
    monkeypatch.setattr(table1, "OUT", tmp_path)
    random = pd.DataFrame({"env": list(table1.TASKS), "random_return": 0.0, "random_sem": 0.0})
    random.to_csv(tmp_path / "random.csv", index=False)
    rows = [
        ["none", "Hopper-v4", 0, 1.0, 2.0, 0.5, 0.05],
        ["clip_0.2", "Hopper-v4", 0, 4.0, 4.0, np.nan, np.nan],  # the best on Hopper-v4, both metrics
        ["none_const", "Hopper-v4", 0, 6.0, 1.0, 0.25, 0.5],  # a mean of 5 in the paper's metric, above the best: 1.25
        ["none_const", "Hopper-v4", 1, 4.0, 3.0, 0.75, 1.5],
    ]
    scores = pd.DataFrame(rows, columns=["setting", "env", "seed", "last100", "final_eval", "kl_early", "kl_late"])
    scores.to_csv(tmp_path / "scores.csv", index=False)
    assert table1.normalized(scores, "last100")["norm"].tolist() == pytest.approx([0.25, 1.0, 1.5, 1.0])
    assert table1.measured(scores)[0] == ["none", "clip_0.2"]
    found = table1.blocks()
    assert "constant step size" not in found["table1"] + found["table1-tasks"] + found["table1-kl"]
    assert found["table1-ablation"].splitlines()[2:] == [
        "| Hopper-v4 | no clipping or penalty | 0.25 [0.25, 0.25] | 0.50 [0.50, 0.50] | 0.5 / 0.05 | 1 |",
        "| Hopper-v4 | no clipping or penalty, constant step size | 1.25 [1.00, 1.50] | 0.50 [0.25, 0.75] | 0.5 / 1 | 2 |",
    ]


def test_table1_kl_per_update_is_averaged_over_the_first_and_last_tenth_of_the_updates_of_every_segment():
    """A resumed run's second segment repeats the updates after its checkpoint: its rows replace the first segment's,
    and the tenths are of the run's 20 updates (2 each), in order; SB3's PPO logs no ``train/kl_divergence``: NaN."""
    table1 = load_script("table1")

    def log(updates: range, kl: Callable[[int], float], key: str = "train/kl_divergence") -> bytes:
        rows = [f"{2048 * k},{k},{kl(k)},1.0" for k in updates] + ["40960,,,"]  # the last: an evaluation, no update
        return "\n".join([f"time/total_timesteps,train/n_updates,{key},train/std", *rows]).encode()

    first, resumed = log(range(1, 11), lambda k: k), log(range(2, 21), lambda k: 100.0 * k)  # resumed after update 1
    assert table1.update_kl([first, resumed]) == pytest.approx(((1 + 200) / 2, 100.0 * 19.5))
    assert table1.update_kl([log(range(1, 31), float)]) == pytest.approx((2.0, 29.0))  # a tenth of 30 is 3
    assert np.isnan(table1.update_kl([log(range(1, 11), float, "train/approx_kl")])).all()
    assert np.isnan(table1.update_kl([])).all()
