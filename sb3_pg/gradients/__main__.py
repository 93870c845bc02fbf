"""
``python -m sb3_pg.gradients``: the variance and agreement of policy-gradient estimators at a fixed policy,
over a range of batch sizes (``docs/gradients.md``).

The policy is a fresh one (``--algo vpg``), a saved model (``--model path.zip``, of the algorithm the file records,
else of ``--algo``) or the latest run of an RL Zoo log folder (``-f logs/ --algo vpg --env CartPole-v1``, found as
``rl_zoo3.enjoy`` finds it, with its ``vecnormalize.pkl`` and env settings). Every argument is checked before an env
is built or a folder made: a bad one is reported on one line, with exit status 2, as argparse reports its own.
It writes ``gradients.csv``, ``cosine.png``, ``variance.png`` and ``natural.png`` to ``--output-dir`` and prints the
table. Needs the ``zoo`` extra (tqdm, matplotlib, rl-zoo3).
"""

import argparse
import csv
import json
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch as th
from sb3_contrib import TRPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from sb3_pg import KLPPO, NPG, REINFORCE, VPG
from sb3_pg.gradients.estimators import GradientReport, measure_gradients, weighting_names

ALGOS: dict[str, type[BaseAlgorithm]] = {
    "reinforce": REINFORCE,
    "vpg": VPG,
    "npg": NPG,
    "klppo": KLPPO,
    "a2c": A2C,
    "ppo": PPO,
    "trpo": TRPO,
}
DEFAULT_ALGO = "vpg"  # of a fresh policy and of -f; a --model file records its own (this package's algorithms)
# The weightings that use the fitted V: the table gives its R^2 on their rows
USES_V = ("G_t-V", "GAE(")
# The columns of the printed table (the CSV has every measure)
TABLE = (
    ("weighting", "weighting"),
    ("B", "batch_size"),
    ("steps", "mean_steps"),
    ("variance", "variance"),
    ("rel. var.", "relative_variance"),
    ("SNR", "snr"),
    ("cos pairs", "cos_pairwise"),
    ("cos ref", "cos_ref"),
    ("cos true", "cos_true"),
    ("nat cos pairs", "nat_cos_pairwise"),
    ("nat cos ref", "nat_cos_ref"),
)


def load_policy(args: argparse.Namespace) -> tuple[BaseAlgorithm, VecEnv, str]:
    """
    :return: the model whose policy is measured, the env to sample from, and where the policy came from
    """
    algo: Any = ALGOS[args.algo]
    if args.folder is not None:
        import yaml
        from rl_zoo3 import create_test_env, get_saved_hyperparams
        from rl_zoo3.utils import EnvironmentName

        env_name = EnvironmentName(args.env)
        model_path, log_path = args.zoo_model
        # As rl_zoo3.enjoy: the saved config (normalisation, wrappers), then the env kwargs of training, then ours
        hyperparams, stats_path = get_saved_hyperparams(os.path.join(log_path, env_name), test_mode=True)
        env_kwargs = hyperparams.pop("env_kwargs", None) or {}
        args_path = os.path.join(log_path, env_name, "args.yml")
        if os.path.isfile(args_path):
            with open(args_path) as file:
                env_kwargs = yaml.load(file, Loader=yaml.UnsafeLoader).get("env_kwargs") or env_kwargs
        env_kwargs.update(args.env_kwargs or {})
        env = create_test_env(
            env_name.gym_id,
            n_envs=args.n_envs,
            stats_path=stats_path,
            seed=args.seed,
            should_render=False,
            hyperparams=hyperparams,
            env_kwargs=env_kwargs,
            vec_env_cls=DummyVecEnv,
        )
        model = algo.load(model_path, device=args.device, custom_objects={"learning_rate": 0.0, "lr_schedule": lambda _: 0.0})
        return model, env, model_path

    wrapper_class = None
    if args.env_wrapper is not None:
        from rl_zoo3.utils import get_wrapper_class

        wrapper_class = get_wrapper_class({"env_wrapper": args.env_wrapper})
    env = make_vec_env(args.env, n_envs=args.n_envs, seed=args.seed, env_kwargs=args.env_kwargs, wrapper_class=wrapper_class)
    if args.model is not None:
        model = algo.load(args.model, device=args.device, custom_objects={"learning_rate": 0.0, "lr_schedule": lambda _: 0.0})
        return model, env, args.model
    return algo("MlpPolicy", env, seed=args.seed, device=args.device), env, f"fresh {args.algo} MlpPolicy (seed {args.seed})"


