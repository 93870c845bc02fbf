"""
The comparison's report, rebuilt from the run folders alone: ``report.md`` (one table per environment),
``runs.csv`` (one row per run), ``evaluations.csv`` (one row per run and evaluation), ``summary.csv`` (the
tables' numbers) and ``learning_curves_<env>.png``.
"""

import contextlib
import filecmp
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from rliable import metrics

from sb3_pg.compare.grid import COMPARISON_FILE, FAILED_FILE, LOG_FILE, RESULT_FILE, SPEC_FILE, RunSpec, env_dirname, read_json
from sb3_pg.compare.plots import interval_estimates, plot_learning_curves
from sb3_pg.compare.runs import load_evaluations
from sb3_pg.zoo import NEW_ALGOS, hyperparams_file

REPORT_FILE = "report.md"
RUNS_CSV = "runs.csv"
EVALUATIONS_CSV = "evaluations.csv"
SUMMARY_CSV = "summary.csv"


def reward_threshold(env_id: str) -> float | None:
    """:return: ``gym.spec(env_id).reward_threshold``, ``None`` when the environment has none or is unknown"""
    try:
        return gym.spec(env_id).reward_threshold
    except Exception:
        return None


def steps_to_threshold(timesteps: np.ndarray, returns: np.ndarray, threshold: float | None) -> float:
    """
    :param timesteps: steps of the evaluations
    :param returns: mean evaluation return at each of them
    :param threshold: the reward threshold
    :return: the steps of the first evaluation whose mean return is at least ``threshold``, NaN if none is
    """
    if threshold is None:
        return np.nan
    reached = np.flatnonzero(returns >= threshold)
    return float(timesteps[reached[0]]) if len(reached) else np.nan


def _find_runs(out_dir: Path) -> list[RunSpec]:
    specs = []
    for path in sorted(out_dir.glob(f"*/*/seed_*/{SPEC_FILE}")):
        data = read_json(path)
        if data is not None:
            specs.append(RunSpec.from_dict(data, run_dir=str(path.parent)))
    return specs


