"""The collection path (``sb3_pg/common/rollout.py``) against SB3's: same buffer, same distribution, same callbacks."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from conftest import ALGOS, small_kwargs
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit
from scipy import stats
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

import sb3_pg.common.rollout as rollout
from sb3_pg import NPG, REINFORCE, VPG
from sb3_pg.common.buffers import EpisodicRolloutBuffer
from sb3_pg.common.rollout import NumpyPolicy
from sb3_pg.zoo import FastA2C, FastPPO


class VectorEnv(gym.Env):
    """Box observations that depend on the actions taken, any action space; episodes end at random (termination)."""

    def __init__(self, action_space: spaces.Space, end_probability: float = 0.05):
        self.observation_space = spaces.Box(-5.0, 5.0, (5,), np.float32)
        self.action_space, self.end_probability = action_space, end_probability

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.normal(size=5).astype(np.float32)
        return self.state, {}

    def step(self, action):
        push = np.resize(np.asarray(action, dtype=np.float32).ravel(), 5)
        self.state = np.clip(0.9 * self.state + 0.3 * push + 0.1 * self.np_random.normal(size=5), -5, 5).astype(np.float32)
        reward = float(self.state[0] - 0.1 * np.square(push).sum())
        return self.state, reward, bool(self.np_random.random() < self.end_probability), False, {}


SPACES = {
    "discrete": spaces.Discrete(3),
    "box": spaces.Box(-1.0, 1.0, (2,), np.float32),
    "multidiscrete": spaces.MultiDiscrete([3, 2, 2]),
    "multibinary": spaces.MultiBinary(3),
}


class DictVectorEnv(VectorEnv):
    """VectorEnv's observations as a Dict of two Boxes"""

    def __init__(self, action_space: spaces.Space):
        super().__init__(action_space)
        self.observation_space = spaces.Dict({"a": spaces.Box(-5.0, 5.0, (2,)), "b": spaces.Box(-5.0, 5.0, (3,))})

    def reset(self, *, seed=None, options=None):
        state, info = super().reset(seed=seed)
        return {"a": state[:2], "b": state[2:]}, info

    def step(self, action):
        state, *rest = super().step(action)
        return {"a": state[:2], "b": state[2:]}, *rest


def vector_env(space: str, n_envs: int, seed: int, time_limit: int = 9, env_class: type = VectorEnv):
    """``n_envs`` envs on ``space``, cut by a TimeLimit (truncations) as well as ending at random (terminations)"""
    return make_vec_env(lambda: TimeLimit(env_class(SPACES[space]), time_limit), n_envs=n_envs, seed=seed)


def collect(model: OnPolicyAlgorithm, callback: BaseCallback | None = None) -> bool:
    _, callback = model._setup_learn(10**6, callback)
    return model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


def replaying(model: OnPolicyAlgorithm, actions: np.ndarray) -> None:
    """Make the torch policy's distribution return ``actions[t]`` at its t-th sample, whatever it would draw"""
    rows = iter(actions)
    dist = model.policy.action_dist
    dtype = th.float32 if isinstance(model.action_space, (spaces.Box, spaces.MultiBinary)) else th.int64

    def get_actions(deterministic: bool = False) -> th.Tensor:
        row = th.as_tensor(next(rows)).to(dtype)
        return row.flatten() if isinstance(model.action_space, spaces.Discrete) else row

    dist.get_actions = get_actions  # type: ignore[method-assign]


BUFFER_ARRAYS = ("observations", "actions", "rewards", "episode_starts", "values", "log_probs", "advantages", "returns")


@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize(("algo", "n_envs"), [(VPG, 3), (NPG, 1), (REINFORCE, 2), (FastPPO, 2), (FastA2C, 1)])
def test_the_buffer_equals_sb3s_given_the_same_actions(algo, n_envs, space):
    check_the_same_buffer(algo, n_envs, space, VectorEnv, "MlpPolicy")