def write_csv(path: Path, report: GradientReport, extra: dict[str, Any]) -> None:
    """Write one row per weighting and batch size, with ``extra`` columns and the pools' sizes."""
    columns = {
        **extra,
        "true_reference": report.true_reference,
        "reference_steps": report.reference_steps,
        "critic_steps": report.critic_steps,
        "pool_steps": report.pool_steps,
        "critic_r2": report.critic_r2,
        "critic_holdout_r2": report.critic_holdout_r2,
        "critic_passes": report.critic_passes,
        "critic_stopped": report.critic_stopped,
    }
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[*report.rows[0], *columns])
        writer.writeheader()
        for row in report.rows:
            writer.writerow({**row, **columns})


def format_table(rows: Sequence[dict[str, Any]], critic_r2: float | None = None) -> str:
    """
    :param critic_r2: the ``R^2`` of the fitted ``V``, given in a last column on the rows of the weightings that use it
    :return: the rows as a Markdown table of the :data:`TABLE` columns present
    """
    columns = [(title, key) for title, key in TABLE if key in rows[0]]
    if critic_r2 is not None:
        columns.append(("V R^2", "critic_r2"))
        rows = [{**row, "critic_r2": critic_r2 if row["weighting"].startswith(USES_V) else "-"} for row in rows]

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if abs(value) >= 1000:
                return f"{value:.0f}"
            return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
        return str(value)

    lines = ["| " + " | ".join(title for title, _ in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row[key]) for _, key in columns) + " |" for row in rows]
    return "\n".join(lines)


