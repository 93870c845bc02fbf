"""
``python -m sb3_pg.compare``: train the comparison grid through rl-zoo3 and write its report.

Examples::

    python -m sb3_pg.compare --env CartPole-v1 Acrobot-v1 --algo reinforce vpg npg ppo trpo --seeds 5 -f runs/
    python -m sb3_pg.compare --env CartPole-v1 --seeds 3 -n 20000 -f runs/quick
    python -m sb3_pg.compare --report-only -f runs/
    python -m sb3_pg.compare --env CartPole-v1 -f runs/ -- --vec-env subproc   # arguments after -- go to rl_zoo3.train
"""

import argparse
import signal
import sys

EPILOG = """
Runs go to <folder>/<env>/<algo>/seed_<n>/; rl-zoo3's own log folder is inside. Running the same command
again skips the finished runs (result.json) and restarts the others from scratch, or, with --save-freq,
resumes them from their latest checkpoint. Arguments after a lone -- are passed to rl_zoo3.train as they are.
Exit status: 0 when every run finished, 1 when some failed (the report covers the others), 130 when interrupted.
"""


def make_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser"""
    from sb3_pg.compare.api import DEFAULT_ALGOS
    from sb3_pg.compare.grid import BUDGET_SOURCES

    parser = argparse.ArgumentParser(
        prog="python -m sb3_pg.compare",
        description="Compare policy-gradient algorithms on the same environments and budget, trained by rl-zoo3.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", nargs="+", default=[], help="environment ids")
    parser.add_argument("--algo", nargs="+", default=list(DEFAULT_ALGOS), help="zoo algorithm names (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0 .. N-1 (default: %(default)s)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds K .. K+N-1 instead, e.g. to check a tuned entry on seeds the benchmark does not use (default: 0)",
    )
    parser.add_argument("-f", "--folder", default="runs", help="comparison folder (default: %(default)s)")
    parser.add_argument(
        "-n", "--n-timesteps", type=int, default=None, help="steps per run (default: the environment's budget in rl-zoo3)"
    )
    parser.add_argument(
        "--budget-from",
        choices=BUDGET_SOURCES,
        default="max",
        help="zoo file whose n_timesteps is the default budget: ppo.yml, trpo.yml or the larger of the two "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--eval-freq", type=int, default=None, help="evaluate every N steps (default: 20 evaluations over the budget)"
    )
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default: %(default)s)")
    parser.add_argument("--n-eval-envs", type=int, default=5, help="evaluation environments (default: %(default)s)")
    parser.add_argument(
        "--save-freq",
        type=int,
        default=-1,
        help="checkpoint every N steps, so that an interrupted run resumes from its latest checkpoint "
        "(default: no checkpoint, an interrupted run restarts from scratch)",
    )
    parser.add_argument("--workers", type=int, default=None, help="runs at once (default: the number of CPU cores)")
    parser.add_argument(
        "-params",
        "--hyperparams",
        nargs="+",
        default=[],
        help="hyperparameter overrides key:value (every algorithm) or algo:key:value, values as for rl_zoo3.train",
    )
    parser.add_argument("--conf-file", nargs="+", default=[], metavar="ALGO:FILE", help="hyperparameter file of an algorithm")
    parser.add_argument("--gym-packages", nargs="+", default=[], help="modules to import to register environments")
    parser.add_argument("--device", default="cpu", help="PyTorch device of the runs (default: %(default)s)")
    parser.add_argument("--num-threads", type=int, default=1, help="PyTorch threads per run (default: %(default)s)")
    parser.add_argument("--ray-address", default=None, help="run as Ray tasks on this Ray cluster (e.g. auto, host:6379)")
    parser.add_argument(
        "--reps", type=int, default=10_000, help="bootstrap replications of the confidence intervals (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the run folders, no training")
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    :param argv: command-line arguments (default: ``sys.argv[1:]``)
    :return: the exit status
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    zoo_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, zoo_args = argv[:split], argv[split + 1 :]
    parser = make_parser()
    args = parser.parse_args(argv)

    from sb3_pg.compare.report import REPORT_FILE, build_report

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A SIGTERM (kill, a batch system) stops the runs' processes as Ctrl-C does
    signal.signal(signal.SIGTERM, terminate)

    if args.report_only:
        # The report covers every run in the folder: a training flag would be silently ignored
        report_flags = {"folder", "reps", "report_only", "no_progress", "help"}
        # Every flag's long name is its dest with dashes
        ignored = [
            "--" + dest.replace("_", "-")
            for dest, value in vars(args).items()
            if dest not in report_flags and value != parser.get_default(dest)
        ]
        ignored += ["--"] if zoo_args else []
        if ignored:
            parser.error(f"--report-only reports every run in --folder and trains nothing: drop {', '.join(ignored)}")
    else:
        from sb3_pg.compare.api import run_grid
        from sb3_pg.compare.grid import make_grid

        if not args.env:
            parser.error("--env is required (or --report-only)")
        if args.first_seed < 0:
            parser.error(f"--first-seed must be at least 0, got {args.first_seed}")
        conf_files = {}
        for item in args.conf_file:
            algo, sep, path = item.partition(":")
            if not sep:
                parser.error(f"--conf-file takes ALGO:FILE, got {item!r}")
            conf_files[algo] = path
        try:
            grid = make_grid(
                args.env,
                args.algo,
                range(args.first_seed, args.first_seed + args.seeds),
                args.folder,
                n_timesteps=args.n_timesteps,
                budget_from=args.budget_from,
                eval_freq=args.eval_freq,
                eval_episodes=args.eval_episodes,
                n_eval_envs=args.n_eval_envs,
                save_freq=args.save_freq,
                hyperparams=args.hyperparams,
                conf_files=conf_files,
                gym_packages=args.gym_packages,
                zoo_args=zoo_args,
                device=args.device,
                num_threads=args.num_threads,
            )
            outcomes = run_grid(grid, args.workers, args.ray_address, progress=not args.no_progress)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ninterrupted: run the same command again to continue (finished runs are kept)", file=sys.stderr)
            return 130
        failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    try:
        report = build_report(args.folder, reps=args.reps)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(report.terminal_text())
    print(f"\nreport: {report.out_dir / REPORT_FILE}")
    for env_id, figure in report.figures.items():
        print(f"learning curves of {env_id}: {figure}")
    if args.report_only:
        return 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
