"""
The PPO paper's Table 1 measured with this package (``docs/table1.md``): the settings of ``benchmarks/table1/`` on the
paper's seven MuJoCo tasks, trained by ``benchmarks/table1.sh``, scored as the paper scores them:

    python benchmarks/table1.py random                     # docs/table1/random.csv: a random policy's score per task
    python benchmarks/table1.py scores docs/table1/clip_0.2   # docs/table1/scores.csv: the setting's finished runs
    python benchmarks/table1.py plot                       # docs/table1/normalized.png

A run's paper score is the mean return of its last 100 training episodes: SB3's ``rollout/ep_rew_mean`` (a window of
100 episodes) at the end of its last ``progress.csv``. Its evaluation score is the comparison's final deterministic
evaluation. Per task, a score is normalised to ``(score - random) / (best - random)``, ``best`` the highest mean
over seeds among the paper's settings measured, and a setting's normalised score is the mean over the tasks it is
averaged over (:func:`measured`) of its mean over seeds. A KLPPO run's step size is its KL per update
(:func:`update_kl`). An ablation (:data:`ABLATIONS`) is scored and normalised the same way, beside the setting it
changes, in a block of its own.
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pages import DOCS, random_returns, table
from train_logs import progress_logs, read_progress

from sb3_pg.compare.spec import find_runs

OUT = DOCS / "table1"
TASKS = (
    "HalfCheetah-v4",
    "Hopper-v4",
    "InvertedDoublePendulum-v4",
    "InvertedPendulum-v4",
    "Reacher-v4",
    "Swimmer-v4",
    "Walker2d-v4",
)
SEEDS = 3
HEADLINE = {"none": 3, "clip_0.2": 5, "adaptive_0.01": 5, "fixed_1": 3, "dual_0.01": 3}  # the runs: seeds per setting
# The paper's rows (Schulman et al. 2017, Table 1: normalised score averaged over its 21 runs); the dual rule is new here
PAPER: dict[str, float | None] = {"none": -0.39, "clip_0.1": 0.76, "clip_0.2": 0.82, "clip_0.3": 0.70, "adaptive_0.003": 0.68}
PAPER |= {"adaptive_0.01": 0.74, "adaptive_0.03": 0.71, "fixed_0.3": 0.62, "fixed_1": 0.71, "fixed_3": 0.72}
PAPER |= {"fixed_10": 0.69, "dual_0.01": None}
SAID = {"none": "no clipping or penalty", "clip": "clipping, epsilon", "adaptive": "adaptive KL, d_targ"}
SAID |= {"fixed": "fixed KL, beta", "dual": "dual rule, d_targ"}
# Settings outside the paper's twelve, each the setting it changes in one respect: not in the table, not a task's best
ABLATIONS = {"none_const": ("none", "no clipping or penalty, constant step size")}
METRICS = {"last100": "last 100 training episodes (the paper's)", "final_eval": "final deterministic evaluation"}


def random_scores(episodes: int = 100) -> pd.DataFrame:
    """:return: per task, the mean and standard error of the return of uniformly random actions over seeded episodes"""
    rows = []
    for task in TASKS:
        returns = random_returns(task, episodes)
        rows.append([task, episodes, np.mean(returns), np.std(returns, ddof=1) / np.sqrt(episodes)])
    return pd.DataFrame(rows, columns=["env", "episodes", "random_return", "random_sem"])


def update_kl(logs: list[bytes]) -> tuple[float, float]:
    """
    :param logs: a run's ``progress.csv`` files, one per segment in order (a resumed segment repeats the updates
        after the checkpoint it started from: the later segment's rows are kept)
    :return: KLPPO's KL between the policies before and after each update (``train/kl_divergence``), averaged over the
        first and over the last tenth of the run's updates; NaN for a run that logs none (SB3's PPO logs
        ``train/approx_kl``, an estimate averaged over the minibatches during the epochs, not comparable)
    """
    if not logs:
        return np.nan, np.nan
    updates = pd.concat([read_progress(log) for log in logs])
    updates = updates.assign(total_timesteps=pd.to_numeric(updates["total_timesteps"]), kl=pd.to_numeric(updates["kl"]))
    kl = updates.drop_duplicates("total_timesteps", keep="last").sort_values("total_timesteps")["kl"].dropna()
    tenth = max(len(kl) // 10, 1)
    return (float(kl.iloc[:tenth].mean()), float(kl.iloc[-tenth:].mean())) if len(kl) else (np.nan, np.nan)


def run_scores(folder: Path) -> pd.DataFrame:
    """:return: a row per finished run of the comparison ``folder`` (a setting): its paper and evaluation scores and,
    for KLPPO, its KL per update early and late (:func:`update_kl`)"""
    rows = []
    for spec, result, _ in find_runs(folder):
        if result is None:
            continue
        logs = progress_logs(Path(spec.run_dir), spec.algo, spec.env_id)
        last100 = pd.read_csv(io.BytesIO(logs[-1]))["rollout/ep_rew_mean"].dropna().iloc[-1] if logs else np.nan
        curve = result["evaluations"]
        finals = [np.mean(values) for steps, values in zip(curve["timesteps"], curve["results"], strict=True)]
        within = [value for steps, value in zip(curve["timesteps"], finals, strict=True) if steps <= spec.n_timesteps]
        final = within[-1] if within else np.nan
        rows.append([folder.name, spec.env_id, spec.seed, result["timesteps"], last100, final, *update_kl(logs)])
    return pd.DataFrame(rows, columns=["setting", "env", "seed", "timesteps", "last100", "final_eval", "kl_early", "kl_late"])


def normalized(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    """:return: ``scores`` with ``metric`` normalised per task by the random policy's score and the best setting's, among
    the paper's settings (an ablation's runs are normalised too, but never set the best)"""
    random = pd.read_csv(OUT / "random.csv").set_index("env")["random_return"]
    best = scores[scores["setting"].isin(PAPER)].groupby(["env", "setting"])[metric].mean().groupby("env").max()
    return scores.assign(norm=(scores[metric] - scores["env"].map(random)) / (scores["env"].map(best - random)))


def average(frame: pd.DataFrame, reps: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """:return: a setting's mean normalised score over its tasks (each the mean over its seeds) and a 95% bootstrap
    interval, the seeds resampled within each task"""
    rng, groups = np.random.default_rng(seed), [group["norm"].to_numpy() for _, group in frame.groupby("env")]
    draws = np.mean([[rng.choice(values, len(values)).mean() for values in groups] for _ in range(reps)], axis=1)
    return float(np.mean([values.mean() for values in groups])), *np.percentile(draws, [2.5, 97.5])


def interval(frame: pd.DataFrame) -> str:
    """:return: a setting's mean normalised score over the tasks of ``frame`` and its 95% interval, as the page writes it"""
    return "{:.2f} [{:.2f}, {:.2f}]".format(*average(frame))


