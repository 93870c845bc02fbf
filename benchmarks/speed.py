"""
The cost of training (``docs/speed.md``): rollout against update, each algorithm at its class defaults with the rest
matched, the repetitions alternated, into ``docs/speed_raw.json``; with ``--memory``, the resident memory after every
rollout of one long run per algorithm (``docs/memory.md``), into ``<folder>/<algo>_<env>.csv``:

    python benchmarks/speed.py --steps 20480 --reps 5
    python benchmarks/speed.py --memory docs/memory --algos reinforce vpg npg --envs CartPole-v1 --steps 1000000
"""

import argparse
import csv
import itertools
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
from stable_baselines3.common.env_util import make_vec_env

import sb3_pg
from sb3_pg import KLPPO, NPG, REINFORCE, VPG

ALGOS = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG, "klppo": KLPPO, "a2c": A2C, "ppo": PPO, "trpo": TRPO}
PHASES = ("rollout", "env", "returns", "update", "policy", "critic")
NET_ARCH = dict(pi=[64, 64], vf=[64, 64])
SPAWN = multiprocessing.get_context("spawn")


def run_one(algo: str, env_id: str, steps: int, n_steps: int, n_envs: int, seed: int) -> dict[str, Any]:
    """Train a fresh model for ``steps`` steps; :return: its phase times (seconds), their call counts and its steps"""
    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    model = ALGOS[algo]("MlpPolicy", env, n_steps=n_steps, policy_kwargs=dict(net_arch=NET_ARCH), seed=seed, device="cpu")
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    critic_start: list[float] = []

    def add(phase: str, start: float, end: float) -> None:
        seconds[phase] += end - start
        calls[phase] += 1

    def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            add(phase, start, time.perf_counter())
            return result

        return wrapper

    def train() -> None:  # VPG, NPG, TRPO: a policy step on the whole batch, then the critic fit on minibatches
        critic_start.clear()
        start = time.perf_counter()
        model_train()
        if algo in ("vpg", "npg", "trpo") and critic_start:
            add("policy", start, critic_start[0])
            add("critic", critic_start[0], time.perf_counter())

    def get(batch_size: int | None = None):  # the first minibatch request is where the critic fit starts
        if batch_size is not None and not critic_start:
            critic_start.append(time.perf_counter())
        return buffer_get(batch_size)

    model.collect_rollouts = timed("rollout", model.collect_rollouts)  # type: ignore[method-assign]
    env.step = timed("env", env.step)  # type: ignore[method-assign]
    # The return / advantage computation at the end of the rollout
    owner = model if isinstance(model, REINFORCE) else model.rollout_buffer
    name = "_compute_weights" if isinstance(model, REINFORCE) else "compute_returns_and_advantage"
    setattr(owner, name, timed("returns", getattr(owner, name)))
    model_train, buffer_get = model.train, model.rollout_buffer.get
    model.train = timed("update", train)  # type: ignore[method-assign]
    model.rollout_buffer.get = get  # type: ignore[method-assign]
    model.learn(total_timesteps=steps)
    env.close()
    record = {"algo": algo, "env": env_id, "seed": seed, "timesteps": int(model.num_timesteps)}
    return record | {f"{phase}_s": seconds[phase] for phase in PHASES} | {f"{phase}_calls": calls[phase] for phase in PHASES}


def record_memory(algo: str, env: str, steps: int, out: Path) -> None:
    """Train ``algo`` at its class defaults (seed 0, one torch thread); write its resident memory after every rollout."""
    th.set_num_threads(1)
    model, samples = ALGOS[algo]("MlpPolicy", env, seed=0), [("timesteps", "rss_mib")]
    collect = model.collect_rollouts

    def collect_and_measure(*args, **kwargs) -> bool:
        collected = collect(*args, **kwargs)
        with open("/proc/self/statm") as statm:  # its second field: the resident pages
            samples.append((model.num_timesteps, int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20))
        return collected

    model.collect_rollouts = collect_and_measure  # type: ignore[method-assign]
    model.learn(steps)
    with open(out / f"{algo}_{env}.csv", "w", newline="") as file:
        csv.writer(file).writerows(samples)


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

    if args.memory:  # one process per algorithm, so that one's allocations do not hide another's
        for algo in args.algos:
            process = SPAWN.Process(target=record_memory, args=(algo, args.envs[0], args.steps, args.memory))
            process.start()
            process.join()
        return
    th.set_num_threads(args.threads)
    for env_id, algo in itertools.product(args.envs, args.algos):  # warm-up, not recorded: imports, lazy initialisation
        run_one(algo, env_id, min(args.n_steps * args.n_envs, args.steps), args.n_steps, args.n_envs, seed=1000)
    records = []
    for rep, env_id, algo in itertools.product(range(args.reps), args.envs, args.algos):
        records.append(run_one(algo, env_id, args.steps, args.n_steps, args.n_envs, seed=rep) | {"rep": rep})
        print(f"rep {rep} {env_id} {algo}: rollout {records[-1]['rollout_s']:.2f}s update {records[-1]['update_s']:.2f}s")
    versions = {module.__name__: module.__version__ for module in (th, stable_baselines3, sb3_contrib, gym, np, sb3_pg)}
    setup = {"command": "python " + shlex.join(["benchmarks/speed.py", *sys.argv[1:]]), "steps_per_run": args.steps}
    setup |= {"reps": args.reps, "n_steps": args.n_steps, "n_envs": args.n_envs, "torch_threads": args.threads}
    setup |= {"net_arch": f"dict({NET_ARCH})", "versions": {"python": platform.python_version(), **versions}}
    setup["machine"] = f"{platform.machine()}, os.cpu_count()={os.cpu_count()}"
    args.raw.write_text(json.dumps({"setup": setup, "records": records}, indent=1) + "\n")
    print(f"wrote {args.raw}: python benchmarks/docs.py renders docs/speed.md from it")


if __name__ == "__main__":
    main()
