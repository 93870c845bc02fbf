"""
Plot a comparison from its CSV files: every seed's learning curve, one panel per algorithm.

    python examples/plot_report.py [comparison folder]      (default: runs/quick)

``python -m sb3_pg.compare`` writes ``evaluations.csv`` (one row per run and evaluation: ``env``, ``algo``,
``seed``, ``timesteps``, ``eval_mean``, ...) and ``summary.csv`` (the numbers of the report's tables) into the
comparison folder. The report's own plot shows the mean over seeds; this one shows the seeds themselves, which
is where an unstable algorithm shows. Writes ``seeds_<env>.png`` next to the CSV files.
"""

import sys
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/quick")
if not (folder / "evaluations.csv").is_file():
    sys.exit(f"{folder}/evaluations.csv not found: run python -m sb3_pg.compare -f {folder} first")
evaluations = pd.read_csv(folder / "evaluations.csv")
summary = pd.read_csv(folder / "summary.csv")

for env_id, env_rows in evaluations.groupby("env", sort=False):
    algos = list(dict.fromkeys(env_rows["algo"]))
    figure = Figure(figsize=(3.2 * len(algos), 3.2), layout="constrained")
    axes = figure.subplots(1, len(algos), sharey=True, squeeze=False)[0]
    threshold = summary.loc[summary["env"] == env_id, "reward_threshold"].iloc[0]
    for ax, algo in zip(axes, algos, strict=True):
        for seed, run in env_rows[env_rows["algo"] == algo].groupby("seed"):
            ax.plot(run["timesteps"], run["eval_mean"], linewidth=1, label=f"seed {seed}")
        if pd.notna(threshold):
            ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
        (row,) = summary[(summary["env"] == env_id) & (summary["algo"] == algo)].itertuples()
        ax.set_title(f"{algo}: final {row.final_return_mean:.0f}", fontsize="medium")
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean evaluation return")
    axes[0].legend(fontsize="x-small")
    figure.suptitle(env_id)
    path = folder / f"seeds_{env_id.replace('/', '-')}.png"
    figure.savefig(path, dpi=100)
    print(f"{env_id}: {path}")
    columns = ["algo", "final_return_mean", "iqm", "steps_to_threshold_median"]
    print(summary[summary["env"] == env_id][columns].to_string(index=False))
