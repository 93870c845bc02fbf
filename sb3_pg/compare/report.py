"""The report, from the run folders' tables: ``report.md`` (IQM with rliable's CIs), learning curves, and the CSVs."""

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rliable import library as rly
from rliable import metrics

from sb3_pg.compare import spec as files
from sb3_pg.compare.results import collect, reward_threshold

# Fewer finished seeds than this: the IQM is their mean, given with their range instead of a bootstrap interval
MIN_SEEDS_FOR_CI = 4

INTRO = """# Comparison: {algos}

Every run trained through rl-zoo3's `train` (`python -m sb3_pg.compare`), each algorithm with its zoo hyperparameter \
file; every algorithm on an environment had the same step budget. Rebuild this report without training: \
`python -m sb3_pg.compare --report-only -f <this folder>`.

- **final return**: mean return of the last periodic evaluation of each run; mean ± standard deviation over seeds \
(sample std). Evaluations after the budget (a last rollout that overran it) are not used.
- **IQM**: interquartile mean of those final returns over seeds, with a 95% stratified bootstrap confidence interval \
(rliable, {reps:,} replications). With fewer than {min_seeds} seeds it is the mean, and the seeds' range (lowest, highest) \
stands in place of the interval, marked `range`: a bootstrap over so few seeds gives back their range, not a 95% \
interval.
- **steps to threshold**: steps of the first evaluation whose mean return reaches the environment's reward threshold; \
median over the seeds that reached it, and how many did.
- **wall-clock / run**: time of rl-zoo3's `train()` (training and its evaluations), mean over seeds; **env steps/s**: \
training steps per second of it.{workers}
- Raw numbers: `runs.csv` (one row per run), `evaluations.csv` (one row per run and evaluation), `summary.csv` (these \
tables)."""


def interval_estimates(scores: dict[str, np.ndarray], func: Callable, reps: int) -> tuple[dict, dict]:
    """
    :return: rliable's point estimates and 95% stratified bootstrap intervals of ``func`` over ``scores``, each algorithm
        alone and seeded: rliable resamples with NumPy's global generator (not ``random_state``), restored after
    """
    points, intervals, state = {}, {}, np.random.get_state()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            for key, value in scores.items():
                np.random.seed(0)
                seeded = np.random.RandomState(0)
                point, interval = rly.get_interval_estimates({key: value}, func, reps=reps, random_state=seeded)
                points[key], intervals[key] = point[key], interval[key]
    finally:
        np.random.set_state(state)
    return points, intervals