@pytest.mark.parametrize("space", ["discrete", "box"])
@pytest.mark.parametrize(("algo", "n_envs"), [(VPG, 2), (REINFORCE, 2)])
def test_the_buffer_equals_sb3s_given_the_same_actions_on_dict_observations(algo, n_envs, space):
    check_the_same_buffer(algo, n_envs, space, DictVectorEnv, "MultiInputPolicy")


def check_the_same_buffer(algo: type, n_envs: int, space: str, env_class: type, policy: str) -> None:
    # Truncations every 9 steps (the bootstrap gamma * V(terminal obs)), terminations at random, several envs,
    # VecNormalize on the observations, and parameters away from initialisation
    def model(fast: bool) -> OnPolicyAlgorithm:
        env = VecNormalize(vector_env(space, n_envs, seed=5, env_class=env_class), norm_reward=False)
        kwargs = dict(n_steps=40, policy_kwargs=dict(net_arch=[16])) if algo in (FastPPO, FastA2C) else small_kwargs(algo, 40)
        made = algo(policy, env, seed=1, **kwargs)
        made.fast_rollout = fast
        with th.no_grad():
            for p in made.policy.parameters():
                p.add_(0.3 * th.randn(p.shape, generator=th.Generator().manual_seed(p.numel())))
        return made

    fast, sb3 = model(True), model(False)
    assert fast.rollout_blocker() is None and sb3.rollout_blocker() == "fast_rollout=False"
    assert collect(fast)
    n_rows = fast.rollout_buffer.buffer_size
    replaying(sb3, fast.rollout_buffer.actions[:n_rows])
    assert collect(sb3)
    assert sb3.rollout_buffer.buffer_size == n_rows and fast.num_timesteps == sb3.num_timesteps
    if algo is not REINFORCE:
        assert np.any(fast.rollout_buffer.values != 0)
    starts = fast.rollout_buffer.episode_starts
    assert starts[1:].sum() >= 2  # episodes ended inside the rollout
    for name in BUFFER_ARRAYS:
        fast_array, sb3_array = getattr(fast.rollout_buffer, name), getattr(sb3.rollout_buffer, name)
        for key in fast_array if isinstance(fast_array, dict) else [None]:
            fast_key, sb3_key = (fast_array, sb3_array) if key is None else (fast_array[key], sb3_array[key])
            assert fast_key.dtype == sb3_key.dtype, name
            np.testing.assert_allclose(fast_key, sb3_key, rtol=1e-5, atol=1e-5, err_msg=f"{name} {key}")
    for key in fast._last_obs if isinstance(fast._last_obs, dict) else [None]:
        fast_obs, sb3_obs = (fast._last_obs, sb3._last_obs) if key is None else (fast._last_obs[key], sb3._last_obs[key])
        np.testing.assert_array_equal(fast_obs, sb3_obs)
    np.testing.assert_array_equal(fast._last_episode_starts, sb3._last_episode_starts)
    assert [(i["r"], i["l"]) for i in fast.ep_info_buffer] == [(i["r"], i["l"]) for i in sb3.ep_info_buffer]


def test_the_time_limit_bootstrap_is_gamma_times_the_value_of_the_terminal_observation():
    model = VPG("MlpPolicy", vector_env("box", 1, seed=0, time_limit=5), seed=0, n_steps=12, batch_size=12, gamma=0.9)
    model.env.envs[0].unwrapped.end_probability = 0.0  # type: ignore[attr-defined]
    rewards, terminal = [], []
    step_wait = model.env.step_wait

    def recording_step_wait():
        obs, step_rewards, dones, infos = step_wait()
        rewards.append(step_rewards.copy())
        terminal.extend(info["terminal_observation"] for info in infos if "terminal_observation" in info)
        return obs, step_rewards, dones, infos

    model.env.step_wait = recording_step_wait  # type: ignore[method-assign]
    assert collect(model)
    assert len(terminal) == 2  # truncated after steps 5 and 10
    with th.no_grad():
        values = model.policy.predict_values(th.as_tensor(np.stack(terminal))).flatten().numpy()
    expected = np.array(rewards, dtype=np.float32)
    expected[[4, 9], 0] += 0.9 * values
    assert np.all(np.abs(values) > 1e-3)
    np.testing.assert_allclose(model.rollout_buffer.rewards, expected, rtol=1e-6, atol=1e-6)


