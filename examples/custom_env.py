"""
Train VPG on a custom Gymnasium environment with a continuous action.

    python examples/custom_env.py

``PointToTarget`` is a point on a line that must reach a target and stay there: the observation is the signed
distance to the target, the action a velocity in [-1, 1], the reward minus the distance. A good policy moves
toward the target at full speed, then holds still: an episode of 50 steps then returns about -3; standing still
returns about -33. About 10 s on one CPU core.
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg import VPG


class PointToTarget(gym.Env):
    """A point on [-1, 1] moved by a velocity action toward a random target."""

    def __init__(self, max_steps: int = 50):
        self.observation_space = spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.max_steps = max_steps

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.position, self.target = self.np_random.uniform(-1.0, 1.0, size=2)
        self.steps = 0
        return self._observation(), {}

    def _observation(self) -> np.ndarray:
        return np.array([self.target - self.position], dtype=np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.position = float(np.clip(self.position + 0.1 * float(np.clip(action[0], -1.0, 1.0)), -1.0, 1.0))
        self.steps += 1
        reward = -abs(self.target - self.position)
        return self._observation(), reward, False, self.steps >= self.max_steps, {}


if __name__ == "__main__":
    check_env(PointToTarget())
    env = make_vec_env(PointToTarget, n_envs=4, seed=0)
    model = VPG("MlpPolicy", env, n_steps=250, batch_size=250, learning_rate=3e-3, n_critic_updates=10, seed=0)
    before, _ = evaluate_policy(model, env, n_eval_episodes=20)
    model.learn(total_timesteps=60_000)
    after, std = evaluate_policy(model, env, n_eval_episodes=20)
    print(f"VPG on PointToTarget: mean return {before:.1f} before training, {after:.1f} ± {std:.1f} after 60k steps")