def collect(out_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """
    Read every run folder of a comparison.

    :param out_dir: the comparison folder
    :return: ``(runs, evaluations)``: one row per run (finished, failed or incomplete), and one row per
        evaluation of each finished run
    """
    out_dir = Path(out_dir)
    specs = _find_runs(out_dir)
    for package in sorted({package for spec in specs for package in spec.gym_packages}):
        with contextlib.suppress(ImportError):  # so that the thresholds of environments they register are known
            importlib.import_module(package)
    run_rows, eval_rows = [], []
    for spec in specs:
        run_dir = Path(spec.run_dir)
        result, failed = read_json(run_dir / RESULT_FILE), read_json(run_dir / FAILED_FILE)
        status = "finished" if result is not None else "failed" if failed is not None else "incomplete"
        threshold = reward_threshold(spec.env_id)
        row: dict[str, Any] = {
            "env": spec.env_id,
            "algo": spec.algo,
            "seed": spec.seed,
            "status": status,
            "n_timesteps": spec.n_timesteps,
            "timesteps": np.nan,
            "n_evaluations": 0,
            "final_timesteps": np.nan,
            "final_return": np.nan,
            "final_episode_std": np.nan,
            "best_return": np.nan,
            "reward_threshold": threshold,
            "steps_to_threshold": np.nan,
            "wall_time_s": np.nan,
            "steps_per_s": np.nan,
            "segments": np.nan,
            # Ray tasks that trained the run: more than 1 when a node or worker was lost (a local run: 1)
            "attempts": (result or failed or {}).get("attempts", 1),
            "eval_freq": spec.eval_freq,
            "eval_episodes": spec.eval_episodes,
            "n_eval_envs": spec.n_eval_envs,
            "conf_file": conf_label(spec.algo, spec.conf_file),
            "hyperparams": " ".join(spec.hyperparams),
            "message": (failed or {}).get("message", ""),
            "run_dir": os.path.relpath(run_dir, out_dir),
            "log": os.path.relpath(run_dir / LOG_FILE, out_dir),
        }
        if result is not None:
            evaluations = load_evaluations(run_dir)
            # Evaluations past the budget (a last rollout that overran it) are not compared
            within = evaluations["timesteps"] <= spec.n_timesteps
            timesteps, results = evaluations["timesteps"][within], evaluations["results"][within]
            ep_lengths = evaluations["ep_lengths"][within]
            means = results.mean(axis=1) if len(timesteps) else np.zeros(0)
            row.update(
                timesteps=result["timesteps"],
                wall_time_s=result["wall_time_s"],
                steps_per_s=result["steps_per_s"],
                segments=result["segments"],
                n_evaluations=len(timesteps),
            )
            if len(timesteps):
                row.update(
                    final_timesteps=timesteps[-1],
                    final_return=means[-1],
                    final_episode_std=results[-1].std(),
                    best_return=means.max(),
                    steps_to_threshold=steps_to_threshold(timesteps, means, threshold),
                )
            for index, steps in enumerate(timesteps):
                eval_rows.append(
                    {
                        "env": spec.env_id,
                        "algo": spec.algo,
                        "seed": spec.seed,
                        "timesteps": int(steps),
                        "eval_mean": means[index],
                        "eval_std": results[index].std(),
                        "eval_min": results[index].min(),
                        "eval_max": results[index].max(),
                        "ep_length_mean": ep_lengths[index].mean(),
                        "n_episodes": results.shape[1],
                    }
                )
        run_rows.append(row)
    eval_columns = ["env", "algo", "seed", "timesteps", "eval_mean", "eval_std", "eval_min", "eval_max"]
    eval_columns += ["ep_length_mean", "n_episodes"]
    runs = pd.DataFrame(run_rows, columns=list(run_rows[0]) if run_rows else ["env", "algo", "seed", "status"])
    # Step counts stay integers in runs.csv whether or not some run is unfinished (NaN would make them floats)
    for column in ("timesteps", "final_timesteps", "segments"):
        if column in runs:
            runs[column] = runs[column].astype("Int64")
    return runs, pd.DataFrame(eval_rows, columns=eval_columns)


def _order(found: list[str], preferred: list[str]) -> list[str]:
    return [name for name in preferred if name in found] + [name for name in found if name not in preferred]


def summarize(runs: pd.DataFrame, algos: list[str], reps: int = 10_000) -> pd.DataFrame:
    """
    The numbers of the report's tables: one row per environment and algorithm, over its finished runs.

    :param runs: the output of :func:`collect`
    :param algos: the algorithms, in table order
    :param reps: bootstrap replications of the IQM's confidence interval
    :return: the summary
    """
    rows = []
    for env_id in dict.fromkeys(runs["env"]):
        env_runs = runs[runs["env"] == env_id]
        env_algos = _order(list(dict.fromkeys(env_runs["algo"])), algos)
        finals = {}
        for algo in env_algos:
            scores = env_runs[(env_runs["algo"] == algo) & (env_runs["status"] == "finished")]["final_return"].dropna()
            if len(scores):
                finals[algo] = scores.to_numpy()[:, None]  # (runs, tasks), as rliable wants them
        iqm: dict[str, np.ndarray] = {}
        ci: dict[str, np.ndarray] = {}
        if finals:
            iqm, ci = interval_estimates(finals, lambda scores: np.array([metrics.aggregate_iqm(scores)]), reps)
        for algo in env_algos:
            algo_runs = env_runs[env_runs["algo"] == algo]
            done = algo_runs[algo_runs["status"] == "finished"]
            threshold = algo_runs["reward_threshold"].iloc[0]
            reached = done["steps_to_threshold"].dropna()
            rows.append(
                {
                    "env": env_id,
                    "algo": algo,
                    "n_timesteps": int(algo_runs["n_timesteps"].max()),
                    "runs": len(algo_runs),
                    "finished": len(done),
                    "final_return_mean": done["final_return"].mean(),
                    "final_return_std": done["final_return"].std(ddof=1) if len(done) > 1 else np.nan,
                    "iqm": iqm[algo][0] if algo in iqm else np.nan,
                    "iqm_ci_low": ci[algo][0, 0] if algo in ci else np.nan,
                    "iqm_ci_high": ci[algo][1, 0] if algo in ci else np.nan,
                    "reward_threshold": threshold,
                    "seeds_reaching_threshold": len(reached),
                    "steps_to_threshold_median": reached.median() if len(reached) else np.nan,
                    "wall_time_s_mean": done["wall_time_s"].mean(),
                    "steps_per_s_mean": done["steps_per_s"].mean(),
                }
            )
    return pd.DataFrame(rows)


def _duration(seconds: float) -> str:
    if np.isnan(seconds):
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _number(value: float, digits: int = 1) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:,.{digits}f}"


