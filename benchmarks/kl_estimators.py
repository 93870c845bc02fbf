"""
KLPPO's exact KL against Schulman's estimates from the stored log-probabilities, per rollout of training runs at the
class defaults (``docs/algorithms.md`` section 6): after the epochs of each update, with ``log r = log pi_new(a|s) -
log pi_old(a|s)`` on the rollout's own actions, k1 = mean(-log r) and k3 = mean((r - 1) - log r), both unbiased for
KL(old || new), beside KLPPO's closed-form mean KL (``train/kl_divergence``, the sum over action dimensions).

    python benchmarks/kl_estimators.py                # CartPole-v1 and Pendulum-v1, seeds 0-2, 100k steps
    python benchmarks/docs.py                         # the table on docs/algorithms.md, from the CSV
"""

import argparse
from pathlib import Path

import pandas as pd
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg import KLPPO

OUT = Path(__file__).resolve().parent.parent / "docs" / "klppo" / "kl_estimators.csv"


class MeasuredKLPPO(KLPPO):
    """KLPPO that measures the estimators after each update, from the buffer's arrays (no RNG is drawn)."""

    rows: list[dict]

    def train(self) -> None:
        super().train()
        buffer = self.rollout_buffer  # flattened by train()'s get(): one row per step
        steps = buffer.log_probs.size
        observations = th.as_tensor(buffer.observations.reshape(steps, *self.observation_space.shape))
        actions = th.as_tensor(buffer.actions.reshape(steps, -1))
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        with th.no_grad():
            log_ratio = self.policy.get_distribution(observations).log_prob(actions) - th.as_tensor(buffer.log_probs).flatten()
        self.rows.append(
            {
                "timesteps": self.num_timesteps,
                "exact": self.logger.name_to_value["train/kl_divergence"],
                "k1": (-log_ratio).mean().item(),
                "k3": (th.expm1(log_ratio) - log_ratio).mean().item(),
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", nargs="+", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("-n", "--n-timesteps", type=int, default=100_000)
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args()
    th.set_num_threads(1)
    frames = []
    for env_id in args.env:
        for seed in range(args.seeds):
            model = MeasuredKLPPO("MlpPolicy", make_vec_env(env_id, seed=seed), seed=seed)
            model.rows = []
            model.learn(args.n_timesteps)
            frames.append(pd.DataFrame(model.rows).assign(env=env_id, seed=seed))
            print(f"{env_id} seed {seed}: {len(model.rows)} updates")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.concat(frames)[["env", "seed", "timesteps", "exact", "k1", "k3"]]
    frame.to_csv(args.output, index=False, float_format="%.6g")
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
