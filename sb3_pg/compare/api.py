"""The comparison's entry points: train a grid (:func:`run_grid`), or train and report (:func:`compare`)."""

import os
from collections.abc import Sequence
from typing import Any

from sb3_pg.compare.grid import COMPARISON_FILE, Grid, check_same_experiment, make_grid, read_json, write_json
from sb3_pg.compare.report import Report, build_report
from sb3_pg.compare.runner import RunOutcome, run_local, run_one, run_ray

DEFAULT_ALGOS = ("reinforce", "vpg", "npg", "klppo", "ppo", "trpo")


def default_workers() -> int:
    """:return: the number of CPU cores this process may use"""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _record(grid: Grid, workers: int | None, ray_address: str | None) -> None:
    """Add the grid to the comparison folder's ``comparison.json``, which orders and annotates the report."""
    path = grid.out_dir / COMPARISON_FILE
    meta: dict[str, Any] = read_json(path) or {}
    meta["envs"] = list(dict.fromkeys([*meta.get("envs", []), *grid.envs]))
    meta["algos"] = list(dict.fromkeys([*meta.get("algos", []), *grid.algos]))
    meta["budgets"] = {**meta.get("budgets", {}), **grid.budgets}
    meta["notes"] = list(dict.fromkeys([*meta.get("notes", []), *grid.notes]))
    meta["workers"] = workers if ray_address is None else None
    meta["cpu_count"] = os.cpu_count()
    meta["ray_address"] = ray_address
    write_json(path, meta)


def run_grid(
    grid: Grid, workers: int | None = None, ray_address: str | None = None, progress: bool = True
) -> list[RunOutcome]:
    """
    Train the runs of a grid that have not finished yet.

    :param grid: the grid (:func:`~sb3_pg.compare.grid.make_grid`)
    :param workers: runs that train at once on this machine (default: its number of cores); with Ray, the
        cluster schedules one run per CPU
    :param ray_address: run on this Ray cluster instead of local processes
    :param progress: show the live progress display
    :return: the outcome of every run (finished earlier: ``"skipped"``)
    """
    from sb3_pg.compare.progress import GridProgress

    conflicts = [message for spec in grid.specs if (message := check_same_experiment(spec))]
    if conflicts:
        raise ValueError("\n".join(conflicts))
    missing = sorted({spec.conf_file for spec in grid.specs if not os.path.isfile(spec.conf_file)})
    if missing:
        raise FileNotFoundError(f"hyperparameter file(s) not found: {', '.join(missing)}")
    workers = workers or default_workers()
    grid.out_dir.mkdir(parents=True, exist_ok=True)
    _record(grid, workers, ray_address)

    skipped = [run_one(spec) for spec in grid.specs if os.path.isfile(os.path.join(spec.run_dir, "result.json"))]
    todo = [spec for spec in grid.specs if spec not in {outcome.spec for outcome in skipped}]
    display = GridProgress(todo, enabled=progress)
    if skipped and progress:
        display.console.print(f"{len(skipped)} of {len(grid.specs)} runs finished earlier: skipped")
    for note in grid.notes:
        display.console.print(f"note: {note}")
    with display:
        if ray_address is not None:
            outcomes = run_ray(todo, ray_address, display) if todo else []
        else:
            outcomes = run_local(todo, workers, display) if todo else []
    return skipped + outcomes


def compare(
    envs: Sequence[str],
    algos: Sequence[str] = DEFAULT_ALGOS,
    seeds: int | Sequence[int] = 5,
    out_dir: str | os.PathLike = "runs",
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    reps: int = 10_000,
    **grid_kwargs: Any,
) -> tuple[Report, list[RunOutcome]]:
    """
    Train the comparison (what has not finished yet) and build its report.

    :param envs: environment ids
    :param algos: zoo algorithm names
    :param seeds: the number of seeds or the seeds
    :param out_dir: the comparison folder
    :param workers: runs that train at once (default: the number of cores)
    :param ray_address: run as Ray tasks on this Ray cluster
    :param progress: show the live progress display
    :param reps: bootstrap replications of the report's confidence intervals
    :param grid_kwargs: the other arguments of :func:`~sb3_pg.compare.grid.make_grid` (``n_timesteps``,
        ``eval_freq``, ``eval_episodes``, ``n_eval_envs``, ``save_freq``, ``hyperparams``, ``conf_files``, ...)
    :return: the report and the outcome of every run
    """
    grid = make_grid(envs, algos, seeds, out_dir, **grid_kwargs)
    outcomes = run_grid(grid, workers, ray_address, progress)
    return build_report(grid.out_dir, reps), outcomes


__all__ = [
    "DEFAULT_ALGOS",
    "compare",
    "default_workers",
    "run_grid",
]
