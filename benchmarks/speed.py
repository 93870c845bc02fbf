"""
The cost of training. Time: rollout against update of REINFORCE, VPG and NPG beside A2C, PPO and TRPO, at their class
defaults with ``n_steps``, ``n_envs``, the network, CPU and the torch threads matched, the algorithms alternating
repetition after repetition, each run a fresh model (seed = repetition) after an unrecorded warm-up run, into
``docs/speed_raw.json``. Memory (``--memory``): the resident memory at the end of every rollout of one long run per
algorithm at its class defaults, each in a process of its own, into ``<folder>/<algo>_<env>.csv``. ``docs/speed.md``
and ``docs/memory.md`` say what is measured; ``benchmarks/docs.py`` renders them from these files:

    python benchmarks/speed.py --steps 20480 --reps 5
    python benchmarks/speed.py --memory docs/memory --algos reinforce vpg npg --envs CartPole-v1 --steps 1000000
"""

import argparse
import csv
import json
import multiprocessing
import os
import platform
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import sb3_contrib
import stable_baselines3
import torch as th
from sb3_contrib import TRPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import sb3_pg
from sb3_pg import NPG, REINFORCE, VPG

ALGOS = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG, "a2c": A2C, "ppo": PPO, "trpo": TRPO}
PHASES = ("rollout", "env", "returns", "update", "policy", "critic")
NET_ARCH = dict(pi=[64, 64], vf=[64, 64])


def timed(seconds: dict[str, float], calls: dict[str, int], phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """:return: ``function``, its wall-clock time added to ``seconds[phase]`` and its calls counted in ``calls``"""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[phase], calls[phase] = seconds[phase] + time.perf_counter() - start, calls[phase] + 1

    return wrapper


def run_one(algo: str, env_id: str, steps: int, n_steps: int, n_envs: int, seed: int) -> dict[str, Any]:
    """Train a fresh model for ``steps`` steps; :return: its phase times (seconds), their call counts and its steps"""
    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    model = ALGOS[algo]("MlpPolicy", env, n_steps=n_steps, policy_kwargs=dict(net_arch=NET_ARCH), seed=seed, device="cpu")
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    model.collect_rollouts = timed(seconds, calls, "rollout", model.collect_rollouts)  # type: ignore[method-assign]
    env.step = timed(seconds, calls, "env", env.step)  # type: ignore[method-assign]
    # The return / advantage computation at the end of the rollout
    owner = model if isinstance(model, REINFORCE) else model.rollout_buffer
    name = "_compute_weights" if isinstance(model, REINFORCE) else "compute_returns_and_advantage"
    setattr(owner, name, timed(seconds, calls, "returns", getattr(owner, name)))
    train, get, split = model.train, model.rollout_buffer.get, []

    def split_train() -> None:  # VPG, NPG, TRPO: a policy step on the whole batch, then the critic fit on minibatches
        split.clear()
        start = time.perf_counter()
        train()
        if algo in ("vpg", "npg", "trpo") and split:
            seconds["policy"], seconds["critic"] = (
                seconds["policy"] + split[0] - start,
                seconds["critic"] + time.perf_counter() - split[0],
            )
            calls["policy"], calls["critic"] = calls["policy"] + 1, calls["critic"] + 1

    def split_get(batch_size: int | None = None):  # the first minibatch request is where the critic fit starts
        split.extend([] if batch_size is None or split else [time.perf_counter()])
        return get(batch_size)

    model.train = timed(seconds, calls, "update", split_train)  # type: ignore[method-assign]
    model.rollout_buffer.get = split_get  # type: ignore[method-assign]
    model.learn(total_timesteps=steps)
    env.close()
    record = {"algo": algo, "env": env_id, "seed": seed, "timesteps": int(model.num_timesteps)}
    return record | {f"{phase}_s": seconds[phase] for phase in PHASES} | {f"{phase}_calls": calls[phase] for phase in PHASES}


class RecordMemory(BaseCallback):
    """Record (timesteps, resident memory in MiB, from ``/proc/self/statm``) at the end of each rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        with open("/proc/self/statm") as statm:
            self.samples.append((self.num_timesteps, int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20))


def record_memory(algo: str, env: str, steps: int, out: Path) -> None:
    """Train ``algo`` at its class defaults (seed 0, one torch thread) for ``steps`` steps; write its memory samples."""
    th.set_num_threads(1)
    recorder = RecordMemory()
    ALGOS[algo]("MlpPolicy", env, seed=0).learn(steps, callback=recorder)
    with open(out / f"{algo}_{env}.csv", "w", newline="") as file:
        csv.writer(file).writerows([("timesteps", "rss_mib"), *recorder.samples])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "HalfCheetah-v4"])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    parser.add_argument("--steps", type=int, default=100_000, help="environment steps per run (figures are per 100k)")
    parser.add_argument("--reps", type=int, default=3, help="alternated repetitions (the median is reported)")
    parser.add_argument("--n-steps", type=int, default=2048)
    parser.add_argument("--n-envs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="th.set_num_threads")
    parser.add_argument("--raw", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "speed_raw.json")
    parser.add_argument("--memory", type=Path, help="record each algorithm's memory over --steps steps into this folder")
    args = parser.parse_args()

    for algo in args.algos if args.memory else []:  # one process each, so that one's allocations do not hide another's
        process = multiprocessing.get_context("spawn").Process(
            target=record_memory, args=(algo, args.envs[0], args.steps, args.memory)
        )
        process.start()
        process.join()
    if args.memory:
        return
    th.set_num_threads(args.threads)
    for env_id in args.envs:  # warm-up, not recorded: imports, lazy torch and MuJoCo initialisation
        for algo in args.algos:
            run_one(algo, env_id, min(args.n_steps * args.n_envs, args.steps), args.n_steps, args.n_envs, seed=1000)
    records = []
    for rep in range(args.reps):
        for env_id in args.envs:
            for algo in args.algos:
                records.append({**run_one(algo, env_id, args.steps, args.n_steps, args.n_envs, seed=rep), "rep": rep})
                print(
                    f"rep {rep} {env_id} {algo}: rollout {records[-1]['rollout_s']:.2f}s update {records[-1]['update_s']:.2f}s"
                )
    versions = {module.__name__: module.__version__ for module in (th, stable_baselines3, sb3_contrib, gym, np, sb3_pg)}
    setup = {"command": "python " + shlex.join(["benchmarks/speed.py", *sys.argv[1:]]), "steps_per_run": args.steps}
    setup |= {"reps": args.reps, "n_steps": args.n_steps, "n_envs": args.n_envs, "torch_threads": args.threads}
    setup |= {"net_arch": f"dict({NET_ARCH})", "versions": {"python": platform.python_version(), **versions}}
    setup["machine"] = f"{platform.machine()}, os.cpu_count()={os.cpu_count()}"
    args.raw.write_text(json.dumps({"setup": setup, "records": records}, indent=1) + "\n")
    print(f"wrote {args.raw}: python benchmarks/docs.py renders docs/speed.md from it")


if __name__ == "__main__":
    main()
