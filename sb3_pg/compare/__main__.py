"""``python -m sb3_pg.compare`` and :func:`compare`: the grid (:mod:`.spec`), its runs (:mod:`.run`), the report."""

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from sb3_pg.compare import spec as files
from sb3_pg.compare.run import Callbacks, RunOutcome, run_local, run_one, run_ray
from sb3_pg.compare.spec import RunSpec

DEFAULT_ALGOS = ("reinforce", "vpg", "npg", "klppo", "ppo", "trpo")
REPORT_FLAGS = ("folder", "reps", "report_only", "no_progress")  # the others train
# The flags that are not compare's arguments of the same name
OWN_FLAGS = ("env", "algo", "seeds", "first_seed", "folder", "conf_file", "no_progress", "report_only")
EPILOG = """
Runs go to <folder>/<env>/<algo>/seed_<n>/; once every run of an environment has finished, their folders (but models,
Monitor files, train.log) go into <folder>/<env>/runs.tar.xz. The same command again skips the finished runs and restarts
the others from scratch or, with --save-freq, from their latest checkpoint. Arguments after a lone -- go to rl_zoo3.train.
Exit status: 0 when every run finished, 1 when some failed (the report covers the others), 130 when interrupted.
"""


def default_workers() -> int:
    """:return: the number of CPU cores this process may use"""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def print_start(spec: RunSpec) -> None:
    print(f"started  {spec.label} ({spec.n_timesteps:,} steps)", flush=True)


def print_end(outcome: RunOutcome, progress: bool = True) -> None:
    """Print a run that failed or, with ``progress``, finished."""
    if outcome.status == "finished" and progress:
        rate = f" ({outcome.steps_per_s:,.0f} steps/s)" if outcome.steps_per_s else ""
        print(f"finished {outcome.spec.label}: {outcome.timesteps:,} steps in {outcome.wall_time_s:.1f} s{rate}", flush=True)
    elif outcome.status == "failed":
        log = Path(outcome.spec.run_dir) / files.LOG_FILE
        print(f"FAILED   {outcome.spec.label}: {outcome.message}\n         log: {log}", flush=True)


def print_building(out_dir: str | os.PathLike, reps: int) -> None:
    """Say that the report is being built: its bootstrap intervals and learning curves take a while on a large folder."""
    print(f"building the report of {out_dir} ({reps:,} bootstrap replications per interval, learning curves)", flush=True)


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
) -> tuple[Any, list[RunOutcome]]:
    """
    Train the runs of :func:`~.spec.make_grid` that have not finished, ``workers`` at once (default: the CPU cores) or on
    the Ray cluster at ``ray_address``, pack the run folders of the environments whose runs all finished, and report.

    :return: the report (:func:`~.report.build_report`) and the outcome of every run (finished earlier: ``"skipped"``)
    """
    from sb3_pg.compare.report import build_report

    grid = files.make_grid(envs, algos, seeds, out_dir, **grid_kwargs)
    for env_id in grid.envs:
        files.unpack_records(grid.out_dir / files.env_dirname(env_id))
    if conflicts := [message for spec in grid.specs if (message := files.check_same_experiment(spec))]:
        raise ValueError("\n".join(conflicts))
    if missing := sorted({spec.conf_file for spec in grid.specs if not os.path.isfile(spec.conf_file)}):
        raise FileNotFoundError(f"hyperparameter file(s) not found: {', '.join(missing)}")
    workers = workers or default_workers()
    # comparison.json orders and annotates the report
    meta: dict[str, Any] = files.read_json(grid.out_dir / files.COMPARISON_FILE) or {}
    for key, values in (("envs", grid.envs), ("algos", grid.algos), ("notes", grid.notes)):
        meta[key] = list(dict.fromkeys([*meta.get(key, []), *values]))
    meta["budgets"] = {**meta.get("budgets", {}), **grid.budgets}
    skipped = [run_one(spec) for spec in grid.specs if os.path.isfile(os.path.join(spec.run_dir, files.RESULT_FILE))]
    todo = [spec for spec in grid.specs if spec not in {outcome.spec for outcome in skipped}]
    if todo:  # the report's note on shared cores is of the invocation that last trained
        meta.update(cpu_count=os.cpu_count(), ray_address=ray_address, workers=workers if ray_address is None else None)
    files.write_json(grid.out_dir / files.COMPARISON_FILE, meta)
    if skipped:
        rest = "" if todo else f": nothing to train (a new --folder trains every run again; {grid.out_dir} keeps these)"
        print(f"{len(skipped)} of {len(grid.specs)} runs finished earlier: skipped{rest}", flush=True)
    for note in grid.notes:
        print(f"note: {note}")
    callbacks = Callbacks(on_end=partial(print_end, progress=progress), on_note=partial(print, flush=True))
    if progress:
        callbacks.on_start = print_start
    outcomes: list[RunOutcome] = []
    if todo:
        outcomes = run_ray(todo, ray_address, callbacks) if ray_address else run_local(todo, workers, callbacks)
    for env_id in grid.envs:
        files.pack(grid.out_dir / files.env_dirname(env_id))
    print_building(grid.out_dir, reps)
    return build_report(grid.out_dir, reps), skipped + outcomes


