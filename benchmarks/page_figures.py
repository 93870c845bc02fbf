"""
Print the per-seed figures that ``docs/benchmark.md``'s prose quotes, from the published comparison's CSVs.

The page's tables are rewritten by ``benchmark_page.py``; its prose quotes figures those tables do not hold:
each seed's final return, its mean over all evaluations and its best (``best_return``, the figure Tianshou
reports), how many evaluations ran every episode to the time limit, and the size of NPG's and TRPO's steps (the
KL after the step, TRPO's line search). This script prints them for one environment, so every such sentence can
be checked against ``runs.csv``, ``evaluations.csv`` and ``updates.csv``:

    python benchmarks/page_figures.py Hopper-v4 [--from-step 200000]
    python benchmarks/page_figures.py MountainCarContinuous-v0 --rev 48c1dde   # the CSVs of an earlier commit
    python benchmarks/page_figures.py Hopper-v4 --folder docs/tuning/recheck/npg-Hopper-v4/entry   # a re-check
    python benchmarks/page_figures.py Hopper-v4 --folder docs/tuning/recheck/npg-Hopper-v4/entry --seeds 100 101 102

A re-check folder (benchmarks/recheck.sh) has no ``updates.csv``: its step sizes are not printed.
"""

import argparse
import inspect
import io
import json
import subprocess
from pathlib import Path

import gymnasium as gym
import pandas as pd
from sb3_contrib import TRPO

from sb3_pg import NPG
from sb3_pg.compare.grid import RunSpec

ROOT = Path(__file__).resolve().parent.parent
FOLDER = "docs/benchmark"
CSVS = ("runs.csv", "evaluations.csv", "updates.csv")


