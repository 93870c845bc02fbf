"""
Speed benchmark: rollout time versus update time of REINFORCE, VPG and NPG beside SB3's A2C and PPO and
sb3-contrib's TRPO.

Every algorithm runs at its class defaults except what is matched across all of them: ``n_steps``,
``n_envs``, the network (``net_arch=dict(pi=[64, 64], vf=[64, 64])``, SB3's default for ``MlpPolicy``), the
device (CPU) and the number of torch threads (``th.set_num_threads``, 1 by default).

Nothing in the algorithms is edited: the model's methods are wrapped, on the instance, by timers.

- ``rollout``: ``model.collect_rollouts`` (env steps, policy inference, buffer writes, and the return /
  advantage computation at the end of the rollout);
- ``env``: ``model.env.step``, the part of the rollout spent in the environments;
- ``returns``: the return / advantage computation at the end of the rollout (``REINFORCE._compute_weights``,
  SB3's ``RolloutBuffer.compute_returns_and_advantage`` for the others), part of ``rollout``;
- ``update``: ``model.train``;
- ``policy`` / ``critic`` (VPG, NPG, TRPO, whose ``train`` takes a policy step on the whole batch and then
  fits the critic on minibatches): ``train`` is split at the first call of ``rollout_buffer.get`` with a
  minibatch size, which is where the critic fit starts in all three. ``policy`` is the time from the start
  of ``train`` to that call (surrogate, gradient, CG and FVPs, the step, TRPO's line search), ``critic`` the
  rest (the minibatch regression, then the end-of-train logging, which is negligible).

The algorithms alternate inside one process: repetition 1 runs every algorithm once, then repetition 2,
and so on, so slow phases of a shared machine hit all of them alike. Each repetition builds fresh models
(seed = repetition index) and trains them for ``--steps`` environment steps; times are scaled to seconds
per 100k environment steps (``num_timesteps`` actually reached, which REINFORCE overshoots to finish its
episodes). The summary is the median over repetitions of each per-repetition figure and ratio.

Usage::

    python benchmarks/speed.py --steps 20480 --reps 3
    python benchmarks/speed.py --envs HalfCheetah-v4 --algos npg trpo --steps 10240 --reps 5 --no-write
"""

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import sb3_contrib
import stable_baselines3
import torch as th
from sb3_contrib import TRPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

import sb3_pg
from sb3_pg import NPG, REINFORCE, VPG

sys.path.insert(0, str(Path(__file__).resolve().parent))

ALGOS: dict[str, type[OnPolicyAlgorithm]] = {
    "reinforce": REINFORCE,
    "vpg": VPG,
    "npg": NPG,
    "a2c": A2C,
    "ppo": PPO,
    "trpo": TRPO,
}
# Algorithms whose train() is "policy step on the whole batch, then critic fit on minibatches"
SPLIT_ALGOS = ("vpg", "npg", "trpo")
PHASES = ("rollout", "env", "returns", "update", "policy", "critic")
ROOT = Path(__file__).resolve().parent.parent
RESULTS_START = "<!-- speed.py results: start -->"
RESULTS_END = "<!-- speed.py results: end -->"


class PhaseTimer:
    """Accumulates wall-clock seconds and call counts per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.in_train = False
        self.train_start = 0.0
        self.policy_end: float | None = None

    def wrap(self, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """:return: ``function`` with its wall-clock time added to ``phase``"""

        @wraps(function)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start
                self.calls[phase] += 1

        return timed


def instrument(model: OnPolicyAlgorithm, timer: PhaseTimer) -> None:
    """Wrap the model's rollout, update, env step, return computation and buffer sampling with timers."""
    model.collect_rollouts = timer.wrap("rollout", model.collect_rollouts)  # type: ignore[method-assign]
    assert model.env is not None
    model.env.step = timer.wrap("env", model.env.step)  # type: ignore[method-assign]
    if isinstance(model, REINFORCE):
        model._compute_weights = timer.wrap("returns", model._compute_weights)  # type: ignore[method-assign]
    else:
        buffer = model.rollout_buffer
        buffer.compute_returns_and_advantage = timer.wrap(  # type: ignore[method-assign]
            "returns", buffer.compute_returns_and_advantage
        )

    original_train = model.train
    original_get = model.rollout_buffer.get

    def train() -> None:
        timer.in_train, timer.policy_end = True, None
        timer.train_start = time.perf_counter()
        try:
            original_train()
        finally:
            end = time.perf_counter()
            timer.in_train = False
            timer.seconds["update"] += end - timer.train_start
            timer.calls["update"] += 1
            if timer.policy_end is not None:
                timer.seconds["policy"] += timer.policy_end - timer.train_start
                timer.seconds["critic"] += end - timer.policy_end
                timer.calls["policy"] += 1
                timer.calls["critic"] += 1

    def get(batch_size: int | None = None):
        # The first minibatch request inside train() is where the critic fit starts
        if timer.in_train and batch_size is not None and timer.policy_end is None:
            timer.policy_end = time.perf_counter()
        return original_get(batch_size)

    model.train = train  # type: ignore[method-assign]
    model.rollout_buffer.get = get  # type: ignore[method-assign]