def seed_curves(evaluations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """:return: ``(timesteps, returns)`` of the seeds in ``evaluations``, on their common steps or interpolated"""
    curves = [(group["timesteps"].to_numpy(), group["eval_mean"].to_numpy()) for _, group in evaluations.groupby("seed")]
    if not curves:
        return np.zeros(0), np.zeros((0, 0))
    grid = min((steps for steps, _ in curves), key=len)
    if all(np.array_equal(steps, grid) for steps, _ in curves):
        return grid, np.stack([values for _, values in curves])
    grid = grid[grid <= min(steps[-1] for steps, _ in curves)]
    return grid, np.stack([np.interp(grid, steps, values) for steps, values in curves])


def plot_learning_curves(evaluations: pd.DataFrame, env_id: str, path: Path, algos: list[str], reps: int = 2000) -> None:
    """Plot an environment's mean evaluation return over seeds, with its 95% bootstrap CI, per algorithm, into ``path``."""
    rows = evaluations[evaluations["env"] == env_id]
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.add_subplot()
    for index, algo in enumerate(algos):
        timesteps, returns = seed_curves(rows[rows["algo"] == algo])
        if len(timesteps) == 0:
            continue
        # Shape (runs, tasks, points): one task, so seeds are resampled jointly over the whole curve
        point, interval = interval_estimates({algo: returns[:, None, :]}, lambda scores: scores.mean(axis=(0, 1)), reps)
        label = f"{algo} ({len(returns)} seed{'s' if len(returns) > 1 else ''})"
        ax.plot(timesteps, point[algo], color=f"C{index}", label=label, linewidth=1.8)
        ax.fill_between(timesteps, interval[algo][0], interval[algo][1], color=f"C{index}", alpha=0.2, linewidth=0)
    if (threshold := reward_threshold(env_id)) is not None:
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    ax.set(title=env_id, xlabel="environment steps", ylabel="mean evaluation return")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.text(1.0, -0.14, "mean over seeds, 95% bootstrap CI", transform=ax.transAxes, ha="right", va="top", fontsize="x-small")
    figure.savefig(path, dpi=120)


def _order(found: list[str], preferred: list[str]) -> list[str]:
    return [name for name in preferred if name in found] + [name for name in found if name not in preferred]


def summarize(runs: pd.DataFrame, algos: list[str], reps: int = 10_000) -> pd.DataFrame:
    """:return: the numbers of the tables: a row per environment and algorithm, over its finished runs"""
    rows = []
    for env_id in dict.fromkeys(runs["env"]):
        env_runs = runs[runs["env"] == env_id]
        env_algos = _order(list(dict.fromkeys(env_runs["algo"])), algos)
        done = {algo: env_runs[(env_runs["algo"] == algo) & (env_runs["status"] == "finished")] for algo in env_algos}
        # Final returns of shape (runs, tasks), as rliable wants them
        finals = {algo: frame["final_return"].dropna().to_numpy()[:, None] for algo, frame in done.items()}
        iqm_of = lambda scores: np.array([metrics.aggregate_iqm(scores)])  # noqa: E731
        enough = {algo: scores for algo, scores in finals.items() if len(scores) >= MIN_SEEDS_FOR_CI}
        iqm, ci = interval_estimates(enough, iqm_of, reps)
        for algo, scores in finals.items():  # too few seeds for a bootstrap: their mean and range
            if 0 < len(scores) < MIN_SEEDS_FOR_CI:
                iqm[algo], ci[algo] = np.array([scores.mean()]), np.array([[scores.min()], [scores.max()]])
        for algo in env_algos:
            algo_runs, finished = env_runs[env_runs["algo"] == algo], done[algo]
            reached = finished["steps_to_threshold"].dropna()
            row = {"env": env_id, "algo": algo, "n_timesteps": int(algo_runs["n_timesteps"].max()), "runs": len(algo_runs)}
            row |= {"finished": len(finished), "final_return_mean": finished["final_return"].mean()}
            row["final_return_std"] = finished["final_return"].std(ddof=1) if len(finished) > 1 else np.nan
            point = (iqm[algo][0], ci[algo][0, 0], ci[algo][1, 0]) if algo in iqm else (np.nan,) * 3
            row |= dict(zip(("iqm", "iqm_ci_low", "iqm_ci_high"), point, strict=True))
            row |= {"reward_threshold": algo_runs["reward_threshold"].iloc[0], "seeds_reaching_threshold": len(reached)}
            row["steps_to_threshold_median"] = reached.median() if len(reached) else np.nan
            row |= {"wall_time_s_mean": finished["wall_time_s"].mean(), "steps_per_s_mean": finished["steps_per_s"].mean()}
            rows.append(row)
    return pd.DataFrame(rows)


def _duration(seconds: float) -> str:
    if np.isnan(seconds):
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.2f} h"


def _number(value: float, digits: int = 1) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:,.{digits}f}"


def format_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:return: the report's table of one environment, as text, from its rows of :func:`summarize`"""
    threshold = summary["reward_threshold"].iloc[0]
    rows = []
    for row in summary.itertuples():
        final = _number(row.final_return_mean) + f" ± {row.final_return_std:,.1f}" * (not np.isnan(row.final_return_std))
        if np.isnan(row.iqm):
            iqm = "—"
        elif row.finished < MIN_SEEDS_FOR_CI:  # no interval: the mean of the seeds, and their range
            iqm = f"{row.iqm:,.1f} (range {row.iqm_ci_low:,.1f} to {row.iqm_ci_high:,.1f})"
        else:
            iqm = f"{row.iqm:,.1f} [{row.iqm_ci_low:,.1f}, {row.iqm_ci_high:,.1f}]"
        table_row = {"algorithm": row.algo, "runs": f"{row.finished}/{row.runs}", "final return (mean ± std)": final}
        table_row["IQM [95% CI]"] = iqm
        if threshold is not None and not np.isnan(threshold):
            table_row[f"steps to {threshold:g} (median)"] = _number(row.steps_to_threshold_median, 0)
            table_row["seeds reaching it"] = f"{row.seeds_reaching_threshold}/{row.finished}"
        table_row["wall-clock / run"] = _duration(row.wall_time_s_mean)
        table_row["env steps/s"] = _number(row.steps_per_s_mean, 0)
        rows.append(table_row)
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """:return: a DataFrame of text as a Markdown table"""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "|".join(["---"] * len(table.columns)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)])


@dataclass
class Report:
    """A comparison's report: its tables (``runs.csv``, ``evaluations.csv``, ``summary.csv``), text and figures."""

    out_dir: Path
    runs: pd.DataFrame
    evaluations: pd.DataFrame
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # of each environment, as text
    markdown: str = ""
    figures: dict[str, Path] = field(default_factory=dict)  # the learning-curve PNG of each environment

    def terminal_text(self) -> str:
        """:return: the tables, one per environment, as printed in the terminal"""
        parts = []
        for env_id, table in self.tables.items():
            budget = int(self.summary[self.summary["env"] == env_id]["n_timesteps"].max())
            parts.append(f"{env_id} ({budget:,} steps per run)\n{markdown_table(table)}")
        for row in self.runs[self.runs["status"] == "failed"].itertuples():
            parts.append(f"FAILED {row.algo} {row.env} seed {row.seed}: {row.message}\n  log: {self.out_dir / row.log}")
        return "\n\n".join(parts)