def format_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:return: the report's table of one environment, as text, from its rows of :func:`summarize`"""
    threshold = summary["reward_threshold"].iloc[0]
    has_threshold = threshold is not None and not np.isnan(threshold)
    rows = []
    for row in summary.itertuples():
        final = _number(row.final_return_mean)
        if not np.isnan(row.final_return_std):
            final += f" ± {row.final_return_std:,.1f}"
        iqm = "—" if np.isnan(row.iqm) else f"{row.iqm:,.1f} [{row.iqm_ci_low:,.1f}, {row.iqm_ci_high:,.1f}]"
        table_row = {
            "algorithm": row.algo,
            "runs": f"{row.finished}/{row.runs}",
            "final return (mean ± std)": final,
            "IQM [95% CI]": iqm,
        }
        if has_threshold:
            table_row[f"steps to {threshold:g} (median)"] = _number(row.steps_to_threshold_median, 0)
            table_row["seeds reaching it"] = f"{row.seeds_reaching_threshold}/{row.finished}"
        table_row["wall-clock / run"] = _duration(row.wall_time_s_mean)
        table_row["env steps/s"] = _number(row.steps_per_s_mean, 0)
        rows.append(table_row)
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """:return: a DataFrame of text as a Markdown table"""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "|".join(["---"] * len(table.columns)) + "|"]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def conf_label(algo: str, conf_file: str) -> str:
    """
    :return: ``sb3_pg/hyperparams/<algo>.yml`` or ``rl_zoo3/hyperparams/<algo>.yml`` when ``conf_file`` is the file
        the algorithm trains with by default (:func:`sb3_pg.zoo.hyperparams_file`), or a copy of it (the checkout's
        ``hyperparams/`` beside an installed package), else ``conf_file`` itself
    """
    default = hyperparams_file(algo)
    try:
        if os.path.samefile(conf_file, default) or (
            Path(conf_file).name == Path(default).name and filecmp.cmp(conf_file, default, shallow=False)
        ):
            return f"{'sb3_pg' if algo in NEW_ALGOS else 'rl_zoo3'}/hyperparams/{algo}.yml"
    except OSError:
        pass
    return conf_file


@dataclass
class Report:
    """
    A comparison's report.

    :param out_dir: the comparison folder
    :param runs: one row per run (``runs.csv``)
    :param evaluations: one row per run and evaluation (``evaluations.csv``)
    :param summary: the numbers of the tables (``summary.csv``)
    :param tables: the table of each environment, as text
    :param markdown: ``report.md``
    :param figures: the learning-curve PNG of each environment
    """

    out_dir: Path
    runs: pd.DataFrame
    evaluations: pd.DataFrame
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    markdown: str = ""
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> pd.DataFrame:
        """:return: the runs that crashed"""
        return self.runs[self.runs["status"] == "failed"]

    def terminal_text(self) -> str:
        """:return: the tables, one per environment, as printed in the terminal"""
        parts = []
        for env_id, table in self.tables.items():
            budget = int(self.summary[self.summary["env"] == env_id]["n_timesteps"].max())
            parts.append(f"{env_id} ({budget:,} steps per run)\n{markdown_table(table)}")
        for row in self.failed.itertuples():
            parts.append(f"FAILED {row.algo} {row.env} seed {row.seed}: {row.message}\n  log: {self.out_dir / row.log}")
        return "\n\n".join(parts)


def _describe_env(env_id: str, env_runs: pd.DataFrame) -> str:
    first = env_runs.iloc[0]
    budget = int(env_runs["n_timesteps"].max())
    text = (
        f"Budget: {budget:,} environment steps per run. Evaluation every {int(first['eval_freq']):,} steps on "
        f"{int(first['eval_episodes'])} episodes ({int(first['n_eval_envs'])} evaluation envs, deterministic actions)"
    )
    threshold = first["reward_threshold"]
    if threshold is not None and not np.isnan(threshold):
        text += f"; reward threshold {threshold:g} (`gym.spec('{env_id}').reward_threshold`)"
    return text + "."