def plot(report: GradientReport, output_dir: Path, title: str) -> list[Path]:
    """
    Plot the measures against the batch size, one line per weighting: ``cosine.png`` (to the weighting's own
    reference and to the common one), ``variance.png`` (variance and SNR) and, when measured, ``natural.png``.

    :return: the files written
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [
        ("cosine.png", [("cos_ref", "cosine to own reference"), ("cos_true", f"cosine to {report.true_reference} reference")]),
        ("variance.png", [("variance", "tr Cov(g)"), ("snr", "SNR = ||mean g||^2 / tr Cov(g)")]),
    ]
    if "nat_cos_ref" in report.rows[0]:
        figures.append(
            ("natural.png", [("nat_cos_ref", "F^-1 g: cosine to own reference"), ("nat_variance", "F^-1 g: tr Cov")])
        )
    names = list(dict.fromkeys(row["weighting"] for row in report.rows))
    paths = []
    for filename, panels in figures:
        figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4))
        for axis, (key, label) in zip(axes, panels, strict=True):
            for name in names:
                rows = [row for row in report.rows if row["weighting"] == name]
                axis.plot([row["batch_size"] for row in rows], [row[key] for row in rows], marker="o", label=name)
            axis.set_xscale("log", base=2)
            if key in ("variance", "snr", "nat_variance"):
                axis.set_yscale("log")
            axis.set_xlabel("batch size B (steps)")
            axis.set_title(label)
            axis.grid(alpha=0.3)
        axes[0].legend(fontsize="small")
        figure.suptitle(title)
        figure.tight_layout()
        paths.append(output_dir / filename)
        figure.savefig(paths[-1], dpi=100)
        plt.close(figure)
    return paths


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from rl_zoo3.utils import StoreDict

    parser = argparse.ArgumentParser(prog="python -m sb3_pg.gradients", description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--env", required=True, help="environment id")
    parser.add_argument(
        "--algo",
        default=None,
        choices=sorted(ALGOS),
        help=f"the algorithm of the policy (default: the one a --model file records, else {DEFAULT_ALGO})",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default=None, help="a saved model (.zip)")
    source.add_argument("-f", "--folder", default=None, help="an RL Zoo log folder (<folder>/<algo>/<env>_<id>/)")
    parser.add_argument("--exp-id", type=int, default=None, help="with -f: the run id (default 0: the latest)")
    parser.add_argument("--load-best", action="store_true", default=None, help="with -f: load best_model.zip")
    parser.add_argument("--env-kwargs", nargs="+", action=StoreDict, default=None, help="k:v keyword arguments of the env")
    parser.add_argument("--env-wrapper", default=None, help="a wrapper class, as the zoo's env_wrapper (not with -f)")
    parser.add_argument("--n-envs", type=int, default=8, help="envs to sample with")
    parser.add_argument("--gamma", type=float, default=None, help="discount factor (default: the model's)")
    parser.add_argument("-b", "--batch-sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096], help="B, in steps")
    parser.add_argument("-k", "--n-batches", type=int, default=32, help="K, batches per size")
    parser.add_argument("--reference-steps", type=int, default=None, help="reference pool (default 10 * max B)")
    parser.add_argument("--critic-steps", type=int, default=None, help="value-fit pool (default 4 * max B)")
    parser.add_argument(
        "--critic-epochs",
        type=int,
        default=500,
        help="the most passes of the value fit, which stops once --critic-patience passes have not lowered its error on "
        "held-out episodes (0: the value head as is)",
    )
    parser.add_argument("--critic-patience", type=int, default=10, help="passes without a lower held-out error that stop it")
    parser.add_argument(
        "--max-episode-steps", type=int, default=10_000, help="an episode is truncated after this many steps when sampled"
    )
    parser.add_argument("--lambdas", type=float, nargs="*", default=[0.9, 0.95, 0.99], help="GAE lambdas")
    parser.add_argument("--no-natural", action="store_true", help="skip the natural directions F^-1 g")
    parser.add_argument("--cg-damping", type=float, default=0.1, help="damping of F (NPG's default)")
    parser.add_argument("--cg-max-steps", type=int, default=15, help="conjugate-gradient iterations (NPG's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num-threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("-o", "--output-dir", default=None, help="default: gradients/<env>_<algo>")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def recorded_algo(path: str) -> str | None:
    """
    :param path: a model file SB3's ``load`` can read (``.zip`` added when the name has none and the file is missing)
    :return: the name in :data:`ALGOS` of the algorithm that saved it, where the file records it (this package's
        algorithms do; SB3's and sb3-contrib's do not)
    :raise ValueError: when it is not a readable model file
    """
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable model file: {error}") from error
    names = {cls.__name__: name for name, cls in ALGOS.items()}
    written_by = data.get("algorithm_name")
    return names.get(written_by) if isinstance(written_by, str) else None


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """
    Check every argument before anything is built: a bad one ends the program through ``parser.error`` (one line
    naming the flag, exit status 2). Sets ``args.algo`` (from a ``--model`` file when it records its algorithm) and,
    with ``-f``, ``args.zoo_model``: the model file and the run's folder.
    """
    import gymnasium as gym

    positive = {
        "-k/--n-batches": (args.n_batches, 2),
        "--n-envs": (args.n_envs, 1),
        "--critic-epochs": (args.critic_epochs, 0),
    }
    positive |= {"--critic-patience": (args.critic_patience, 1), "--max-episode-steps": (args.max_episode_steps, 1)}
    positive |= {"--cg-max-steps": (args.cg_max_steps, 1), "--num-threads": (args.num_threads, 0)}
    positive |= {
        flag: (value, 1)
        for flag, value in (("--reference-steps", args.reference_steps), ("--critic-steps", args.critic_steps))
        if value is not None
    }
    for flag, (value, minimum) in positive.items():
        if value < minimum:
            parser.error(f"{flag} must be at least {minimum}, got {value}")
    if min(args.batch_sizes) < 1:
        parser.error(f"-b/--batch-sizes must be at least 1, got {min(args.batch_sizes)}")
    if bad := [lam for lam in args.lambdas if not 0.0 <= lam <= 1.0]:
        parser.error(f"--lambdas must lie in [0, 1], got {bad[0]:g}")
    if args.gamma is not None and not 0.0 <= args.gamma <= 1.0:
        parser.error(f"--gamma must lie in [0, 1], got {args.gamma:g}")
    if not math.isfinite(args.cg_damping) or args.cg_damping < 0:
        parser.error(f"--cg-damping must be at least 0, got {args.cg_damping:g}")
    try:
        gym.spec(args.env)
    except Exception as error:  # gymnasium's message names the id and suggests the nearest one
        parser.error(f"--env {args.env}: {error}")
    if args.folder is None:
        for flag, value in (("--exp-id", args.exp_id), ("--load-best", args.load_best)):
            if value is not None:
                parser.error(f"{flag} applies to a zoo log folder (-f) only")
    elif args.env_wrapper is not None:
        parser.error("--env-wrapper does not apply with -f: the run's own wrappers (its config.yml) are used")
    if args.model is not None:
        path = args.model if os.path.isfile(args.model) or os.path.splitext(args.model)[1] else f"{args.model}.zip"
        if not os.path.isfile(path):
            parser.error(f"--model {args.model}: no such file")
        try:
            saved_by = recorded_algo(path)
        except ValueError as error:
            parser.error(f"--model {error}")
        if saved_by is not None and args.algo not in (None, saved_by):
            parser.error(f"--algo {args.algo}, but --model {args.model} was saved by {saved_by}: leave --algo out")
        if saved_by is None and args.algo is None:
            parser.error(f"--model {args.model} does not record its algorithm (SB3 and sb3-contrib files do not): pass --algo")
        args.algo = saved_by or args.algo
    args.algo = args.algo or DEFAULT_ALGO
    if args.folder is not None:
        from rl_zoo3.utils import EnvironmentName, get_model_path

        if not os.path.isdir(args.folder):
            parser.error(f"-f/--folder {args.folder}: no such folder")
        try:
            _, model_path, log_path = get_model_path(
                args.exp_id or 0, args.folder, args.algo, EnvironmentName(args.env), bool(args.load_best)
            )
        except (AssertionError, ValueError) as error:
            parser.error(f"-f/--folder {args.folder}: {error}")
        args.zoo_model = (model_path, log_path)


def main(argv: Sequence[str] | None = None) -> GradientReport:
    """Run the command line ``argv`` (default: this process's)."""
    from tqdm import tqdm

    args = parse_args(argv)
    if args.num_threads > 0:
        th.set_num_threads(args.num_threads)
    model, env, source = load_policy(args)
    if not isinstance(model.policy, ActorCriticPolicy):
        raise ValueError(f"{args.algo}'s policy is not an actor-critic policy")
    gamma = args.gamma if args.gamma is not None else float(model.gamma)  # type: ignore[attr-defined]
    output_dir = Path(args.output_dir or f"gradients/{args.env}_{args.algo}")
    output_dir.mkdir(parents=True, exist_ok=True)

    largest = max(args.batch_sizes)
    print(
        f"Sampling the value fit's pool ({args.critic_steps or 4 * largest} steps), the reference pool "
        f"({args.reference_steps or 10 * largest}) and the batch pool (at least {args.n_batches * largest}), then the batches"
    )
    with tqdm(total=len(set(args.batch_sizes)) * args.n_batches, desc="batches", disable=args.no_progress) as bar:
        report = measure_gradients(
            model.policy,
            env,
            gamma,
            args.batch_sizes,
            n_batches=args.n_batches,
            reference_steps=args.reference_steps,
            critic_steps=args.critic_steps,
            critic_epochs=args.critic_epochs,
            critic_patience=args.critic_patience,
            max_episode_steps=args.max_episode_steps,
            gae_lambdas=args.lambdas,
            natural=not args.no_natural,
            cg_damping=args.cg_damping,
            cg_max_steps=args.cg_max_steps,
            seed=args.seed,
            progress=bar.update,
        )
    env.close()
    write_csv(output_dir / "gradients.csv", report, {"env": args.env, "algo": args.algo, "policy": source, "gamma": gamma})
    title = f"{args.env}, {source}: K={args.n_batches}, reference {report.reference_steps} steps"
    plot(report, output_dir, title)
    if report.critic_stopped == "no fit":
        fit = "V: the value head as it is"
    else:
        fit = f"V fitted on {report.critic_steps} steps, {report.critic_passes} passes ({report.critic_stopped})"
    print(f"{title}; {fit}, R^2 {report.critic_r2:.3f} on the batch pool; cos true: reference of {report.true_reference}")
    print(f"weightings: {', '.join(weighting_names(args.lambdas))}")
    print(format_table(report.rows, report.critic_r2))
    print(f"Wrote {output_dir / 'gradients.csv'} and the plots in {output_dir}")
    return report


if __name__ == "__main__":
    main()