def make_model(algo: str, env_id: str, n_steps: int, n_envs: int, seed: int) -> OnPolicyAlgorithm:
    """Build ``algo`` at its class defaults, with the matched ``n_steps``, ``n_envs`` and network."""
    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    policy_kwargs = dict(net_arch=dict(pi=[64, 64], vf=[64, 64]))
    return ALGOS[algo](  # type: ignore[call-arg]
        "MlpPolicy", env, n_steps=n_steps, policy_kwargs=policy_kwargs, seed=seed, device="cpu"
    )


def run_one(algo: str, env_id: str, steps: int, n_steps: int, n_envs: int, seed: int) -> dict[str, Any]:
    """Train one fresh model for ``steps`` steps and return its phase times (seconds) and step count."""
    model = make_model(algo, env_id, n_steps, n_envs, seed)
    timer = PhaseTimer()
    instrument(model, timer)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - start
    model.env.close()  # type: ignore[union-attr]
    return {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "timesteps": int(model.num_timesteps),
        "learn_wall_s": wall,
        **{f"{phase}_s": timer.seconds.get(phase, 0.0) for phase in PHASES},
        **{f"{phase}_calls": timer.calls.get(phase, 0) for phase in PHASES},
    }


def per_100k(record: dict[str, Any], phase: str) -> float:
    """:return: seconds of ``phase`` per 100k environment steps"""
    return record[f"{phase}_s"] * 100_000 / record["timesteps"]


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summarise(records: list[dict[str, Any]], env_id: str, algos: list[str]) -> dict[str, dict[str, float]]:
    """Median over repetitions of the per-100k times and of the per-repetition ratios."""
    summary: dict[str, dict[str, float]] = {}
    by_rep: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for record in records:
        if record["env"] == env_id:
            by_rep[record["rep"]][record["algo"]] = record
    for algo in algos:
        reps = [rep[algo] for rep in by_rep.values() if algo in rep]
        row = {f"{phase}_100k": median([per_100k(r, phase) for r in reps]) for phase in (*PHASES, "learn_wall")}
        row["total_100k"] = median([per_100k(r, "rollout") + per_100k(r, "update") for r in reps])
        row["update_over_rollout"] = median([r["update_s"] / r["rollout_s"] for r in reps])
        row["returns_over_rollout"] = median([r["returns_s"] / r["rollout_s"] for r in reps])
        row["env_over_rollout"] = median([r["env_s"] / r["rollout_s"] for r in reps])
        row["update_ms_per_call"] = median([1000 * r["update_s"] / r["update_calls"] for r in reps])
        if algo in SPLIT_ALGOS:
            row["policy_ms_per_call"] = median([1000 * r["policy_s"] / max(r["policy_calls"], 1) for r in reps])
            row["critic_ms_per_call"] = median([1000 * r["critic_s"] / max(r["critic_calls"], 1) for r in reps])
        row["reps"] = len(reps)
        summary[algo] = row
    # Cross-algorithm ratios, computed per repetition, then the median
    pairs = [("npg", "trpo", "policy"), ("reinforce", "a2c", "total")]
    for first, second, what in pairs:
        ratios = []
        for rep in by_rep.values():
            if first in rep and second in rep:
                if what == "policy":
                    a = rep[first]["policy_s"] / max(rep[first]["policy_calls"], 1)
                    b = rep[second]["policy_s"] / max(rep[second]["policy_calls"], 1)
                else:
                    a = per_100k(rep[first], "rollout") + per_100k(rep[first], "update")
                    b = per_100k(rep[second], "rollout") + per_100k(rep[second], "update")
                ratios.append(a / b)
        if ratios:
            summary.setdefault("_ratios", {})[f"{first}_{what}_over_{second}_{what}"] = median(ratios)
    return summary