def read_text(name: str, rev: str | None, folder: str = FOLDER) -> str:
    """:return: the text of ``<folder>/<name>`` (``docs/benchmark`` by default) as it is now, or as it was at commit ``rev``"""
    if rev is None:
        return (ROOT / folder / name).read_text()
    command = ["git", "show", f"{rev}:{folder}/{name}"]
    return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def seed_figures(runs: pd.DataFrame, evaluations: pd.DataFrame, from_step: int, time_limit: int) -> pd.DataFrame:
    """
    :param runs: ``runs.csv`` rows of one environment
    :param evaluations: ``evaluations.csv`` rows of the same environment
    :param from_step: count the time-limit evaluations from this step on
    :param time_limit: the environment's episode length limit
    :return: one row per (algorithm, seed): final return, mean over all the evaluations and over the last 5, best,
        and how many of the evaluations from ``from_step`` on ran every episode to ``time_limit`` (with the highest
        return among them)
    """
    rows = []
    for (algo, seed), group in evaluations.groupby(["algo", "seed"], sort=False):
        late = group[group["timesteps"] >= from_step]
        full = late[late["ep_length_mean"] >= time_limit]
        run = runs[(runs["algo"] == algo) & (runs["seed"] == seed)].iloc[0]
        rows.append(
            {
                "algo": algo,
                "seed": seed,
                "final": run["final_return"],
                "mean of evaluations": group["eval_mean"].mean(),
                "mean of last 5": group.sort_values("timesteps")["eval_mean"].tail(5).mean(),
                "evaluations": len(group),
                "best": run["best_return"],
                "episode length (mean)": group["ep_length_mean"].mean(),
                f"at time limit from {from_step:,}": f"{len(full)} of {len(late)}",
                "their max": full["eval_mean"].max() if len(full) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def seed_means(per_seed: pd.DataFrame) -> pd.DataFrame:
    """
    :param per_seed: ``seed_figures``'s table
    :return: one row per algorithm: how many seeds, the mean and the sample standard deviation (ddof 1, as
        ``summary.csv`` and the pages give it) of the final return, and the means of the other per-seed figures
    """
    by_algo = per_seed.groupby("algo", sort=False)
    means = by_algo[["final", "mean of evaluations", "mean of last 5", "best"]].mean()
    means.insert(1, "final std", by_algo["final"].std())
    means.insert(0, "seeds", by_algo["seed"].count())
    return means


def target_kl(spec: RunSpec) -> float:
    """
    :param spec: a run of NPG or TRPO
    :return: the ``target_kl`` the run trained with: its entry's or override's, else the algorithm's default (NPG
        and TRPO share 0.01)
    """
    hyperparams = spec.trained_hyperparams()
    if "target_kl" in hyperparams:
        return float(hyperparams["target_kl"])
    algo_class = {"npg": NPG, "trpo": TRPO}[spec.algo]
    return inspect.signature(algo_class.__init__).parameters["target_kl"].default


def policy_figures(updates: pd.DataFrame) -> pd.DataFrame:
    """
    :param updates: ``updates.csv`` rows of one environment
    :return: one row per algorithm that logs its policy's standard deviation: updates per run, and the standard
        deviation at the first and the last update (mean over seeds)
    """
    logged = updates.dropna(subset=["std"])
    per_seed = logged.groupby(["algo", "seed"], sort=False)["std"].agg(["count", "first", "last"])
    table = per_seed.groupby("algo", sort=False).mean().reset_index()
    return table.rename(columns={"count": "updates per run", "first": "std first", "last": "std last"})


def step_figures(updates: pd.DataFrame, targets: dict[str, float]) -> pd.DataFrame:
    """
    :param updates: ``updates.csv`` rows of one environment
    :param targets: the ``target_kl`` of each algorithm that logs a KL (one value for all its seeds)
    :return: one row per algorithm that logs a KL: its median, mean and maximum over all updates and seeds, per seed
        medians, how many updates overshot twice and ten times the target, and how many of TRPO's line searches
        succeeded
    """
    rows = []
    for algo, group in updates.dropna(subset=["kl"]).groupby("algo", sort=False):
        search = group["line_search_success"].dropna()
        target = targets[algo]
        rows.append(
            {
                "algo": algo,
                "updates": len(group),
                "target_kl": f"{target:.4g}",
                "kl median": f"{group['kl'].median():.4g}",
                "kl mean": f"{group['kl'].mean():.4g}",
                "kl max": f"{group['kl'].max():.4g}",
                "kl median per seed": " / ".join(f"{kl:.4g}" for kl in group.groupby("seed")["kl"].median()),
                "> 2x target": int((group["kl"] > 2 * target).sum()),
                "> 10x target": int((group["kl"] > 10 * target).sum()),
                "line search succeeded": f"{int(search.sum())} of {len(search)}" if len(search) else "",
            }
        )
    return pd.DataFrame(rows)


def read_targets(env: str, algos: list[str], rev: str | None, folder: str = FOLDER) -> dict[str, float]:
    """:return: each algorithm's ``target_kl`` on ``env``, read from its seed-0 run's ``spec.json``; one value per algorithm"""
    specs = {algo: json.loads(read_text(f"{env}/{algo}/seed_0/spec.json", rev, folder)) for algo in algos}
    return {algo: target_kl(RunSpec.from_dict(spec)) for algo, spec in specs.items()}


def read_frames(env: str, rev: str | None = None, folder: str = FOLDER, seeds: list[int] | None = None) -> list[pd.DataFrame]:
    """
    :param env: environment id, as in ``runs.csv``
    :param rev: read the CSVs of this git commit instead of the working tree
    :param folder: a comparison's folder, relative to the repository
    :param seeds: only these seeds (default: every seed of ``env`` in the folder)
    :return: the ``runs.csv`` and ``evaluations.csv`` rows of ``env`` (and ``updates.csv``'s, where the folder has
        one: a re-check folder does not)
    :raises ValueError: when the folder has no run of ``env``, or none with one of ``seeds``
    """
    if rev is None and not (ROOT / folder / "runs.csv").is_file():
        raise ValueError(f"--folder: no runs.csv in {ROOT / folder}")
    has_updates = rev is not None or (ROOT / folder / "updates.csv").is_file()
    names = CSVS if has_updates else CSVS[:2]
    frames = [pd.read_csv(io.StringIO(read_text(name, rev, folder))) for name in names]
    frames = [frame[frame["env"] == env] for frame in frames]
    where = f"{folder}/runs.csv" + (f" at {rev}" if rev else "")
    if not len(frames[0]):
        raise ValueError(f"no runs of {env!r} in {where}")
    if seeds is None:
        return frames
    missing = sorted(set(seeds) - set(frames[0]["seed"]))
    if missing:
        raise ValueError(f"--seeds: no run of {env!r} with seed {', '.join(map(str, missing))} in {where}")
    return [frame[frame["seed"].isin(seeds)] for frame in frames]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("env", help="environment id, as in runs.csv")
    parser.add_argument("--from-step", type=int, default=0, help="count time-limit evaluations from this step on")
    parser.add_argument("--rev", help="read the CSVs of this git commit instead of the working tree")
    parser.add_argument("--folder", default=FOLDER, help=f"a comparison's folder, relative to the repository ({FOLDER})")
    parser.add_argument("--seeds", type=int, nargs="+", help="only these seeds (default: every seed in the folder)")
    args = parser.parse_args()

    try:
        runs, evaluations, *rest = read_frames(args.env, args.rev, args.folder, args.seeds)
    except ValueError as error:
        parser.error(str(error))
    time_limit = gym.spec(args.env).max_episode_steps or 0
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", "{:,.1f}".format)
    per_seed = seed_figures(runs, evaluations, args.from_step, time_limit)
    print(f"# {args.env}: per seed (time limit {time_limit} steps)\n")
    print(per_seed.to_string(index=False))
    print("\n# mean over seeds\n")
    print(seed_means(per_seed).to_string())
    if not rest:
        return
    updates = rest[0]
    policies = policy_figures(updates)
    if len(policies):
        print("\n# policy updates and standard deviation (updates.csv)\n")
        print(policies.to_string(index=False, float_format="{:.3g}".format))
    kl_algos = list(updates.dropna(subset=["kl"])["algo"].unique())
    steps = step_figures(updates, read_targets(args.env, kl_algos, args.rev, args.folder))
    if len(steps):
        print("\n# step sizes (updates.csv)\n")
        print(steps.to_string(index=False))


if __name__ == "__main__":
    main()
