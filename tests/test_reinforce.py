"""REINFORCE: exact Monte Carlo returns over complete episodes, and an unbiased gradient."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_pg import REINFORCE
from sb3_pg.common.returns import discounted_returns

GAMMA = 0.9


def scripted_reward(env_id: int, episode: int, t: int) -> float:
    return round(0.5 * (env_id + 1) + 0.1 * episode - 0.3 * (t % 4) + 0.01 * t, 6)


class ScriptedEnv(gym.Env):
    """Episodes of scripted lengths; each step observes (episode, t) and earns a known reward.

    An episode ends by termination or, every third one, by time-limit truncation.
    """

    observation_space = spaces.Box(0, 1e6, shape=(2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, env_id: int, lengths: list[int]):
        self.env_id, self.lengths = env_id, lengths
        self.episode, self.t = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.episode, self.t], dtype=np.float32)

    def step(self, action):
        reward = scripted_reward(self.env_id, self.episode, self.t)
        self.t += 1
        ended = self.t == self.lengths[self.episode % len(self.lengths)]
        truncated = ended and self.episode % 3 == 2
        return self._obs(), reward, ended and not truncated, truncated, {}

    def episode_length(self, episode: int) -> int:
        return self.lengths[episode % len(self.lengths)]


def exact_returns(env: ScriptedEnv, episode: int, gamma: float) -> np.ndarray:
    rewards = np.array([scripted_reward(env.env_id, episode, t) for t in range(env.episode_length(episode))])
    return np.array([sum(gamma**j * r for j, r in enumerate(rewards[t:])) for t in range(len(rewards))])


class CaptureRollouts(BaseCallback):
    """Copy what each finished rollout stored, before train() consumes it."""

    def __init__(self):
        super().__init__()
        self.rollouts = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        names = ("observations", "returns", "advantages", "active")
        self.rollouts.append({name: getattr(buffer, name).copy() for name in names})


@pytest.mark.parametrize("reward_to_go", [True, False])
@pytest.mark.parametrize("n_envs", [1, 3])
def test_returns_are_exact_discounted_sums_of_complete_episodes(reward_to_go, n_envs):
    # Episodes longer than n_steps (25 > 8), shorter ones, and ones that span where a fixed-size rollout would end
    lengths = [[3, 25, 5, 11, 1, 9], [12, 2, 30, 4], [7, 7, 19]]
    envs = [ScriptedEnv(i, lengths[i]) for i in range(n_envs)]
    vec_env = DummyVecEnv([lambda env=env: env for env in envs])
    model = REINFORCE("MlpPolicy", vec_env, n_steps=8, gamma=GAMMA, reward_to_go=reward_to_go, baseline="mean", seed=0)
    capture = CaptureRollouts()
    model.learn(300, callback=capture)

    assert len(capture.rollouts) >= 4
    n_checked = 0
    for rollout in capture.rollouts:
        active = rollout["active"]
        observations = rollout["observations"]
        stored_returns = rollout["returns"][active]
        seen: dict[tuple[int, int], list[int]] = {}
        for (row, env_index), stored in zip(np.argwhere(active), stored_returns, strict=True):
            episode, t = (int(v) for v in observations[row, env_index])
            env = envs[env_index]
            exact = exact_returns(env, episode, GAMMA)
            expected = exact[t] if reward_to_go else exact[0]
            assert stored == pytest.approx(expected, rel=1e-5, abs=1e-5), (env_index, episode, t)
            seen.setdefault((env_index, episode), []).append(t)
            n_checked += 1
        # Every stored episode is complete: all its steps, from its first to its last, and nothing else
        for (env_index, episode), steps in seen.items():
            assert steps == list(range(envs[env_index].episode_length(episode))), (env_index, episode)
        # The weights are the returns less their batch mean
        np.testing.assert_allclose(rollout["advantages"][active], stored_returns - stored_returns.mean(), rtol=1e-5, atol=1e-5)
        # Each env stores at least n_steps steps
        assert (active.sum(axis=0) >= 8).all()
    assert n_checked >= 300 // n_envs // 2
    # The last update logged the last rollout's number of episodes and of steps
    logged, last = model.logger.name_to_value, capture.rollouts[-1]
    assert logged["rollout/episodes"] == len(seen)
    assert logged["rollout/batch_steps"] == int(last["active"].sum())
    assert logged["rollout/discarded_steps"] == last["active"].size - int(last["active"].sum())
    assert logged["train/return_mean"] == pytest.approx(float(last["returns"][last["active"]].mean()), rel=1e-5)
    assert logged["train/n_updates"] == model._n_updates == len(capture.rollouts)  # one update per rollout


def test_single_env_discards_nothing():
    env = ScriptedEnv(0, [3, 25, 5, 11, 1, 9])
    model = REINFORCE("MlpPolicy", DummyVecEnv([lambda: env]), n_steps=8, seed=0)
    capture = CaptureRollouts()
    model.learn(200, callback=capture)
    assert sum(int(rollout["active"].sum()) for rollout in capture.rollouts) == model.num_timesteps


def test_discounted_returns_function():
    rewards = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]], dtype=np.float32)
    starts = np.array([[1], [0], [1], [0], [0]], dtype=np.float32)
    to_go = discounted_returns(rewards, starts, 0.5, reward_to_go=True)
    np.testing.assert_allclose(to_go.ravel(), [1 + 0.5 * 2, 2, 3 + 0.5 * 4 + 0.25 * 5, 4 + 0.5 * 5, 5])
    full = discounted_returns(rewards, starts, 0.5, reward_to_go=False)
    np.testing.assert_allclose(full.ravel(), [2, 2, 6.25, 6.25, 6.25])


class FixedHorizonEnv(gym.Env):
    """A horizon-H MDP whose state is the time step (one-hot): J(theta) has a closed form.

    Actions do not change the state, so J = sum_t sum_a pi_t(a) r[t, a] and
    dJ/dz_t = pi_t * (r[t] - pi_t . r[t]) for the logits z_t of time step t.
    """

    def __init__(self, rewards: np.ndarray):
        self.rewards = rewards
        self.horizon, n_actions = rewards.shape
        self.observation_space = spaces.Box(0, 1, shape=(self.horizon,), dtype=np.float32)
        self.action_space = spaces.Discrete(n_actions)
        self.t = 0

    def _obs(self):
        return np.eye(self.horizon, dtype=np.float32)[min(self.t, self.horizon - 1)]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        reward = float(self.rewards[self.t, int(action)])
        self.t += 1
        return self._obs(), reward, self.t == self.horizon, False, {}


@pytest.mark.parametrize(
    ("rewards", "reward_to_go", "baseline"),
    [
        (np.array([[1.0, 0.0, 2.0]]), True, "none"),  # a three-armed bandit
        (np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]]), True, "none"),
        (np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]]), False, "none"),
        (np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]]), True, "mean"),
    ],
)
def test_gradient_matches_closed_form(rewards, reward_to_go, baseline):
    horizon = rewards.shape[0]
    logits = np.array([[0.3, -0.2, 0.1], [-0.5, 0.4, 0.0]])[:horizon]
    n_envs, n_steps = 10, 3000  # 30,000 steps: 15,000 to 30,000 episodes
    model = REINFORCE(
        "MlpPolicy",
        make_vec_env(FixedHorizonEnv, n_envs=n_envs, env_kwargs=dict(rewards=rewards)),
        n_steps=n_steps,
        gamma=1.0,
        reward_to_go=reward_to_go,
        baseline=baseline,
        normalize_advantage=False,  # the raw estimate, whose expectation is the closed form
        max_grad_norm=1e9,
        policy_kwargs=dict(net_arch=[], optimizer_class=th.optim.SGD, optimizer_kwargs=dict()),
        learning_rate=1.0,
        seed=0,
    )
    # Tabular softmax: logits z_t = W[:, t] (the observation is one-hot in t), no bias
    with th.no_grad():
        model.policy.action_net.weight.copy_(th.as_tensor(logits.T))
        model.policy.action_net.bias.zero_()
    before = model.policy.action_net.weight.detach().clone()
    model.learn(n_envs * n_steps)  # exactly one rollout of complete episodes, then one SGD step of lr 1
    assert model._n_updates == 1
    estimate = (model.policy.action_net.weight.detach() - before).numpy().T  # = -lr * grad(loss)

    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    exact = probs * (rewards - (probs * rewards).sum(axis=1, keepdims=True))
    # The loss averages over steps: every episode has `horizon` steps, so the estimate is grad J / horizon
    np.testing.assert_allclose(estimate * horizon, exact, atol=0.03)
    assert np.abs(exact).max() > 0.2  # the comparison is not between near-zero numbers


class EndlessEnv(gym.Env):
    """An env whose episodes never end; it observes its step counter."""

    observation_space = spaces.Box(0, np.inf, shape=(1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], dtype=np.float32), 1.0, False, False, {}


@pytest.mark.parametrize("n_envs", [1, 2])
def test_an_env_that_never_ends_is_truncated_at_max_episode_steps(n_envs):
    model = REINFORCE("MlpPolicy", make_vec_env(EndlessEnv, n_envs=n_envs), n_steps=16, max_episode_steps=100, gamma=0.5)
    capture = CaptureRollouts()
    with pytest.warns(UserWarning, match=r"env 0 ran 100 steps \(max_episode_steps\) without ending.*TimeLimit"):
        model.learn(300, callback=capture)
    assert model.num_timesteps <= 300 + 100 * n_envs  # learn() returned after the rollout that passed 300
    for rollout in capture.rollouts:
        active = rollout["active"]
        assert (active.sum(axis=0) == 100).all()  # every env: one episode of 100 steps, then nothing stored
        # The truncated episode's returns are its finite-horizon sums: 1 + 0.5 + ... over the steps left
        steps_left = 100 - rollout["observations"][:100, 0, 0]
        np.testing.assert_allclose(rollout["returns"][:100, 0], (1 - 0.5**steps_left) / (1 - 0.5), rtol=1e-5)
        # Each rollout starts on a fresh episode: the truncated one is not continued
        assert rollout["observations"][0, :, 0].tolist() == [0.0] * n_envs


def test_an_episode_begun_mid_rollout_is_cut_after_max_episode_steps_of_its_own():
    """Episodes of 10, 10, 10 steps, then one that never ends within reach: n_steps=35, max_episode_steps=40. The
    fourth episode begins at step 30 and is cut at its 40th step, step 70, whatever the rollout's own step count."""
    model = REINFORCE("MlpPolicy", DummyVecEnv([lambda: ScriptedEnv(0, [10, 10, 10, 1000])]), n_steps=35, max_episode_steps=40)
    _, callback = model._setup_learn(10**6, None)
    with pytest.warns(UserWarning, match=r"env 0 ran 40 steps \(max_episode_steps\)"):
        assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    buffer = model.rollout_buffer
    assert int(buffer.active.sum()) == 70
    stored = buffer.observations[buffer.active[:, 0], 0]
    assert stored[-1].tolist() == [3.0, 39.0]  # the fourth episode's 40th step, the last one stored


