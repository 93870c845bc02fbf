"""Learning curves: the mean evaluation return of each algorithm against environment steps, with a confidence band."""

import os
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rliable import library as rly


def interval_estimates(
    scores: dict[str, np.ndarray], func: Callable[[np.ndarray], np.ndarray], reps: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """
    rliable's stratified bootstrap (``get_interval_estimates``), 95% percentile intervals, seeded so that a
    report rebuilt from the same runs has the same numbers, and each algorithm's interval depends on its own
    scores only.

    rliable's ``StratifiedBootstrap`` draws its resamples from NumPy's global generator (``np.random.choice`` in
    ``update_indices``), not from the ``random_state`` it is given: each algorithm is bootstrapped alone, with the
    global generator seeded, and the caller's global state is restored afterwards.

    :param scores: an array ``(runs, tasks, ...)`` per algorithm
    :param func: the aggregate, a 1-D array of the scores
    :param reps: bootstrap replications
    :return: ``(point estimates, intervals)``, the intervals of shape ``(2, ...)``
    """
    points: dict[str, np.ndarray] = {}
    intervals: dict[str, np.ndarray] = {}
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            # rliable passes a RandomState to arch, which arch deprecates
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            for key, value in scores.items():
                np.random.seed(0)
                point, interval = rly.get_interval_estimates(
                    {key: value}, func, reps=reps, random_state=np.random.RandomState(0)
                )
                points[key], intervals[key] = point[key], interval[key]
    finally:
        np.random.set_state(state)
    return points, intervals


def seed_curves(evaluations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """
    The evaluation curves of one algorithm's seeds on a common grid of steps.

    Seeds of one algorithm are evaluated at the same steps unless a run was resumed from a checkpoint or has
    another budget; then each curve is interpolated linearly onto the steps of the seed with the fewest
    evaluations, cut to the range every seed covers.

    :param evaluations: rows of one algorithm on one environment (columns ``seed``, ``timesteps``, ``eval_mean``)
    :return: ``(timesteps, returns)``, ``returns`` of shape ``(n_seeds, len(timesteps))``
    """
    curves = [(group["timesteps"].to_numpy(), group["eval_mean"].to_numpy()) for _, group in evaluations.groupby("seed")]
    curves = [(steps, values) for steps, values in curves if len(steps) > 0]
    if not curves:
        return np.zeros(0), np.zeros((0, 0))
    grid = min((steps for steps, _ in curves), key=len)
    if all(len(steps) == len(grid) and np.array_equal(steps, grid) for steps, _ in curves):
        return grid, np.stack([values for _, values in curves])
    end = min(steps[-1] for steps, _ in curves)
    grid = grid[grid <= end]
    return grid, np.stack([np.interp(grid, steps, values) for steps, values in curves])


def plot_learning_curves(
    evaluations: pd.DataFrame,
    env_id: str,
    path: str | os.PathLike,
    algos: list[str] | None = None,
    reward_threshold: float | None = None,
    reps: int = 2000,
) -> None:
    """
    Plot the learning curves of one environment: for each algorithm, the mean over seeds of the mean evaluation
    return, and a 95% stratified bootstrap confidence interval of that mean over seeds (rliable).

    :param evaluations: the comparison's evaluations (columns ``env``, ``algo``, ``seed``, ``timesteps``, ``eval_mean``)
    :param env_id: the environment to plot
    :param path: the PNG file to write
    :param algos: the algorithms, in legend order (default: as they appear in ``evaluations``)
    :param reward_threshold: drawn as a dashed line when given
    :param reps: bootstrap replications
    """
    rows = evaluations[evaluations["env"] == env_id]
    algos = algos if algos is not None else list(dict.fromkeys(rows["algo"]))
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.add_subplot()
    colors = {algo: f"C{index}" for index, algo in enumerate(algos)}
    for algo in algos:
        timesteps, returns = seed_curves(rows[rows["algo"] == algo])
        if len(timesteps) == 0:
            continue
        # Shape (runs, tasks, points): one task, so seeds are resampled jointly over the whole curve
        point, interval = interval_estimates({algo: returns[:, None, :]}, lambda scores: scores.mean(axis=(0, 1)), reps)
        label = f"{algo} ({len(returns)} seed{'s' if len(returns) > 1 else ''})"
        ax.plot(timesteps, point[algo], color=colors[algo], label=label, linewidth=1.8)
        ax.fill_between(timesteps, interval[algo][0], interval[algo][1], color=colors[algo], alpha=0.2, linewidth=0)
    if reward_threshold is not None:
        ax.axhline(reward_threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {reward_threshold:g}")
    ax.set_title(env_id)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean evaluation return")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.text(1.0, -0.14, "mean over seeds, 95% bootstrap CI", transform=ax.transAxes, ha="right", va="top", fontsize="x-small")
    figure.savefig(path, dpi=120)