def perturbed(model: OnPolicyAlgorithm) -> OnPolicyAlgorithm:
    with th.no_grad():
        for p in model.policy.parameters():
            p.add_(0.5 * th.randn(p.shape, generator=th.Generator().manual_seed(7 + p.numel())))
    return model


def sample(model: OnPolicyAlgorithm, obs: np.ndarray, n: int) -> np.ndarray:
    """:return: ``n`` actions per observation, drawn by NumpyPolicy, shape ``(n, len(obs), ...)``"""
    th.manual_seed(0)
    actor = NumpyPolicy(model.policy, len(obs), chunk=1000)
    return np.stack([actor(obs) for _ in range(n)])


OBS = np.array([[0.5, -1.0, 0.2, 1.5, -0.3], [-2.0, 0.4, 1.0, 0.0, 0.7]], dtype=np.float32)


@pytest.mark.parametrize("space", ["discrete", "multidiscrete", "multibinary"])
def test_sampled_actions_follow_the_policys_distribution_chi_square(space):
    model = perturbed(NPG("MlpPolicy", vector_env(space, 1, seed=0), seed=0, policy_kwargs=dict(net_arch=[8, 8])))
    n = 20_000
    actions = sample(model, OBS, n)
    with th.no_grad():
        distribution = model.policy.get_distribution(th.as_tensor(OBS)).distribution
    # Every (observation, action component): counts against the torch distribution's probabilities
    components = distribution if isinstance(distribution, list) else [distribution]
    for i in range(len(OBS)):
        for j, component in enumerate(components):
            if space == "multibinary":
                p = th.sigmoid(component.logits[i, j]).item()
                probs, observed = np.array([1 - p, p]), np.bincount(actions[:, i, j].astype(int), minlength=2)
            else:
                probs = component.probs[i].numpy().astype(np.float64)
                column = actions[:, i] if space == "discrete" else actions[:, i, j]
                observed = np.bincount(column, minlength=len(probs))
            assert probs.min() > 0.01, probs  # away from a deterministic policy: every count is large
            assert stats.chisquare(observed, probs / probs.sum() * n).pvalue > 1e-3, (i, j, observed, probs * n)
    # And a wrong distribution is told apart: the counts against uniform probabilities
    column = actions[:, 0] if space == "discrete" else actions[:, 0, 0]
    assert stats.chisquare(np.bincount(column.astype(int))).pvalue < 1e-3


def test_sampled_actions_follow_the_policys_distribution_kolmogorov_smirnov():
    model = perturbed(NPG("MlpPolicy", vector_env("box", 1, seed=0), seed=0, policy_kwargs=dict(net_arch=[8, 8])))
    with th.no_grad():
        model.policy.log_std.copy_(th.tensor([-0.7, 0.4]))  # type: ignore[operator]
    actions = sample(model, OBS, 5_000)
    with th.no_grad():
        distribution = model.policy.get_distribution(th.as_tensor(OBS)).distribution
    mean, std = distribution.mean.numpy(), distribution.stddev.numpy()
    assert np.all(np.abs(mean) > 0.05) and np.all(np.abs(std - 1) > 0.05)  # away from initialisation
    for i in range(len(OBS)):
        for d in range(mean.shape[1]):
            assert stats.kstest(actions[:, i, d], "norm", args=(mean[i, d], std[i, d])).pvalue > 1e-3, (i, d)
            assert stats.kstest(actions[:, i, d], "norm", args=(mean[i, d], 1.1 * std[i, d])).pvalue < 1e-3


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Sigmoid])
@pytest.mark.parametrize("space", list(SPACES))
def test_numpy_policy_evaluates_as_sb3s_evaluate_actions(space, activation):
    kwargs = dict(net_arch=dict(pi=[16, 8], vf=[12]), activation_fn=activation)
    model = perturbed(NPG("MlpPolicy", vector_env(space, 1, seed=0), seed=0, policy_kwargs=kwargs))
    obs = np.random.default_rng(0).normal(size=(50, 5)).astype(np.float32)
    actions = np.stack([model.action_space.sample() for _ in range(50)]).reshape(50, -1).astype(np.float32)
    values, log_probs = NumpyPolicy(model.policy, 1, chunk=1).evaluate(obs, actions)
    torch_actions = th.as_tensor(actions).flatten() if space == "discrete" else th.as_tensor(actions)
    with th.no_grad():
        expected_values, expected_log_probs, _ = model.policy.evaluate_actions(th.as_tensor(obs), torch_actions)
    np.testing.assert_allclose(values, expected_values.flatten().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_probs, expected_log_probs.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU])
