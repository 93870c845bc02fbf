"""
Profile where the time of one update goes (pyinstrument if installed, else cProfile).

For each algorithm a fresh model (HalfCheetah-v4, n_steps=2048, one env, one torch thread, 64x64 network) is
warmed up by ``--warmup`` rollout+update iterations; then one rollout and one ``train()`` are profiled.
For REINFORCE the rollout is profiled too, beside SB3's A2C rollout for the per-step overhead.

Usage::

    pip install pyinstrument
    python benchmarks/profile_train.py                       # npg, vpg, reinforce, a2c
    python benchmarks/profile_train.py --algos npg --output /tmp/profiles
"""

import argparse
import cProfile
import io
import pstats
import warnings
from functools import partial
from pathlib import Path

import torch as th
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg import NPG, REINFORCE, VPG

ALGOS = {"npg": NPG, "vpg": VPG, "reinforce": REINFORCE, "a2c": A2C}

try:
    from pyinstrument import Profiler
except ImportError:  # pragma: no cover
    Profiler = None


def profile_call(function, label: str, interval: float) -> str:
    """Run ``function()`` under the profiler and return the report text."""
    if Profiler is not None:
        profiler = Profiler(interval=interval)
        profiler.start()
        function()
        profiler.stop()
        return f"=== {label} ===\n" + profiler.output_text(unicode=False, color=False, show_all=False)
    profile = cProfile.Profile()
    profile.runcall(function)
    stream = io.StringIO()
    pstats.Stats(profile, stream=stream).sort_stats("cumulative").print_stats(40)
    return f"=== {label} ===\n" + stream.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    parser.add_argument("--env", default="HalfCheetah-v4")
    parser.add_argument("--n-steps", type=int, default=2048)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.0002, help="pyinstrument sampling interval (s)")
    parser.add_argument("--output", type=Path, default=None, help="folder to write one report per algorithm")
    args = parser.parse_args()
    th.set_num_threads(1)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    for name in args.algos:
        env = make_vec_env(args.env, n_envs=1, seed=0)
        model = ALGOS[name](
            "MlpPolicy",
            env,
            n_steps=args.n_steps,
            seed=0,
            device="cpu",
            policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64])),
        )
        model._setup_learn(10**9, None)
        callback = model._init_callback(None)
        for _ in range(args.warmup):
            model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
            model.train()
        rollout = partial(model.collect_rollouts, model.env, callback, model.rollout_buffer, model.n_steps)
        reports = [
            profile_call(rollout, f"{name} collect_rollouts", args.interval),
            profile_call(model.train, f"{name} train", args.interval),
        ]
        text = "\n".join(reports)
        print(text)
        if args.output is not None:
            args.output.mkdir(parents=True, exist_ok=True)
            (args.output / f"{name}.txt").write_text(text)


if __name__ == "__main__":
    main()
