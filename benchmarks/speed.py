"""
The cost of training (``docs/speed.md``): each algorithm's rollout split into environment, actor, buffer, callbacks,
batched evaluation and returns, against the environment's own cost, and its update, the repetitions alternated, into
``docs/speed_raw.json``; with ``--memory``, the resident memory after every rollout of one long run per algorithm
(``docs/memory.md``), into ``<folder>/<algo>_<env>.csv``:

    python benchmarks/speed.py --steps 20480 --reps 5
    python benchmarks/speed.py --memory docs/memory --algos reinforce vpg npg --steps 1000000

The environment's own cost is a loop of ``VecEnv.step`` on random actions (drawn beforehand) on a VecEnv made as the
algorithms' are, in the same process, measured just before each run. ``speed_tables`` renders the page.
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
import pandas as pd
import sb3_contrib
import stable_baselines3
import torch as th
from sb3_contrib import TRPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env

import sb3_pg
import sb3_pg.common.rollout as rollout
from sb3_pg import KLPPO, NPG, REINFORCE, VPG, FastRollout
from sb3_pg.zoo import FAST_ALGOS

ALGOS = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG, "klppo": KLPPO, "a2c": A2C, "ppo": PPO, "trpo": TRPO}
ALGOS |= {name: algorithm for name, (algorithm, _) in FAST_ALGOS.items()}  # SB3's A2C and PPO on sb3_pg's rollout path
SETTINGS = (("CartPole-v1", 1), ("HalfCheetah-v4", 1), ("CartPole-v1", 8))  # (env, n_envs)
# The rollout's parts; "other" is the rest of it (the loop itself, episode statistics, time-limit bookkeeping)
PARTS = ("env", "actor", "buffer", "callbacks", "evaluate", "returns")
PHASES = ("rollout", *PARTS, "update", "policy", "critic")
NET_ARCH = dict(pi=[64, 64], vf=[64, 64])
SPAWN = multiprocessing.get_context("spawn")


def env_cost(env_id: str, n_envs: int, steps: int, seed: int) -> float:
    """:return: seconds per environment step of a loop of ``VecEnv.step`` on random actions"""
    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    env.action_space.seed(seed)
    actions = [np.stack([env.action_space.sample() for _ in range(n_envs)]) for _ in range(steps // n_envs)]
    env.reset()
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    seconds = time.perf_counter() - start
    env.close()
    return seconds / (len(actions) * n_envs)


def run_one(algo: str, env_id: str, steps: int, n_steps: int, n_envs: int, seed: int, split: bool) -> dict[str, Any]:
    """
    Train a fresh model for ``steps`` steps, timing its rollouts and updates, and with ``split`` the rollout's parts
    (their timers cost about a microsecond a step between them).

    :return: the phase times (seconds), their call counts and the steps
    """
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

    class TimedActor:  # the fast path's actor: the step, and the batched evaluation after the rollout
        def __init__(self, actor: Any):
            self.actor, self.evaluate = actor, timed("evaluate", actor.evaluate)

        def __call__(self, obs: Any) -> Any:
            start = time.perf_counter()
            actions = self.actor(obs)
            add("actor", start, time.perf_counter())
            return actions

    def init_callback(*args, **kwargs):
        callback = model_init_callback(*args, **kwargs)
        callback.on_step = timed("callbacks", callback.on_step)
        callback.update_locals = timed("callbacks", callback.update_locals)
        return callback

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

    fast = isinstance(model, FastRollout) and model.rollout_blocker() is None
    model.collect_rollouts = timed("rollout", model.collect_rollouts)  # type: ignore[method-assign]
    make_actor, row_writer, compute_gae = rollout.make_actor, rollout._row_writer, rollout.compute_gae
    if split:
        env.step = timed("env", env.step)  # type: ignore[method-assign]
        model_init_callback, model._init_callback = model._init_callback, init_callback  # type: ignore[method-assign]
    if split and fast:
        rollout.make_actor = lambda *args: TimedActor(make_actor(*args))  # type: ignore[assignment]
        rollout._row_writer = lambda buffer: timed("buffer", row_writer(buffer))  # type: ignore[assignment]
        rollout.compute_gae = timed("returns", compute_gae)
    elif split:  # SB3's path: the policy's forward computes the action, the value and the log-probability
        model.policy.forward = timed("actor", model.policy.forward)  # type: ignore[method-assign]
        model.rollout_buffer.add = timed("buffer", model.rollout_buffer.add)  # type: ignore[method-assign]
        buffer = model.rollout_buffer
        buffer.compute_returns_and_advantage = timed("returns", buffer.compute_returns_and_advantage)  # type: ignore[method-assign]
    if split and isinstance(model, REINFORCE):
        model._compute_weights = timed("returns", model._compute_weights)  # type: ignore[method-assign]
    model_train, buffer_get = model.train, model.rollout_buffer.get
    model.train = timed("update", train)  # type: ignore[method-assign]
    model.rollout_buffer.get = get  # type: ignore[method-assign]
    try:
        model.learn(total_timesteps=steps)
    finally:
        rollout.make_actor, rollout._row_writer, rollout.compute_gae = make_actor, row_writer, compute_gae
    env.close()
    record = {"algo": algo, "env": env_id, "n_envs": n_envs, "seed": seed, "timesteps": int(model.num_timesteps)}
    record |= {"path": "fast" if fast else "SB3", "split": split}
    return record | {f"{phase}_s": seconds[phase] for phase in PHASES} | {f"{phase}_calls": calls[phase] for phase in PHASES}


# The targets of docs/speed.md: (what, algorithms, setting, limit); a rollout ratio is against the env's own cost,
# a total ratio against another algorithm's total, both per environment step
ROLLOUT_LIMITS = {("CartPole-v1", 1): 2.0, ("HalfCheetah-v4", 1): 1.5, ("CartPole-v1", 8): 1.3}
TOTAL_LIMITS = (("reinforce", "a2c", 0.2, ("CartPole-v1",)), ("npg", "trpo", 0.3, None), ("klppo", "ppo", 0.6, None))


def speed_tables(raw_path: Path) -> dict[str, str]:
    """
    :return: the blocks of ``docs/speed.md`` from the raw timings, medians over the repetitions: the rollout, update
        and total per environment step, and the rollout against the env's own cost, from the runs that time only
        those; the rollout's parts from the runs that time them too
    """
    from pages import frame_table, table  # benchmarks/pages.py, the pages' common formatting

    raw = json.loads(raw_path.read_text())
    runs, s = pd.DataFrame(raw["records"]), raw["setup"]
    runs["setting"] = runs["env"] + ", " + runs["n_envs"].astype(str) + " env" + np.where(runs["n_envs"] > 1, "s", "")
    us = 1e6 / runs["timesteps"]
    for name in ("rollout", *PARTS, "update"):
        runs[name] = runs[f"{name}_s"] * us
    runs["other"] = runs["rollout"] - runs[list(PARTS)].sum(axis=1)
    runs["env ref"] = runs["env_ref_s"] * 1e6
    runs["rollout / env ref"] = runs["rollout"] / runs["env ref"]
    runs["total"] = runs["rollout"] + runs["update"]
    runs["critic fit / total"] = (runs["critic_s"] * us / runs["total"]).where(runs["algo"].isin(["vpg", "npg", "trpo"]))
    plain, split = runs[~runs["split"]], runs[runs["split"]]
    medians = plain.groupby(["setting", "algo"], sort=False).median(numeric_only=True)
    medians["path"] = plain.groupby(["setting", "algo"], sort=False)["path"].first()
    parts = split.groupby(["setting", "algo"], sort=False).median(numeric_only=True)
    versions = ", ".join(f"{k} {v}" for k, v in s["versions"].items())
    setup = f"{s['steps_per_run']} environment steps per run (at least two rollouts), {s['reps']} alternated repetitions"
    setup += f" (median), n_steps={s['n_steps']}, torch threads={s['torch_threads']}, net_arch {s['net_arch']}, CPU."
    setup += f" Versions: {versions}. Machine: {s['machine']}. Microseconds per environment step."
    text = [f"Command: `{s['command']}`\n", f"{setup}\n"]
    columns = ["path", "rollout", "env ref", "rollout / env ref", "update", "total", "critic fit / total"]
    formats = dict.fromkeys(["rollout", *PARTS, "other", "env ref", "update", "total"], "{:.1f}")
    formats |= {"path": "{}", "rollout / env ref": "{:.2f}", "critic fit / total": "{:.1%}"}
    for setting, frame in medians.groupby("setting", sort=False):
        text += [
            f"#### {setting}\n",
            frame_table(frame.droplevel("setting")[columns], {c: formats[c] for c in columns}, "algo"),
        ]
        part_columns = ["rollout", *PARTS, "other"]
        text += ["The rollout's parts, in the runs that time them:\n"]
        text += [frame_table(parts.xs(setting)[part_columns], {c: formats[c] for c in part_columns}, "algo")]

    per_rep = plain.set_index(["setting", "rep", "algo"])
    rows = []
    for (env, n_envs), limit in ROLLOUT_LIMITS.items():
        setting = f"{env}, {n_envs} env" + ("s" if n_envs > 1 else "")
        for algo in ("reinforce", "vpg", "npg", "klppo"):
            ratio = medians.loc[(setting, algo), "rollout / env ref"]
            verdict = "yes" if ratio <= limit else "no"
            rows.append([f"{algo.upper()} rollout / env", setting, f"{ratio:.2f}", f"{limit}", verdict])
    for algo, other, limit, envs in TOTAL_LIMITS:
        for env in envs or ("CartPole-v1", "HalfCheetah-v4"):
            setting = f"{env}, 1 env"
            ratio = (per_rep["total"].xs(algo, level="algo") / per_rep["total"].xs(other, level="algo")).xs(setting).median()
            verdict = "yes" if ratio <= limit else "no"
            rows.append([f"{algo.upper()} total / {other.upper()} total", setting, f"{ratio:.3f}", f"{limit}", verdict])
    return {"speed-targets": table("target | setting | measured | limit | met?", rows), "speed-results": "\n".join(text)}


def record_memory(algo: str, env: str, steps: int, out: Path) -> None:
    """Train ``algo`` at its class defaults (seed 0, one torch thread); write its resident memory after every rollout."""
    th.set_num_threads(1)
    model = ALGOS[algo]("MlpPolicy", env, seed=0)
    samples: list[tuple[Any, Any]] = [("timesteps", "rss_mib")]
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
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    parser.add_argument("--steps", type=int, default=20_480, help="environment steps per run, at least two rollouts")
    parser.add_argument("--reps", type=int, default=3, help="alternated repetitions (the median is reported)")
    parser.add_argument("--n-steps", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1, help="th.set_num_threads")
    parser.add_argument("--raw", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "speed_raw.json")
    parser.add_argument("--memory", type=Path, help="record each algorithm's memory over --steps steps into this folder")
    parser.add_argument("--env", default="CartPole-v1", help="the env of --memory")
    args = parser.parse_args()

    if args.memory:  # one process per algorithm, so that one's allocations do not hide another's
        for algo in args.algos:
            process = SPAWN.Process(target=record_memory, args=(algo, args.env, args.steps, args.memory))
            process.start()
            process.join()
        return
    th.set_num_threads(args.threads)
    for (env_id, n_envs), algo in itertools.product(SETTINGS, args.algos):  # warm-up, not recorded
        run_one(algo, env_id, args.n_steps * n_envs, args.n_steps, n_envs, seed=1000, split=True)
    records = []
    for rep, (env_id, n_envs) in itertools.product(range(args.reps), SETTINGS):
        steps = max(args.steps, 2 * args.n_steps * n_envs)
        for algo, split in itertools.product(args.algos, (False, True)):
            reference = env_cost(env_id, n_envs, steps, seed=rep)  # just before the run, as many steps: shared conditions
            record = run_one(algo, env_id, steps, args.n_steps, n_envs, rep, split) | {"rep": rep, "env_ref_s": reference}
            records.append(record)
            ratio = record["rollout_s"] / record["timesteps"] / reference
            timing = f"rollout / env {ratio:.2f}, update {record['update_s']:.1f}s"
            print(f"rep {rep} {env_id} x{n_envs} {algo} split={split}: {timing}")
    versions = {module.__name__: module.__version__ for module in (th, stable_baselines3, sb3_contrib, gym, np, sb3_pg)}
    setup = {"command": "python " + shlex.join(["benchmarks/speed.py", *sys.argv[1:]]), "steps_per_run": args.steps}
    setup |= {"reps": args.reps, "n_steps": args.n_steps, "torch_threads": args.threads, "net_arch": f"dict({NET_ARCH})"}
    setup |= {"versions": {"python": platform.python_version(), **versions}}
    setup["machine"] = f"{platform.machine()}, os.cpu_count()={os.cpu_count()}"
    args.raw.write_text(json.dumps({"setup": setup, "records": records}, indent=1) + "\n")
    print(f"wrote {args.raw}: python benchmarks/docs.py renders docs/speed.md from it")


if __name__ == "__main__":
    main()