def test_the_step_of_a_nearly_deterministic_gaussian_is_the_policys_mean(activation):
    """Every hidden layer and the output layer take part in the per-step action: with a tiny std it is the mean."""
    kwargs = dict(net_arch=dict(pi=[16, 8], vf=[4]), activation_fn=activation)
    model = perturbed(NPG("MlpPolicy", vector_env("box", 1, seed=0), seed=0, policy_kwargs=kwargs))
    with th.no_grad():
        model.policy.log_std.fill_(-30.0)  # type: ignore[operator]
        mean = model.policy.get_distribution(th.as_tensor(OBS)).distribution.mean.numpy()
    th.manual_seed(0)
    np.testing.assert_allclose(NumpyPolicy(model.policy, len(OBS), chunk=4)(OBS), mean, rtol=1e-5, atol=1e-5)


def test_log_probabilities_of_extreme_logits_are_finite_and_exact():
    """Logits hundreds apart, and rows whose largest logits differ by hundreds: each row is normalised stably."""
    model = NPG("MlpPolicy", vector_env("discrete", 1, seed=0), seed=0, policy_kwargs=dict(net_arch=dict(pi=[], vf=[])))
    with th.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.weight[:, 0] = th.tensor([100.0, -100.0, 0.0])
        model.policy.action_net.bias.zero_()
    obs = np.zeros((3, 5), dtype=np.float32)
    obs[:, 0] = [3.0, 0.0, -3.0]  # logits (300, -300, 0), (0, 0, 0), (-300, 300, 0)
    actions = np.array([[1.0], [2.0], [0.0]], dtype=np.float32)
    _, log_probs = NumpyPolicy(model.policy, 1, chunk=1).evaluate(obs, actions)
    np.testing.assert_allclose(log_probs, [-600.0, -np.log(3.0), -600.0], rtol=1e-5)


def test_the_values_of_a_list_of_one_dict_observation():
    """A rollout with a single time-limit truncation bootstraps from a list of one terminal observation."""
    model = VPG("MultiInputPolicy", vector_env("box", 1, seed=0, env_class=DictVectorEnv), seed=0, **small_kwargs(VPG))
    obs = {key: space.sample() for key, space in model.observation_space.spaces.items()}  # type: ignore[attr-defined]
    with th.no_grad():
        expected = model.policy.predict_values({key: th.as_tensor(value[None]) for key, value in obs.items()})
    values = rollout.predict_values(NumpyPolicy(model.policy, 1, chunk=1), [obs])
    np.testing.assert_allclose(values, expected.flatten().numpy(), rtol=1e-5, atol=1e-6)


def rollouts(model: OnPolicyAlgorithm, n: int) -> list[dict[str, np.ndarray]]:
    """:return: the buffer's observations and episode starts after each of ``n`` rollouts in a row, as ``learn`` runs them"""
    _, callback = model._setup_learn(10**6, None)
    found = []
    for _ in range(n):
        assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)  # type: ignore[arg-type]
        buffer = model.rollout_buffer
        found.append({"obs": buffer.observations.copy(), "starts": buffer.episode_starts.copy(), "last": model._last_obs})
    return found


def test_consecutive_rollouts_continue_the_episodes_under_way():
    """A rollout of VPG, NPG or KLPPO starts where the last one stopped: no env is reset between them."""
    model = VPG("MlpPolicy", vector_env("box", 2, seed=0, time_limit=50), seed=0, **small_kwargs(VPG, 7))
    for env in model.env.envs:  # type: ignore[attr-defined]
        env.unwrapped.end_probability = 0.0
    first, second = rollouts(model, 2)
    np.testing.assert_array_equal(second["obs"][0], first["last"])
    assert not second["starts"][0].any()