def format_table(summary: dict[str, dict[str, float]], env_id: str, algos: list[str]) -> str:
    """:return: a markdown table of the summary of one environment"""
    lines = [
        f"#### {env_id}",
        "",
        "| algo | rollout s/100k | (env s/100k) | (returns s/100k) | update s/100k | update / rollout | total s/100k "
        "| ms / update | policy ms / update | critic ms / update |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for algo in algos:
        row = summary[algo]
        policy = f"{row['policy_ms_per_call']:.1f}" if "policy_ms_per_call" in row else ""
        critic = f"{row['critic_ms_per_call']:.1f}" if "critic_ms_per_call" in row else ""
        lines.append(
            f"| {algo} | {row['rollout_100k']:.2f} | {row['env_100k']:.2f} | {row['returns_100k']:.3f} "
            f"| {row['update_100k']:.2f} | {100 * row['update_over_rollout']:.1f}% | {row['total_100k']:.2f} "
            f"| {row['update_ms_per_call']:.1f} | {policy} | {critic} |"
        )
    ratios = summary.get("_ratios", {})
    if ratios:
        lines.append("")
        for name, value in ratios.items():
            lines.append(f"- `{name}` (median of per-repetition ratios): {value:.3f}")
    return "\n".join(lines)


def write_markdown(path: Path, section: str) -> None:
    """Replace the generated section of ``path`` (between the markers), keeping the hand-written rest."""
    block = f"{RESULTS_START}\n{section}\n{RESULTS_END}"
    if path.exists():
        text = path.read_text()
        if RESULTS_START in text and RESULTS_END in text:
            head, rest = text.split(RESULTS_START, 1)
            _, tail = rest.split(RESULTS_END, 1)
            path.write_text(head + block + tail)
            return
        path.write_text(text.rstrip() + "\n\n" + block + "\n")
    else:
        path.write_text(f"# Speed benchmark\n\n{block}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "HalfCheetah-v4"])
    parser.add_argument(
        "--algos",
        nargs="+",
        default=list(ALGOS),
        choices=list(ALGOS),
        help="algorithms to run (default: all six)",
    )
    parser.add_argument("--steps", type=int, default=100_000, help="environment steps per run (figures are per 100k)")
    parser.add_argument("--reps", type=int, default=3, help="alternated repetitions (the median is reported)")
    parser.add_argument("--n-steps", type=int, default=2048)
    parser.add_argument("--n-envs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="th.set_num_threads")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "speed.md")
    parser.add_argument("--raw", type=Path, default=ROOT / "docs" / "speed_raw.json")
    parser.add_argument("--no-write", action="store_true", help="only print, write no file")
    args = parser.parse_args(argv)

    th.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(arg) for arg in [str(Path(sys.argv[0])), *(argv or sys.argv[1:])])

    # Warm-up, not recorded: one short run of each algorithm on each env (imports, lazy torch/mujoco init)
    for env_id in args.envs:
        for algo in args.algos:
            run_one(
                algo,
                env_id,
                steps=min(args.n_steps * args.n_envs, args.steps),
                n_steps=args.n_steps,
                n_envs=args.n_envs,
                seed=1000,
            )

    records = []
    for rep in range(args.reps):
        for env_id in args.envs:
            for algo in args.algos:
                record = run_one(algo, env_id, args.steps, args.n_steps, args.n_envs, seed=rep)
                record["rep"] = rep
                records.append(record)
                print(
                    f"rep {rep} {env_id:>15} {algo:>9}: rollout {record['rollout_s']:7.2f}s "
                    f"update {record['update_s']:7.2f}s ({100 * record['update_s'] / record['rollout_s']:5.1f}%) "
                    f"steps {record['timesteps']}",
                    flush=True,
                )

    sections = []
    summaries = {}
    for env_id in args.envs:
        summary = summarise(records, env_id, args.algos)
        summaries[env_id] = summary
        sections.append(format_table(summary, env_id, args.algos))
    tables = "\n\n".join(sections)
    print("\n" + tables)

    setup = {
        "command": command,
        "steps_per_run": args.steps,
        "reps": args.reps,
        "n_steps": args.n_steps,
        "n_envs": args.n_envs,
        "torch_threads": args.threads,
        "net_arch": "dict(pi=[64, 64], vf=[64, 64])",
        "versions": {
            "python": platform.python_version(),
            "torch": th.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "sb3_contrib": sb3_contrib.__version__,
            "gymnasium": gym.__version__,
            "numpy": np.__version__,
            "sb3_pg": sb3_pg.__version__,
        },
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, os.cpu_count()={__import__('os').cpu_count()}",
    }
    if args.no_write:
        return

    args.raw.parent.mkdir(parents=True, exist_ok=True)
    args.raw.write_text(json.dumps({"setup": setup, "summary": summaries, "records": records}, indent=1) + "\n")
    raw_rows = [
        "| rep | env | algo | steps | rollout s | env s | returns s | update s | policy s | critic s | updates |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        raw_rows.append(
            f"| {r['rep']} | {r['env']} | {r['algo']} | {r['timesteps']} | {r['rollout_s']:.3f} | {r['env_s']:.3f} "
            f"| {r['returns_s']:.4f} | {r['update_s']:.3f} | {r['policy_s']:.3f} | {r['critic_s']:.3f} "
            f"| {r['update_calls']} |"
        )
    try:
        raw_path = args.raw.resolve().relative_to(ROOT)
    except ValueError:
        raw_path = args.raw
    section = "\n".join(
        [
            "## Measured figures",
            "",
            "Generated by `benchmarks/speed.py`; do not edit by hand between the markers.",
            "",
            f"Command: `{command}`",
            "",
            f"Setup: {args.steps} environment steps per run (figures scaled to 100k), {args.reps} alternated "
            f"repetitions (median), n_steps={args.n_steps}, n_envs={args.n_envs}, torch threads={args.threads}, "
            f"net_arch {setup['net_arch']}, CPU. Versions: "
            + ", ".join(f"{k} {v}" for k, v in setup["versions"].items())
            + f". Machine: {setup['machine']}.",
            "",
            tables,
            "",
            f"### Raw per-repetition timings (also in `{raw_path}`)",
            "",
            *raw_rows,
        ]
    )
    write_markdown(args.markdown, section)
    print(f"\nWrote {args.markdown} and {args.raw}")


if __name__ == "__main__":
    main()