def test_returns_end_at_a_cut_while_another_env_stores_on():
    """Env 0 never ends and is cut at step 40; env 1 ends an episode at step 40 and stores one more, to step 50.
    Each stored episode's returns are its own discounted sums: env 0's stop at the cut, though its rows go on
    (unstored) while env 1 stores, and env 1's episode that begins at the cut begins there."""
    envs = [ScriptedEnv(0, [1000]), ScriptedEnv(1, [10])]
    vec_env = DummyVecEnv([lambda env=env: env for env in envs])
    model = REINFORCE("MlpPolicy", vec_env, n_steps=45, max_episode_steps=40, gamma=GAMMA, seed=0)
    _, callback = model._setup_learn(10**6, None)
    with pytest.warns(UserWarning, match="max_episode_steps"):
        assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    buffer = model.rollout_buffer
    assert buffer.active[:, 0].sum() == 40 and buffer.active[:, 1].sum() == 50
    for env_id in (0, 1):
        stored = buffer.observations[buffer.active[:, env_id], env_id].astype(int)
        last = dict(stored.tolist())  # the last stored step of each episode
        for row, (episode, t) in zip(np.flatnonzero(buffer.active[:, env_id]), stored, strict=True):
            expected = sum(GAMMA ** (k - t) * scripted_reward(env_id, episode, k) for k in range(t, last[episode] + 1))
            assert buffer.returns[row, env_id] == pytest.approx(expected, rel=1e-5), (env_id, episode, t)


