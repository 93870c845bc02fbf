"""
Memory over a long run: does the resident set stay flat after the first rollouts?

Trains each algorithm for ``--steps`` steps and records the process's resident memory (RSS, from
``/proc/self/statm``) at the end of every rollout. Writes the raw samples as CSV and a summary table.

    python benchmarks/memory.py --algo reinforce vpg npg --env CartPole-v1 --steps 1000000 --out docs/memory

Each algorithm runs in its own process, so one's allocations do not hide another's.
"""

import argparse
import csv
import multiprocessing
import os
import time
from pathlib import Path

from stable_baselines3.common.callbacks import BaseCallback

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


class RecordMemory(BaseCallback):
    """Record (timesteps, RSS) at the end of each rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.samples.append((self.num_timesteps, rss_mib()))


def run(algo: str, env: str, steps: int, out: Path) -> None:
    import torch as th

    from sb3_pg import NPG, REINFORCE, VPG

    th.set_num_threads(1)
    algorithm = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG}[algo]
    model = algorithm("MlpPolicy", env, seed=0)
    recorder = RecordMemory()
    start = time.perf_counter()
    model.learn(steps, callback=recorder)
    elapsed = time.perf_counter() - start
    with open(out / f"{algo}_{env}.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["timesteps", "rss_mib"])
        writer.writerows(recorder.samples)
    print(f"{algo} {env}: {steps} steps in {elapsed:.0f} s", flush=True)


def summarise(algos: list[str], env: str, out: Path) -> str:
    lines = [
        "| algorithm | rollouts | RSS after 10% of the run (MiB) | RSS at the end (MiB) | growth over the last 90% (MiB) |",
        "|---|---|---|---|---|",
    ]
    for algo in algos:
        with open(out / f"{algo}_{env}.csv") as file:
            samples = [(int(row["timesteps"]), float(row["rss_mib"])) for row in csv.DictReader(file)]
        early = samples[max(0, len(samples) // 10 - 1)][1]
        final = samples[-1][1]
        lines.append(f"| {algo} | {len(samples)} | {early:.1f} | {final:.1f} | {final - early:+.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", nargs="+", default=["reinforce", "vpg", "npg"])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("docs/memory"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    for algo in args.algo:
        if (args.out / f"{algo}_{args.env}.csv").exists():
            print(f"{algo}: already measured, skipped")
            continue
        process = context.Process(target=run, args=(algo, args.env, args.steps, args.out))
        process.start()
        process.join()
    table = summarise(args.algo, args.env, args.out)
    print(table)
    (args.out / f"summary_{args.env}.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