def build_report(out_dir: str | os.PathLike, reps: int = 10_000, write: bool = True) -> Report:
    """
    Build the report of a comparison from its run folders (no training).

    :param out_dir: the comparison folder
    :param reps: bootstrap replications of the confidence intervals
    :param write: write ``report.md``, the CSV files and the plots into ``out_dir``
    :return: the report
    """
    out_dir = Path(out_dir).absolute()
    runs, evaluations = collect(out_dir)
    if runs.empty:
        raise FileNotFoundError(f"no run found in {out_dir} (expected <env>/<algo>/seed_<n>/{SPEC_FILE})")
    meta = read_json(out_dir / COMPARISON_FILE) or {}
    envs = _order(list(dict.fromkeys(runs["env"])), meta.get("envs", []))
    algos = _order(list(dict.fromkeys(runs["algo"])), meta.get("algos", []))

    def in_order(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
        ranks = {"_env": frame["env"].map(envs.index), "_algo": frame["algo"].map(algos.index)}
        return frame.assign(**ranks).sort_values(["_env", "_algo", *keys]).drop(columns=list(ranks)).reset_index(drop=True)

    runs, evaluations = in_order(runs, "seed"), in_order(evaluations, "seed", "timesteps")
    summary = summarize(runs, algos, reps)
    report = Report(out_dir, runs, evaluations, summary)

    lines = [
        f"# Comparison: {', '.join(algos)}",
        "",
        "Every run trained through rl-zoo3's `train` (`python -m sb3_pg.compare`), each algorithm with its zoo "
        "hyperparameter file; every algorithm on an environment had the same step budget. Rebuild this report "
        "without training: `python -m sb3_pg.compare --report-only -f <this folder>`.",
        "",
        "- **final return**: mean return of the last periodic evaluation of each run; mean ± standard deviation "
        "over seeds (sample std). Evaluations after the budget (a last rollout that overran it) are not used.",
        "- **IQM**: interquartile mean of those final returns over seeds, with a 95% stratified bootstrap "
        f"confidence interval (rliable, {reps:,} replications); with fewer than 4 seeds it is the mean.",
        "- **steps to threshold**: steps of the first evaluation whose mean return reaches the environment's "
        "reward threshold; median over the seeds that reached it, and how many did.",
        "- **wall-clock / run**: time of rl-zoo3's `train()` (training and its evaluations), mean over seeds; "
        "**env steps/s**: training steps per second of it."
        + (
            f" The last invocation ran {meta['workers']} runs at once on a machine with {meta['cpu_count']} CPU cores, "
            "so runs shared cores."
            if meta.get("workers")
            else ""
        ),
        "- Raw numbers: `runs.csv` (one row per run), `evaluations.csv` (one row per run and evaluation), "
        "`summary.csv` (these tables).",
    ]
    for note in meta.get("notes", []):
        lines.append(f"- {note}")
    for env_id in envs:
        env_runs = runs[runs["env"] == env_id]
        table = format_table(summary[summary["env"] == env_id])
        report.tables[env_id] = table
        lines += ["", f"## {env_id}", "", _describe_env(env_id, env_runs), "", markdown_table(table)]
        figure = out_dir / f"learning_curves_{env_dirname(env_id)}.png"
        if not evaluations[evaluations["env"] == env_id].empty:
            report.figures[env_id] = figure
            lines += ["", f"![{env_id} learning curves]({figure.name})"]
        confs = env_runs.drop_duplicates("algo")
        lines += ["", "Hyperparameters: " + "; ".join(
            f"{row.algo}: `{row.conf_file}`" + (f" with `{row.hyperparams}`" if row.hyperparams else "")
            for row in confs.itertuples()
        ) + "."]  # fmt: skip
        for status in ("failed", "incomplete"):
            others = env_runs[env_runs["status"] == status]
            if not others.empty:
                lines += ["", f"{status.capitalize()} runs (not in the table):", ""]
                for row in others.itertuples():
                    why = f": {row.message}" if row.message else ""
                    lines.append(f"- {row.algo} seed {row.seed}{why} (log: `{row.log}`)")
        retried = env_runs[env_runs["attempts"] > 1]
        if not retried.empty:
            lines += ["", "Retried runs (their Ray task was lost with its node or worker): " + ", ".join(
                f"{row.algo} seed {row.seed} ({row.attempts} attempts)" for row in retried.itertuples()
            ) + "."]  # fmt: skip
    report.markdown = "\n".join(lines) + "\n"

    if write:
        (out_dir / REPORT_FILE).write_text(report.markdown)
        runs.to_csv(out_dir / RUNS_CSV, index=False)
        evaluations.to_csv(out_dir / EVALUATIONS_CSV, index=False)
        summary.to_csv(out_dir / SUMMARY_CSV, index=False)
        for env_id, figure in report.figures.items():
            threshold = reward_threshold(env_id)
            plot_learning_curves(evaluations, env_id, figure, algos, threshold, reps=min(reps, 2000))
    return report
