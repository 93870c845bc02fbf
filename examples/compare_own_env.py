"""
Compare the algorithms on your own environment, through rl-zoo3 as ``python -m sb3_pg.compare`` does.

    python examples/compare_own_env.py [output folder]      (default: runs/corridor)

Each run is rl-zoo3's ``train`` in a process of its own, so the environment must be registered in a module
that those processes can import: this file registers ``Corridor-v0`` when it is imported, and the comparison
passes ``gym_packages=["compare_own_env"]`` on (rl-zoo3's ``--gym-packages``). The runs see this process's
import path, so the module is found when this script runs from anywhere. The same from the command line:

    PYTHONPATH=examples python -m sb3_pg.compare --env Corridor-v0 --algo reinforce vpg npg ppo --seeds 2 \\
        -n 20000 --gym-packages compare_own_env -f runs/corridor

rl-zoo3 has no budget and no hyperparameters for a new environment: the budget must be given (``n_timesteps``)
and each algorithm trains with the ``default`` entry of its hyperparameter file (``conf_files`` points an
algorithm to a file of yours instead). About a minute on 2 CPU cores.
"""

import sys

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):
    """Walk from cell 0 to cell ``length`` of a corridor; every step costs 1. The best return is ``-length``."""

    def __init__(self, length: int = 20):
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)  # 0: back, 1: forward

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.cell = 0
        return self._observation(), {}

    def _observation(self) -> np.ndarray:
        return np.array([self.cell / self.length], dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.cell = max(self.cell + (1 if action == 1 else -1), 0)
        return self._observation(), -1.0, self.cell == self.length, False, {}


# A random walk needs about length**2 = 400 steps, more than an episode lasts; the threshold asks for at most 25
if "Corridor-v0" not in gym.registry:
    gym.register("Corridor-v0", entry_point="compare_own_env:Corridor", max_episode_steps=200, reward_threshold=-25.0)


if __name__ == "__main__":
    from sb3_pg.compare import compare

    out_dir = sys.argv[1] if len(sys.argv) > 1 else "runs/corridor"
    report, outcomes = compare(
        ["Corridor-v0"],
        ["reinforce", "vpg", "npg", "ppo"],
        seeds=2,
        out_dir=out_dir,
        n_timesteps=20_000,
        eval_freq=2_000,
        gym_packages=["compare_own_env"],
    )
    print(report.terminal_text())
    print(f"\nreport: {report.out_dir / 'report.md'}, learning curves: {report.figures['Corridor-v0']}")