class UniformLengthEnv(gym.Env):
    """Episodes whose lengths are uniform on [1, 200] (mean 100.5)."""

    observation_space = spaces.Box(0, 1, shape=(1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.length = 0, int(self.np_random.integers(1, 201))
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, dtype=np.float32), 1.0, self.t >= self.length, False, {}


def test_logged_episode_statistics_are_not_biased_toward_short_episodes():
    # With 8 envs, episodes that end while the others finish used to be logged, and the ones cut off at the reset
    # not: the logged mean length was 91.8 against a true 100.5. Only stored episodes are logged now, and which
    # are stored never depends on their own length
    env = make_vec_env(UniformLengthEnv, n_envs=8, seed=0)
    model = REINFORCE("MlpPolicy", env, n_steps=50, stats_window_size=100_000, policy_kwargs=dict(net_arch=[4]), seed=0)
    model.learn(120_000)
    lengths = np.array([info["l"] for info in model.ep_info_buffer])
    assert len(lengths) >= 700
    standard_error = lengths.std() / np.sqrt(len(lengths))
    assert abs(lengths.mean() - 100.5) < 3 * standard_error, (lengths.mean(), standard_error)


class StepCounterEnv(gym.Env):
    """Episodes of 5 steps observing t = 0..4."""

    observation_space = spaces.Box(0, 5, shape=(1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t % 5], dtype=np.float32), 0.0, self.t == 5, False, {}


@pytest.mark.parametrize("stop_at", [5, 6, 8])
def test_a_rollout_stopped_by_a_callback_leaves_the_next_one_in_step_with_the_env(stop_at):
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.n_calls < stop_at

    model = REINFORCE("MlpPolicy", DummyVecEnv([StepCounterEnv]), n_steps=10, seed=0)
    model.learn(100, callback=StopAt())
    capture = CaptureRollouts()
    model.learn(10, callback=capture, reset_num_timesteps=False)
    observations = capture.rollouts[0]["observations"][:, 0, 0]
    # Complete episodes from their first step: 0, 1, 2, 3, 4, 0, 1, ...
    assert observations.tolist() == [t % 5 for t in range(len(observations))]


def test_the_episodic_buffer_yields_each_active_step_once_in_minibatches():
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=3, seed=0), n_steps=20, seed=0)
    buffer = model.rollout_buffer
    with pytest.raises(AssertionError, match="finish"):
        next(buffer.get(4))
    _, callback = model._setup_learn(10**6, None)
    assert model.collect_rollouts(model.env, callback, buffer, model.n_steps)
    batches = list(buffer.get(batch_size=7))
    n_active = int(buffer.active.sum())
    assert [len(batch.advantages) for batch in batches] == [7] * (n_active // 7) + ([n_active % 7] if n_active % 7 else [])
    seen = np.sort(np.concatenate([batch.returns.numpy() for batch in batches]))
    np.testing.assert_array_equal(seen, np.sort(buffer.returns.flatten()[buffer.active.flatten()]))


def test_a_rollout_stops_storing_at_the_first_episode_end_after_n_steps_and_never_cuts_a_full_episode():
    # Episodes of exactly 5 steps, n_steps=10, max_episode_steps=5: the rollout holds 10 rows (two whole
    # episodes: storing stops at the end that falls on step 10), and an episode that ends at its 5th step
    # is never taken for one that runs past max_episode_steps
    env = make_vec_env(lambda: FixedHorizonEnv(np.ones((5, 2))), n_envs=1, seed=0)
    model = REINFORCE("MlpPolicy", env, n_steps=10, max_episode_steps=5, gamma=1.0, seed=0)
    _, callback = model._setup_learn(10**6, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the truncation warning would fail the test
        for _ in range(3):
            assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
            assert model.rollout_buffer.buffer_size == 10 and model.rollout_buffer.active.all()
            np.testing.assert_array_equal(model.rollout_buffer.returns[:, 0], [5, 4, 3, 2, 1] * 2)


@pytest.mark.parametrize("normalize_advantage", [False, True])
def test_the_baseline_is_the_batch_mean_of_the_returns_or_nothing(normalize_advantage):
    env = make_vec_env(lambda: FixedHorizonEnv(np.arange(8.0).reshape(4, 2)), n_envs=1, seed=0)
    advantages = {}
    for baseline in ("mean", "none"):
        model = REINFORCE("MlpPolicy", env, n_steps=8, gamma=1.0, baseline=baseline, seed=0)
        _, callback = model._setup_learn(10**6, None)
        assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        returns = model.rollout_buffer.returns
        advantages[baseline] = model.rollout_buffer.advantages
        np.testing.assert_allclose(advantages[baseline], returns - (returns.mean() if baseline == "mean" else 0.0))
    assert not np.allclose(advantages["mean"], advantages["none"])


@pytest.mark.parametrize("every", [1, 4])
def test_gsde_noise_is_drawn_again_every_sde_sample_freq_steps(monkeypatch, every):
    model = REINFORCE("MlpPolicy", "Pendulum-v1", n_steps=10, use_sde=True, sde_sample_freq=every, seed=0)
    draws = []  # the step at which each draw happens
    reset_noise = model.policy.reset_noise
    monkeypatch.setattr(model.policy, "reset_noise", lambda n_envs=1: draws.append(model.num_timesteps) or reset_noise(n_envs))
    _, callback = model._setup_learn(10**6, None)
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    steps = model.rollout_buffer.buffer_size  # Pendulum's 200-step episode: the rollout runs on to its end
    assert steps == 200 and draws == [0, *range(0, steps, every)]  # at the start, then at steps 0, every, 2 every, ...


def test_sde_sample_freq_without_gsde_draws_no_noise(monkeypatch):
    """``sde_sample_freq`` is read only with ``use_sde=True``, as in SB3: without it, no gSDE noise is drawn."""
    model = REINFORCE("MlpPolicy", "Pendulum-v1", n_steps=10, sde_sample_freq=4, seed=0)
    monkeypatch.setattr(model.policy, "reset_noise", lambda n_envs=1: pytest.fail("reset_noise without gSDE"))
    _, callback = model._setup_learn(10**6, None)
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


def test_squashed_gsde_actions_are_rescaled_to_the_action_space():
    """With ``squash_output`` the env gets ``unscale_action(action)``: on Pendulum's [-2, 2], twice the action."""

    class Record(BaseCallback):
        def _on_step(self) -> bool:
            self.pairs = [*getattr(self, "pairs", []), (self.locals["actions"].copy(), self.locals["clipped_actions"])]
            return True

    model = REINFORCE("MlpPolicy", "Pendulum-v1", use_sde=True, policy_kwargs=dict(squash_output=True), n_steps=10, seed=0)
    record = Record()
    _, callback = model._setup_learn(10**6, record)
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    actions, clipped = (np.concatenate(part) for part in zip(*record.pairs, strict=True))
    assert np.abs(actions).max() <= 1 and np.abs(actions).max() > 0.5
    np.testing.assert_allclose(clipped, 2 * actions, rtol=1e-6)