def make_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser"""
    description = "Compare policy-gradient algorithms on the same environments and budget, trained by rl-zoo3."
    kwargs = {"description": description, "epilog": EPILOG, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = argparse.ArgumentParser("python -m sb3_pg.compare", **kwargs)  # type: ignore[arg-type]
    add = parser.add_argument
    add("--env", nargs="+", default=[], help="environment ids")
    add("--algo", nargs="+", default=list(DEFAULT_ALGOS), help="zoo algorithm names (default: %(default)s)")
    add("--seeds", type=int, default=5, help="number of seeds, 0 .. N-1 (default: %(default)s)")
    add("--first-seed", type=int, default=0, help="seeds K .. K+N-1 instead, e.g. to check a tuned entry on other seeds")
    add("-f", "--folder", default="runs", help="comparison folder (default: %(default)s)")
    add("-n", "--n-timesteps", type=int, default=None, help="steps per run (default: the environment's budget in rl-zoo3)")
    add("--budget-from", choices=files.BUDGET_SOURCES, default="max", help="zoo file of the default budget (default: max)")
    add("--eval-freq", type=int, default=None, help="evaluate every N steps (default: 20 evaluations over the budget)")
    add("--eval-episodes", type=int, default=10, help="episodes per evaluation (default: %(default)s)")
    add("--n-eval-envs", type=int, default=5, help="evaluation environments (default: %(default)s)")
    add("--save-freq", type=int, default=-1, help="checkpoint every N steps, so that an interrupted run resumes from one")
    add("--workers", type=int, default=None, help="runs at once (default: the number of CPU cores)")
    add("-params", "--hyperparams", nargs="+", default=[], help="overrides key:value (every algorithm) or algo:key:value")
    add("--conf-file", nargs="+", default=[], metavar="ALGO:FILE", help="hyperparameter file of an algorithm")
    add("--gym-packages", nargs="+", default=[], help="modules to import to register environments")
    add("--device", default="cpu", help="PyTorch device of the runs (default: %(default)s)")
    add("--num-threads", type=int, default=1, help="PyTorch threads per run (default: %(default)s)")
    add("--ray-address", default=None, help="run as Ray tasks on this Ray cluster (e.g. auto, host:6379)")
    add("--reps", type=int, default=10_000, help="bootstrap replications of the CIs (default: %(default)s)")
    add("--no-progress", action="store_true", help="print failures, not each run's start and end")
    add("--report-only", action="store_true", help="rebuild the report from the run folders, no training")
    return parser


def main(argv: list[str] | None = None) -> int:
    """:return: the exit status of the command line ``argv`` (default: ``sys.argv[1:]``)"""
    argv = sys.argv[1:] if argv is None else list(argv)
    argv, zoo_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = make_parser()
    args = parser.parse_args(argv)
    from sb3_pg.compare.report import build_report

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a SIGTERM (kill, a batch system) stops the runs as Ctrl-C
    if args.report_only:  # it reports every run in the folder: a training flag would be silently ignored
        training = [key for key, value in vars(args).items() if value != parser.get_default(key) and key not in REPORT_FLAGS]
        if ignored := [f"--{key.replace('_', '-')}" for key in training] + ["--"] * bool(zoo_args):
            parser.error(f"--report-only reports every run in --folder and trains nothing: drop {', '.join(ignored)}")
    elif not args.env:
        parser.error("--env is required (or --report-only)")
    elif args.first_seed < 0:
        parser.error(f"--first-seed must be at least 0, got {args.first_seed}")
    elif bad := [item for item in args.conf_file if ":" not in item]:
        parser.error(f"--conf-file takes ALGO:FILE, got {bad[0]!r}")
    try:
        outcomes: list[RunOutcome] = []
        if args.report_only:
            print_building(Path(args.folder).absolute(), args.reps)
            report = build_report(args.folder, reps=args.reps)
        else:
            seeds = range(args.first_seed, args.first_seed + args.seeds)
            kwargs = {key: value for key, value in vars(args).items() if key not in OWN_FLAGS}
            kwargs |= {"conf_files": dict(item.split(":", 1) for item in args.conf_file), "zoo_args": zoo_args}
            report, outcomes = compare(args.env, args.algo, seeds, args.folder, progress=not args.no_progress, **kwargs)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to continue (finished runs are kept)", file=sys.stderr)
        return 130
    print(f"\n{report.terminal_text()}\n\nreport: {report.out_dir / files.REPORT_FILE}")
    for env_id, figure in report.figures.items():
        print(f"learning curves of {env_id}: {figure}")
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
