"""VPG: an unbiased policy gradient with a learned baseline, and GAE as SB3 computes it, truncations included."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv
from test_reinforce import FixedHorizonEnv

from sb3_pg import VPG


@pytest.mark.parametrize("rewards", [np.array([[1.0, 0.0, 2.0]]), np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]])])
def test_gradient_matches_closed_form(rewards):
    # A_t = G_t - V(s_t) with gae_lambda = 1: any V(s) leaves the expectation at grad J (mean over steps: / horizon)
    horizon = rewards.shape[0]
    logits = np.array([[0.3, -0.2, 0.1], [-0.5, 0.4, 0.0]])[:horizon]
    n_envs, n_steps = 10, 6000
    model = VPG(
        "MlpPolicy",
        make_vec_env(FixedHorizonEnv, n_envs=n_envs, env_kwargs=dict(rewards=rewards)),
        n_steps=n_steps,
        batch_size=n_envs * n_steps,
        gamma=1.0,
        gae_lambda=1.0,
        normalize_advantage=False,  # the raw estimate, whose expectation is the closed form
        max_grad_norm=None,
        policy_kwargs=dict(net_arch=[], optimizer_class=th.optim.SGD, optimizer_kwargs=dict()),
        learning_rate=1.0,
        seed=0,
    )
    with th.no_grad():
        model.policy.action_net.weight.copy_(th.as_tensor(logits.T))
        model.policy.action_net.bias.zero_()
        model.policy.value_net.weight.normal_()  # an arbitrary baseline, different for each time step
    before = model.policy.action_net.weight.detach().clone()
    model.learn(n_envs * n_steps)
    assert model._n_updates == 1
    estimate = (model.policy.action_net.weight.detach() - before).numpy().T

    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    exact = probs * (rewards - (probs * rewards).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(estimate * horizon, exact, atol=0.03)
    assert np.abs(exact).max() > 0.2


class ThreeStepEnv(gym.Env):
    """Episodes of 3 steps with rewards 1, 2, 3, ended by time-limit truncation or by termination."""

    observation_space = spaces.Box(0, 3, shape=(1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, truncate: bool):
        self.truncate = truncate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        ended = self.t == 3
        return np.array([self.t], dtype=np.float32), float(self.t), ended and not self.truncate, ended and self.truncate, {}


@pytest.mark.parametrize("truncate", [True, False])
def test_gae_across_a_time_limit_truncation(truncate):
    gamma, gae_lambda, value = 0.9, 0.8, 0.5

    class Capture(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            self.advantages = self.model.rollout_buffer.advantages.copy()

    model = VPG(
        "MlpPolicy",
        DummyVecEnv([lambda: ThreeStepEnv(truncate)]),
        n_steps=6,
        batch_size=6,
        gamma=gamma,
        gae_lambda=gae_lambda,
        policy_kwargs=dict(net_arch=[]),
    )
    with th.no_grad():  # V(s) = 0.5 everywhere
        model.policy.value_net.weight.zero_()
        model.policy.value_net.bias.fill_(value)
    capture = Capture()
    model.learn(6, callback=capture)

    # A truncated episode is bootstrapped with V of its last observation; a terminated one is not
    bootstrap = gamma * value if truncate else 0.0
    deltas = np.array([1 + gamma * value - value, 2 + gamma * value - value, 3 + bootstrap - value])
    expected = np.zeros(3)
    running = 0.0
    for t in (2, 1, 0):
        running = deltas[t] + gamma * gae_lambda * running
        expected[t] = running
    np.testing.assert_allclose(capture.advantages[:, 0], np.tile(expected, 2), rtol=1e-5)


def test_both_optimizers_take_the_policys_optimizer_kwargs():
    # SB3's default for Adam is eps=1e-5; a user's optimizer_kwargs reach the critic's optimizer as well
    default = VPG("MlpPolicy", "CartPole-v1")
    assert default.policy.optimizer.defaults["eps"] == default.critic_optimizer.defaults["eps"] == 1e-5
    custom = VPG("MlpPolicy", "CartPole-v1", policy_kwargs=dict(optimizer_kwargs=dict(eps=1e-3, weight_decay=0.1)))
    for optimizer in (custom.policy.optimizer, custom.critic_optimizer):
        assert optimizer.defaults["eps"] == 1e-3 and optimizer.defaults["weight_decay"] == 0.1


def test_the_critics_learning_rate_is_logged_and_applied():
    schedule = lambda progress: 0.002 + 0.01 * progress  # noqa: E731
    model = VPG("MlpPolicy", "CartPole-v1", vf_learning_rate=schedule, seed=0, n_steps=32, batch_size=16)
    model.learn(64)
    assert "train/vf_learning_rate" in model.logger.name_to_value  # a defaultdict: a missing key reads 0
    rate = model.logger.name_to_value["train/vf_learning_rate"]
    assert rate == pytest.approx(schedule(model._current_progress_remaining)) and rate > 0
    assert model.critic_optimizer.param_groups[0]["lr"] == rate
