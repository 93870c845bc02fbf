"""Run folders to tables: one row per run (``runs.csv``) and one per run and evaluation (``evaluations.csv``)."""

import contextlib
import importlib
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from sb3_pg.compare.spec import LOG_FILE, conf_entry, find_runs
from sb3_pg.zoo import FILE_ALGOS, hyperparams_file

EVAL_COLUMNS = ["env", "algo", "seed", "timesteps", "eval_mean", "eval_std", "eval_min", "eval_max", "ep_length_mean"]


def reward_threshold(env_id: str) -> float | None:
    """:return: ``gym.spec(env_id).reward_threshold``, ``None`` when the environment has none or is unknown"""
    with contextlib.suppress(Exception):
        return gym.spec(env_id).reward_threshold
    return None


def conf_label(algo: str, conf_file: str, env_id: str, entry: str) -> str:
    """
    :param algo: the run's zoo algorithm name
    :param conf_file: the hyperparameter file the run trained with, as its ``spec.json`` records it (an absolute path on
        the machine that trained it)
    :param env_id: the run's environment
    :param entry: the entry of ``env_id`` the run trained with, as its ``spec.json`` records it (:func:`conf_entry`)
    :return: ``<package>/hyperparams/<algo>.yml`` when the run trained with the algorithm's default file as this machine
        has it: a file of that name whose entry for ``env_id`` is the default file's (so the label is the same on any
        machine with the same packages, wherever they are installed); else ``conf_file`` as recorded
    """
    default = hyperparams_file(algo)
    if Path(conf_file).name == Path(default).name and entry and entry == conf_entry(default, env_id):
        return f"{'sb3_pg' if algo in FILE_ALGOS else 'rl_zoo3'}/hyperparams/{Path(default).name}"
    return conf_file


def collect(out_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:return: ``(runs, evaluations)`` of the comparison ``out_dir``: a row per run, a row per evaluation within budget"""
    out_dir = Path(out_dir)
    runs = list(find_runs(out_dir))
    for package in sorted({package for spec, _, _ in runs for package in spec.gym_packages}):
        with contextlib.suppress(ImportError):  # so that the thresholds of environments they register are known
            importlib.import_module(package)
    run_rows, eval_rows = [], []
    for spec, result, failed in runs:
        threshold = reward_threshold(spec.env_id)
        status = "failed" if failed is not None else "incomplete"
        row: dict[str, Any] = {"env": spec.env_id, "algo": spec.algo, "seed": spec.seed}
        row["status"] = "finished" if result is not None else status
        row.update(n_timesteps=spec.n_timesteps, timesteps=np.nan, n_evaluations=0, final_timesteps=np.nan)
        row.update(final_return=np.nan, final_episode_std=np.nan, best_return=np.nan, reward_threshold=threshold)
        row.update(steps_to_threshold=np.nan, wall_time_s=np.nan, steps_per_s=np.nan, segments=np.nan)
        # Ray tasks that trained the run: more than 1 when a node or worker was lost (a local run: 1)
        row.update(attempts=(result or failed or {}).get("attempts", 1), eval_freq=spec.eval_freq)
        row.update(eval_episodes=spec.eval_episodes, n_eval_envs=spec.n_eval_envs)
        row["conf_file"] = conf_label(spec.algo, spec.conf_file, spec.env_id, spec.entry)
        row["hyperparams"] = " ".join(spec.hyperparams)
        row.update(message=(failed or {}).get("message", ""), run_dir=os.path.relpath(spec.run_dir, out_dir))
        row["log"] = os.path.relpath(Path(spec.run_dir) / LOG_FILE, out_dir)
        if result is not None:
            curve = result["evaluations"]
            within = np.array(curve["timesteps"], dtype=int) <= spec.n_timesteps
            timesteps = np.array(curve["timesteps"], dtype=int)[within]
            results, lengths = np.array(curve["results"], dtype=float)[within], np.array(curve["ep_length_mean"])[within]
            means = results.mean(axis=1) if len(timesteps) else np.zeros(0)
            row.update(timesteps=result["timesteps"], wall_time_s=result["wall_time_s"], steps_per_s=result["steps_per_s"])
            row.update(segments=len(result["segments"]), n_evaluations=len(timesteps))
            if len(timesteps):
                reached = np.flatnonzero(means >= threshold) if threshold is not None else np.zeros(0, int)
                row.update(final_timesteps=timesteps[-1], final_return=means[-1], final_episode_std=results[-1].std())
                row["steps_to_threshold"] = float(timesteps[reached[0]]) if len(reached) else np.nan
                row.update(best_return=means.max())
            for i, (steps, values) in enumerate(zip(timesteps, results, strict=True)):
                stats = [means[i], values.std(), values.min(), values.max(), lengths[i], len(values)]
                eval_rows.append([spec.env_id, spec.algo, spec.seed, int(steps), *stats])
        run_rows.append(row)
    table = pd.DataFrame(run_rows, columns=list(run_rows[0]) if run_rows else ["env", "algo", "seed", "status"])
    # Step counts stay integers in runs.csv whether or not some run is unfinished (NaN would make them floats)
    for column in ("timesteps", "final_timesteps", "segments"):
        if column in table:
            table[column] = table[column].astype("Int64")
    return table, pd.DataFrame(eval_rows, columns=[*EVAL_COLUMNS, "n_episodes"])