def measured(scores: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """:return: the settings with runs, in the paper's order; those averaged; and the tasks they are averaged over, the
    tasks shared by the settings with runs on the most tasks. A setting with runs on fewer tasks (one under way) has
    its runs in the per-task table and no average until it has runs on all of them: the averages compare."""
    settings = [setting for setting in PAPER if setting in set(scores["setting"])]
    have = {setting: set(scores.loc[scores["setting"] == setting, "env"]) for setting in settings}
    most = max(map(len, have.values()), default=0)
    common = [task for task in TASKS if all(task in tasks for tasks in have.values() if len(tasks) == most)]
    return settings, [setting for setting in settings if have[setting] >= set(common)], common


def said(setting: str) -> str:
    """:return: the paper's words for a setting: ``clip_0.2`` is "clipping, epsilon 0.2"; an ablation's own words"""
    if setting in ABLATIONS:
        return ABLATIONS[setting][1]
    kind, _, value = setting.partition("_")
    return f"{SAID[kind]} {value}".strip()


def seeds_said(seeds: list[int]) -> str:
    """:return: seeds as the page lists them: ``seeds 0-4`` for a run of consecutive seeds, ``seeds 1, 3`` otherwise"""
    consecutive = len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1))
    return f"seed{'s' * (len(seeds) > 1)} " + (f"{seeds[0]}-{seeds[-1]}" if consecutive else ", ".join(map(str, seeds)))