def test_reinforce_rollouts_hold_only_complete_episodes_after_a_multi_env_rollout():
    """An env that the last rollout left mid-episode is reset: each env's first stored row begins an episode."""
    model = REINFORCE("MlpPolicy", vector_env("box", 2, seed=0, time_limit=8), seed=0, **small_kwargs(REINFORCE, 3))
    left_mid_episode = 0
    for found in rollouts(model, 6):
        assert found["starts"][0].all()
        left_mid_episode += not np.all(model._last_episode_starts)
    assert left_mid_episode > 0  # the case arose: some rollout ended with an env mid-episode


@pytest.mark.parametrize("algo", ALGOS)
def test_same_seed_same_parameters_on_the_fast_path(algo, monkeypatch):
    built = []
    monkeypatch.setattr(rollout, "NumpyPolicy", lambda *args: built.append(1) or NumpyPolicy(*args))

    def run(seed: int) -> list[th.Tensor]:
        model = algo("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), seed=seed, **small_kwargs(algo))
        model.learn(200)
        return [p.detach().clone() for p in model.policy.parameters()]

    first, second, other = run(3), run(3), run(4)
    assert built  # the fast path ran
    assert all(th.equal(p, q) for p, q in zip(first, second, strict=True))
    assert not all(th.equal(p, q) for p, q in zip(first, other, strict=True))


@pytest.mark.parametrize("algo", ALGOS)
def test_callbacks_see_sb3s_locals_and_can_stop_the_rollout(algo):
    class StopAt(BaseCallback):
        def __init__(self):
            super().__init__()
            self.seen: list[dict] = []

        def _on_step(self) -> bool:
            self.seen.append({name: self.locals[name] for name in ("new_obs", "rewards", "dones", "infos", "actions")})
            assert self.locals["clipped_actions"] is not None and self.model.num_timesteps == self.num_timesteps
            # SB3's names for the loop's objects, as its collect_rollouts has them
            assert self.locals["self"] is self.model and self.locals["env"] is self.model.env
            assert self.locals["rollout_buffer"] is self.model.rollout_buffer and self.locals["callback"] is not None
            assert (self.locals["n_rollout_steps"], self.locals["n_steps"]) == (self.model.n_steps, self.n_calls - 1)
            return self.n_calls < 5

    callback = StopAt()
    model = algo("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), seed=0, **small_kwargs(algo))
    assert not collect(model, CallbackList([callback]))
    assert len(callback.seen) == 5 and model.num_timesteps == 10
    assert [len(seen["infos"]) for seen in callback.seen] == [2] * 5
    assert all(seen["new_obs"].shape == (2, 4) and seen["actions"].shape == (2,) for seen in callback.seen)


class MyPolicy(ActorCriticPolicy):
    pass


class MyExtractor(FlattenExtractor):
    pass


class MyBuffer(RolloutBuffer):
    pass


class MyEpisodicBuffer(EpisodicRolloutBuffer):
    pass


UNCOVERED = {
    "fast_rollout=False": ("CartPole-v1", "MlpPolicy", dict(fast_rollout=False)),
    "images": (lambda: FakeImageEnv(screen_height=36, screen_width=36), "CnnPolicy", {}),
    "dict observations with an image": (SimpleMultiObsEnv, "MultiInputPolicy", {}),
    "gSDE": ("Pendulum-v1", "MlpPolicy", dict(use_sde=True)),
    "custom features extractor": ("CartPole-v1", "MlpPolicy", dict(policy_kwargs=dict(features_extractor_class=MyExtractor))),
    "custom policy": ("CartPole-v1", MyPolicy, {}),
    "custom rollout buffer": ("CartPole-v1", "MlpPolicy", dict(rollout_buffer_class=MyBuffer)),
    "GELU": ("CartPole-v1", "MlpPolicy", dict(policy_kwargs=dict(activation_fn=nn.GELU))),
}


# The line printed at verbose=1, per case (the buffer's class is the one the case passes)
REASONS = {
    "fast_rollout=False": "fast_rollout=False",
    "images": "the observations are not vectors (a Box, or a Dict of Boxes, none of them an image)",
    "dict observations with an image": "the observations are not vectors (a Box, or a Dict of Boxes, none of them an image)",
    "gSDE": "gSDE (use_sde=True) draws its noise per state",
    "custom features extractor": "a custom features extractor",
    "custom policy": "the policy class MyPolicy is not MlpPolicy or MultiInputPolicy",
    "custom rollout buffer": "the rollout buffer class {}",
    "GELU": "the activation GELU",
}


@pytest.mark.parametrize("case", list(UNCOVERED))
@pytest.mark.parametrize("algo", ALGOS)
def test_what_the_fast_path_does_not_cover_takes_sb3s_path_and_says_so(algo, case, monkeypatch, capsys):
    env, policy, kwargs = UNCOVERED[case]
    if algo is REINFORCE and kwargs.get("rollout_buffer_class") is MyBuffer:
        kwargs = dict(rollout_buffer_class=MyEpisodicBuffer)
    kwargs = small_kwargs(algo) | kwargs
    if case in ("images", "dict observations with an image"):
        kwargs.pop("policy_kwargs")
    model = algo(policy, make_vec_env(env, n_envs=2, seed=0), seed=0, verbose=1, **kwargs)
    reason = model.rollout_blocker()
    assert reason is not None and f"{algo.__name__}: rollouts take SB3's per-step path: {reason}\n" in capsys.readouterr().out
    assert reason == REASONS[case].format(getattr(kwargs.get("rollout_buffer_class"), "__name__", ""))
    sb3_calls, built = [], []
    sb3_collect = OnPolicyAlgorithm.collect_rollouts
    monkeypatch.setattr(OnPolicyAlgorithm, "collect_rollouts", lambda *args: sb3_calls.append(1) or sb3_collect(*args))
    monkeypatch.setattr(rollout, "NumpyPolicy", lambda *args: built.append(1) or NumpyPolicy(*args))
    assert collect(model)
    assert not built  # REINFORCE steps its torch policy; the others call SB3's collect_rollouts
    assert sb3_calls == ([] if algo is REINFORCE else [1])


def test_an_image_of_any_channel_count_takes_sb3s_path():
    """SB3 scales a uint8 image Box by 1/255 whatever its channels: a two-channel image is not taken for a vector."""
    model = VPG("MlpPolicy", FakeImageEnv(screen_height=8, screen_width=8, n_channels=2), seed=0, **small_kwargs(VPG))
    assert model.rollout_blocker() == REASONS["images"]


@pytest.mark.parametrize("algo", ALGOS)
def test_the_covered_cases_take_the_fast_path_silently(algo, capsys):
    for env, kwargs in [
        ("CartPole-v1", dict(net_arch=[64, 64], activation_fn=nn.Tanh)),
        ("Pendulum-v1", dict(net_arch=dict(pi=[256, 256], vf=[256, 256]), activation_fn=nn.ReLU, log_std_init=-0.5)),
        ("Acrobot-v1", dict(net_arch=dict(pi=[64], vf=[]), activation_fn=nn.Tanh, ortho_init=False)),
    ]:
        model = algo("MlpPolicy", env, verbose=1, policy_kwargs=kwargs)
        assert model.rollout_blocker() is None
        assert "per-step path" not in capsys.readouterr().out


@pytest.mark.parametrize("algo", ALGOS)
def test_multidimensional_box_actions_keep_their_shape(algo):
    space = spaces.Box(-1.0, 1.0, (2, 2), np.float32)
    model = algo("MlpPolicy", make_vec_env(lambda: TimeLimit(VectorEnv(space), 9), n_envs=2, seed=0), **small_kwargs(algo))
    assert model.rollout_blocker() is None
    actions = NumpyPolicy(model.policy, 2, chunk=1)(np.zeros((2, 5), dtype=np.float32))
    assert actions.shape == (2, 2, 2)
    model.learn(64)
    assert model.rollout_buffer.actions.shape[-1] == 4