def _env_section(env_id: str, env_runs: pd.DataFrame, table: pd.DataFrame, figure: Path | None) -> list[str]:
    """:return: the lines of an environment's section of ``report.md``"""
    first, budget = env_runs.iloc[0], int(env_runs["n_timesteps"].max())
    text = f"Budget: {budget:,} environment steps per run. Evaluation every {int(first['eval_freq']):,} steps on "
    text += f"{int(first['eval_episodes'])} episodes ({int(first['n_eval_envs'])} evaluation envs, deterministic actions)"
    if (threshold := first["reward_threshold"]) is not None and not np.isnan(threshold):
        text += f"; reward threshold {threshold:g} (`gym.spec('{env_id}').reward_threshold`)"
    lines = ["", f"## {env_id}", "", text + ".", "", markdown_table(table)]
    lines += ["", f"![{env_id} learning curves]({figure.name})"] if figure else []
    algos = env_runs.drop_duplicates("algo").itertuples()
    confs = [f"{row.algo}: `{row.conf_file}`" + f" with `{row.hyperparams}`" * bool(row.hyperparams) for row in algos]
    lines += ["", "Hyperparameters: " + "; ".join(confs) + "."]
    for status in ("failed", "incomplete"):
        if not (others := env_runs[env_runs["status"] == status]).empty:
            lines += ["", f"{status.capitalize()} runs (not in the table):", ""]
            others = [(row, f": {row.message}" * bool(row.message)) for row in others.itertuples()]
            lines += [f"- {row.algo} seed {row.seed}{why} (log: `{row.log}`)" for row, why in others]
    retried = [f"{row.algo} seed {row.seed} ({row.attempts} attempts)" for row in env_runs.itertuples() if row.attempts > 1]
    if retried:
        lines += ["", f"Retried runs (their Ray task was lost with its node or worker): {', '.join(retried)}."]
    return lines


def build_report(out_dir: str | os.PathLike, reps: int = 10_000, write: bool = True) -> Report:
    """:return: the report of the runs in ``out_dir`` (``reps`` bootstrap replications), with ``write`` written there"""
    out_dir = Path(out_dir).absolute()
    runs, evaluations = collect(out_dir)
    if runs.empty:
        raise FileNotFoundError(f"no run found in {out_dir} (expected <env>/<algo>/seed_<n>/{files.SPEC_FILE})")
    meta = files.read_json(out_dir / files.COMPARISON_FILE) or {}
    envs = _order(list(dict.fromkeys(runs["env"])), meta.get("envs", []))
    algos = _order(list(dict.fromkeys(runs["algo"])), meta.get("algos", []))

    def in_order(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
        ranks = {"_env": frame["env"].map(envs.index), "_algo": frame["algo"].map(algos.index)}
        return frame.assign(**ranks).sort_values(["_env", "_algo", *keys]).drop(columns=list(ranks)).reset_index(drop=True)

    runs, evaluations = in_order(runs, "seed"), in_order(evaluations, "seed", "timesteps")
    report = Report(out_dir, runs, evaluations, summarize(runs, algos, reps))
    workers = f" The last invocation that trained ran {meta.get('workers')} runs at once on a machine with"
    workers = workers + f" {meta.get('cpu_count')} CPU cores, so runs shared cores." if meta.get("workers") else ""
    lines = INTRO.format(algos=", ".join(algos), reps=reps, min_seeds=MIN_SEEDS_FOR_CI, workers=workers).split("\n")
    lines += [f"- {note}" for note in meta.get("notes", [])]
    for env_id in envs:
        report.tables[env_id] = format_table(report.summary[report.summary["env"] == env_id])
        if not evaluations[evaluations["env"] == env_id].empty:
            report.figures[env_id] = files.curves_png(out_dir, env_id)
        lines += _env_section(env_id, runs[runs["env"] == env_id], report.tables[env_id], report.figures.get(env_id))
    report.markdown = "\n".join(lines) + "\n"
    if write:
        (out_dir / files.REPORT_FILE).write_text(report.markdown)
        runs.to_csv(out_dir / files.RUNS_CSV, index=False)
        evaluations.to_csv(out_dir / files.EVALUATIONS_CSV, index=False)
        report.summary.to_csv(out_dir / files.SUMMARY_CSV, index=False)
        for env_id, figure in report.figures.items():
            plot_learning_curves(evaluations, env_id, figure, algos, reps=min(reps, 2000))
    return report