def blocks() -> dict[str, str]:
    """:return: the blocks of ``docs/table1.md``: the table beside the paper's, per task, and the runs still missing"""
    random = pd.read_csv(OUT / "random.csv")
    found = {
        "table1-random": table(
            "task | random policy's return (100 episodes) | standard error",
            [[row.env, f"{row.random_return:.1f}", f"{row.random_sem:.1f}"] for row in random.itertuples()],
        )
    }
    if not (OUT / "scores.csv").is_file():
        names = ("table1", "table1-tasks", "table1-kl", "table1-missing", "table1-ablation")
        return found | dict.fromkeys(names, "No run has finished yet.\n")
    scores = pd.read_csv(OUT / "scores.csv")
    settings, averaged, common = measured(scores)
    rows, tasks = [], []
    frames = {metric: normalized(scores, metric) for metric in METRICS}
    for setting in settings:
        cells = [said(setting), "-" if PAPER[setting] is None else f"{PAPER[setting]:.2f}"]
        for frame in frames.values():
            mine = frame[(frame["setting"] == setting) & frame["env"].isin(common)]
            cells.append(interval(mine) if setting in averaged else "-")
        mine = scores[scores["setting"] == setting]
        runs = f"{len(mine)} of {len(TASKS) * HEADLINE.get(setting, SEEDS)}, on {mine['env'].nunique()} of {len(TASKS)} tasks"
        rows.append([*cells, runs])
    for task in TASKS:
        cells = []
        for setting in settings:
            mine = frames["last100"][(frames["last100"]["setting"] == setting) & (frames["last100"]["env"] == task)]
            cells.append(f"{interval(mine)} ({len(mine)})" if len(mine) else "-")
        tasks.append([task, *cells])
    stepped = scores.dropna(subset=["kl_early"])
    kl = stepped.groupby(["env", "setting"])[["kl_early", "kl_late"]].mean()
    kl_settings = [setting for setting in settings if setting in set(stepped["setting"])]
    step = "{:.2g} / {:.2g}".format
    steps = [[task, *(step(*kl.loc[(task, s)]) if (task, s) in kl.index else "-" for s in kl_settings)] for task in TASKS]
    ablated = []
    for ablation, (base, _) in ABLATIONS.items():
        for task in [task for task in TASKS if ((scores["setting"] == ablation) & (scores["env"] == task)).any()]:
            for setting in (base, ablation):
                mine = [frame[(frame["setting"] == setting) & (frame["env"] == task)] for frame in frames.values()]
                kl_cell = step(*kl.loc[(task, setting)]) if (task, setting) in kl.index else "-"
                ablated.append([task, said(setting), *map(interval, mine), kl_cell, str(len(mine[0]))])
    have = set(scores.set_index(["setting", "env", "seed"]).index)
    missing = []
    for setting in [*HEADLINE, *(setting for setting in PAPER if setting not in HEADLINE)]:  # the issue's, then the rest
        seeds = HEADLINE.get(setting, SEEDS)
        runs = {task: [seed for seed in range(seeds) if (setting, task, seed) not in have] for task in TASKS}
        count = sum(map(len, runs.values()))
        where = "; ".join(f"{task} {seeds_said(left)}" for task, left in runs.items() if left)
        where = "every task" if count == len(TASKS) * seeds else where
        missing += [f"- {said(setting)}: {count} of {len(TASKS) * seeds} ({where})"] if count else []
    header = "setting | paper | here, last 100 episodes [95% CI] | here, final evaluation [95% CI] | runs"
    ablation_header = "task | setting | last 100 episodes [95% CI] | final evaluation [95% CI] | KL, early / late | runs"
    said_common = (
        f"Averaged over the tasks shared by the settings with runs on the most tasks ({len(common)} of {len(TASKS)}): "
        f"{', '.join(common)}; a setting with runs on fewer of them has no average yet."
    )
    return found | {
        "table1": f"{said_common}\n\n{table(header, rows)}",
        "table1-tasks": table(" | ".join(["task", *map(said, settings)]), tasks),
        "table1-kl": table(" | ".join(["task", *map(said, kl_settings)]), steps) if kl_settings else "No KL scored yet.\n",
        "table1-missing": "\n".join(missing or ["- none"]) + "\n",
        "table1-ablation": table(ablation_header, ablated) if ablated else "No ablation run has finished yet.\n",
    }


def plot(path: Path) -> None:
    """Draw each setting's normalised score (last 100 episodes) per task, seeds as points, and its average over the
    tasks every setting has runs on, beside the paper's average."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = normalized(scores := pd.read_csv(OUT / "scores.csv"), "last100")
    settings, averaged, common = measured(scores)
    figure, axes = plt.subplots(figsize=(11, 4))
    for i, setting in enumerate(settings):
        mine = frame[frame["setting"] == setting]
        for j, task in enumerate(TASKS):
            values = mine[mine["env"] == task]["norm"]
            axes.scatter(np.full(len(values), i + (j - 3) * 0.1), values, s=12, color=f"C{j}", label=task if i == 0 else None)
        if setting in averaged:
            mean, low, high = average(mine[mine["env"].isin(common)])
            label = "average, 95% CI" if setting == averaged[0] else None
            axes.errorbar(i, mean, yerr=[[mean - low], [high - mean]], fmt="k_", markersize=20, capsize=4, label=label)
        if (paper := PAPER[setting]) is not None:
            axes.plot(i, paper, "r*", markersize=10, label="paper" if setting == settings[0] else None)
    axes.set_xticks(range(len(settings)), [said(setting) for setting in settings], rotation=15)
    axes.set_ylabel("normalised score (random 0, best setting 1)")
    axes.axhline(0, color="grey", linewidth=0.5)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes, off the points
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("random", help="measure a random policy's score per task")
    scores = commands.add_parser("scores", help="score the finished runs of setting folders")
    scores.add_argument("folders", type=Path, nargs="+", help="comparison folders named by setting (docs/table1/<setting>)")
    commands.add_parser("plot", help="draw docs/table1/normalized.png")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.command == "random":
        random_scores().to_csv(OUT / "random.csv", index=False)
    elif args.command == "scores":
        frame = pd.concat([run_scores(folder) for folder in args.folders], ignore_index=True)
        if (OUT / "scores.csv").is_file():  # the rows of the settings not scored now stay
            kept = pd.read_csv(OUT / "scores.csv")
            frame = pd.concat([kept[~kept["setting"].isin([folder.name for folder in args.folders])], frame])
        frame.sort_values(["setting", "env", "seed"]).to_csv(OUT / "scores.csv", index=False)
        print(f"{len(frame)} finished runs -> {OUT / 'scores.csv'}", file=sys.stderr)
    else:
        plot(OUT / "normalized.png")


if __name__ == "__main__":
    main()
