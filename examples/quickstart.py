"""
Train REINFORCE on CartPole-v1 and evaluate it: the algorithms are Stable-Baselines3 algorithms.

    python examples/quickstart.py

About 10 s on one CPU core. CartPole-v1's reward threshold is 475 and an episode gives at most 500; with seed 0
this run ends at 500. REINFORCE learns from complete episodes: each rollout runs at least ``n_steps`` steps,
then on to the end of its episodes.
"""

import os
import tempfile

from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg import REINFORCE

model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=1000, learning_rate=3e-3, normalize_advantage=True, seed=0)
model.learn(total_timesteps=30_000)

mean_return, std_return = evaluate_policy(model, model.get_env(), n_eval_episodes=10, deterministic=True)
print(f"REINFORCE on CartPole-v1 after {model.num_timesteps:,} steps: {mean_return:.1f} ± {std_return:.1f}")

# The algorithms save and load as any SB3 algorithm
path = os.path.join(tempfile.gettempdir(), "reinforce_cartpole.zip")
model.save(path)
model = REINFORCE.load(path)
