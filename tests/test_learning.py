"""Each algorithm learns: a stated threshold on SB3's IdentityEnv within a small budget, on 3 seeds."""

import pytest
from stable_baselines3.common.envs import IdentityEnv
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg import NPG, REINFORCE, VPG

# IdentityEnv(4): reward 1 when the action names the observed state; 20 steps an episode, so a random
# policy scores 5 and a perfect one 20. Threshold: a mean of at least 17 within 6,000 steps.
EP_LENGTH, THRESHOLD, BUDGET = 20, 17.0, 6000
SETTINGS = {
    REINFORCE: dict(n_steps=100, learning_rate=1e-2, normalize_advantage=True),
    VPG: dict(n_steps=100, batch_size=50, learning_rate=1e-2, normalize_advantage=True),
    NPG: dict(n_steps=200, batch_size=50, target_kl=0.05),
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("algo", [REINFORCE, VPG, NPG])
def test_learns_identity_env(algo, seed):
    env = IdentityEnv(4, ep_length=EP_LENGTH)
    model = algo("MlpPolicy", env, seed=seed, policy_kwargs=dict(net_arch=[32]), **SETTINGS[algo])
    model.learn(BUDGET)
    eval_env = IdentityEnv(4, ep_length=EP_LENGTH)
    eval_env.reset(seed=100 + seed)
    mean_return, _ = evaluate_policy(model, eval_env, n_eval_episodes=20, deterministic=False)
    assert mean_return >= THRESHOLD
