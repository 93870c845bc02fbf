"""Bad input, faults and reproducibility: clear errors before training, nothing silently NaN."""

import math
import warnings
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from conftest import ALGOS, small_kwargs
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv
from stable_baselines3.common.vec_env import DummyVecEnv, VecCheckNan

from sb3_pg import KLPPO, NPG, REINFORCE, VPG
from sb3_pg.common.buffers import EpisodicRolloutBuffer
from sb3_pg.common.checks import check_env_and_batch, check_learning_rate, check_real, check_rollout_finite, check_rollout_size

COMMON = [
    ("learning_rate", 0.0, "learning_rate"),
    ("learning_rate", -1e-3, "learning_rate"),
    ("learning_rate", float("nan"), "learning_rate"),
    ("learning_rate", lambda progress: 0.0, "learning_rate schedule"),
    ("n_steps", 0, "n_steps"),
    ("n_steps", 2.5, "n_steps"),
    ("gamma", 1.5, "gamma"),
    ("gamma", -0.1, "gamma"),
    ("stats_window_size", 0, "stats_window_size"),
    ("normalize_advantage", "yes", "normalize_advantage"),
    ("use_sde", 1, "use_sde"),
    ("sde_sample_freq", -2, "sde_sample_freq"),
]
SPECIFIC = {
    REINFORCE: [
        ("baseline", "median", "baseline"),
        ("reward_to_go", None, "reward_to_go"),
        ("ent_coef", -0.1, "ent_coef"),
        ("max_grad_norm", 0.0, "max_grad_norm"),
        ("max_grad_norm", float("nan"), "max_grad_norm"),
        ("max_episode_steps", 0, "max_episode_steps"),
        ("rollout_buffer_class", EpisodicRolloutBuffer.__mro__[-3], "rollout_buffer_class"),
    ],
    VPG: [
        ("gae_lambda", 1.01, "gae_lambda"),
        ("batch_size", 0, "batch_size"),
        ("vf_learning_rate", -1.0, "vf_learning_rate"),
        ("n_critic_updates", 0, "n_critic_updates"),
        ("ent_coef", -0.1, "ent_coef"),
        ("max_grad_norm", -1.0, "max_grad_norm"),
    ],
    NPG: [
        ("gae_lambda", -0.5, "gae_lambda"),
        ("target_kl", 0.0, "target_kl"),
        ("target_kl", -0.01, "target_kl"),
        ("cg_max_steps", 0, "cg_max_steps"),
        ("cg_damping", -0.1, "cg_damping"),
        ("n_critic_updates", 0, "n_critic_updates"),
        ("step_size", 0.0, "step_size"),
        ("sub_sampling_factor", 0, "sub_sampling_factor"),
    ],
    KLPPO: [],  # its own hyperparameters: tests/test_klppo.py
}
CASES = [(algo, *case) for algo in ALGOS for case in COMMON + SPECIFIC[algo]]
CASE_IDS = [f"{algo.__name__}-{name}-{i}" for i, (algo, name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("algo", "name", "value", "message"), CASES, ids=CASE_IDS)
def test_invalid_hyperparameter_names_itself(algo, name, value, message):
    kwargs = {"n_steps": 64}
    kwargs[name] = value
    if algo is not REINFORCE and name != "batch_size":
        kwargs["batch_size"] = 32
    with pytest.raises(ValueError, match=rf"\b{message}\b"):
        algo("MlpPolicy", "CartPole-v1", **kwargs)


@pytest.mark.parametrize("algo", ALGOS)
def test_unsupported_spaces(algo):
    class TupleActionEnv(IdentityEnv):
        def __init__(self):
            super().__init__(2)
            self.action_space = spaces.Tuple([spaces.Discrete(2), spaces.Discrete(2)])

    with pytest.raises(ValueError, match="action_space"):
        algo("MlpPolicy", TupleActionEnv(), **small_kwargs(algo))

    class TupleObservationEnv(IdentityEnv):
        def __init__(self):
            super().__init__(2)
            self.observation_space = spaces.Tuple([spaces.Discrete(2), spaces.Discrete(2)])

    with pytest.raises(ValueError, match="observation_space"):
        algo("MlpPolicy", TupleObservationEnv(), **small_kwargs(algo))


class NonFiniteEnv(gym.Env):
    """Returns a NaN (or inf) reward or observation at a chosen step."""

    observation_space = spaces.Box(-10, 10, shape=(2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, bad_step: int, what: str, value: float = float("nan")):
        self.bad_step, self.what, self.value, self.count = bad_step, what, value, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.count += 1
        obs, reward = np.zeros(2, dtype=np.float32), 1.0
        if self.count == self.bad_step:
            if self.what == "reward":
                reward = self.value
            else:
                obs[1] = self.value
        return obs, reward, self.count % 10 == 0, False, {}


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize(("what", "value"), [("reward", float("nan")), ("observation", float("inf"))])
def test_non_finite_env_values_are_refused_naming_the_step(algo, what, value):
    model = algo("MlpPolicy", NonFiniteEnv(bad_step=45, what=what, value=value), seed=0, **small_kwargs(algo))
    with pytest.raises(ValueError, match=rf"Non-finite {what} at step \d+ of the rollout in env 0 \(timestep 4[56]\)"):
        model.learn(200)
    # The bad rollout never reached the parameters
    for param in model.policy.parameters():
        assert np.isfinite(param.detach().numpy()).all()


@pytest.mark.parametrize("algo", ALGOS)
def test_vec_check_nan_stops_at_the_source(algo):
    env = VecCheckNan(DummyVecEnv([lambda: NonFiniteEnv(bad_step=45, what="reward")]), raise_exception=True)
    model = algo("MlpPolicy", env, seed=0, **small_kwargs(algo))
    with pytest.raises(ValueError, match="found nan in rewards"):
        model.learn(200)


@pytest.mark.parametrize("algo", ALGOS)
def test_corrupted_truncated_or_foreign_model_files(algo, tmp_path):
    model = algo("MlpPolicy", "CartPole-v1", **small_kwargs(algo))
    model.save(tmp_path / "model.zip")
    content = (tmp_path / "model.zip").read_bytes()

    (tmp_path / "truncated.zip").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=r"truncated\.zip is not a readable"):
        algo.load(tmp_path / "truncated.zip")

    corrupted = bytearray(content)
    corrupted[len(content) // 3 : len(content) // 3 + 64] = b"\0" * 64
    (tmp_path / "corrupted.zip").write_bytes(bytes(corrupted))
    with pytest.raises(ValueError, match=r"corrupted\.zip is not a readable"):
        algo.load(tmp_path / "corrupted.zip")

    PPO("MlpPolicy", "CartPole-v1", n_steps=64).save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match=r"ppo\.zip was saved by another algorithm"):
        algo.load(tmp_path / "ppo.zip")

    other = next(a for a in ALGOS if a is not algo)
    other("MlpPolicy", "CartPole-v1", **small_kwargs(other)).save(tmp_path / "other.zip")
    with pytest.raises(ValueError, match=rf"other\.zip was saved by {other.__name__}"):
        algo.load(tmp_path / "other.zip")


@pytest.mark.parametrize("algo", ALGOS)
def test_same_seed_same_logged_returns(algo):
    def episode_returns(seed: int) -> list[float]:
        model = algo("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=seed), seed=seed, **small_kwargs(algo))
        model.learn(400)
        return [info["r"] for info in model.ep_info_buffer]

    first = episode_returns(5)
    assert first == episode_returns(5)
    assert first != episode_returns(6)


@pytest.mark.parametrize("algo", ALGOS)
def test_load_and_continue_is_as_if_uninterrupted(algo, tmp_path):
    import copy

    import torch as th

    def reseed() -> None:  # the global RNGs are not part of a model file: give both runs the same
        th.manual_seed(7)
        np.random.seed(7)

    model = algo("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), seed=0, **small_kwargs(algo))
    model.learn(128)
    model.save(tmp_path / "model")
    env_at_save = copy.deepcopy(model.get_env())

    reseed()
    model.learn(128, reset_num_timesteps=False)

    loaded = algo.load(tmp_path / "model", env=env_at_save, force_reset=False)
    reseed()
    loaded.learn(128, reset_num_timesteps=False)

    assert loaded.num_timesteps == model.num_timesteps
    assert loaded._n_updates == model._n_updates
    for (name, param), loaded_param in zip(model.policy.named_parameters(), loaded.policy.parameters(), strict=True):
        assert th.equal(param, loaded_param), name


@pytest.mark.parametrize("algo", [VPG, NPG, KLPPO])
def test_a_batch_size_larger_than_the_rollout_is_one_minibatch(algo):
    # As SB3's PPO and sb3-contrib's TRPO: a warning, then minibatches of what there is
    with pytest.warns(UserWarning, match="mini-batch size of 256"):
        model = algo("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=256, seed=0)
    model.learn(128)
    assert model._n_updates >= 2


@pytest.mark.parametrize("algo", [REINFORCE, VPG])
def test_gradient_clipping_can_be_turned_off(algo):
    def trained(max_grad_norm) -> list[np.ndarray]:
        kwargs = small_kwargs(algo)
        model = algo("MlpPolicy", "CartPole-v1", seed=0, max_grad_norm=max_grad_norm, learning_rate=0.1, **kwargs)
        model.learn(64)
        return [p.detach().numpy().copy() for p in model.policy.parameters()]

    unclipped = trained(None)
    for same, other in zip(unclipped, trained(float("inf")), strict=True):
        np.testing.assert_array_equal(same, other)
    # A tight clip changes the step: the two above were not clipped
    assert any(not np.array_equal(a, b) for a, b in zip(unclipped, trained(1e-3), strict=True))


def test_a_non_finite_float_entry_after_an_integer_one_is_refused():
    """Integer entries of a Dict observation are skipped, and the float entries after them still checked."""
    buffer = SimpleNamespace(pos=3, n_envs=2, rewards=np.zeros((4, 2), dtype=np.float32))
    buffer.observations = {"a": np.zeros((4, 2, 1), dtype=np.int64), "b": np.zeros((4, 2, 2), dtype=np.float32)}
    buffer.observations["b"][2, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"Non-finite observation\['b'\] at step 2 of the rollout in env 1 \(timestep 6\)"):
        check_rollout_finite(buffer, num_timesteps=6)


@pytest.mark.parametrize(
    ("n_steps", "n_envs", "batch_size", "normalize", "warned"),
    [
        (10, 2, 4, False, None),  # 20 steps in 5 minibatches of 4
        (9, 1, 4, False, "each pass over it makes 2 minibatches of 4 and one of 1"),
        (3, 1, 4, False, "each pass over it makes one minibatch of 3"),
        (2, 1, 2, True, None),  # two advantages can be standardised
        (1, 1, 1, True, "a single advantage cannot be standardised"),
    ],
)
def test_the_rollout_size_warnings(n_steps, n_envs, batch_size, normalize, warned):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_rollout_size(batch_size, n_steps, n_envs, normalize)
    messages = [str(warning.message) for warning in caught]
    assert messages == [] if warned is None else (len(messages) == 1 and warned in messages[0]), messages


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("gamma", 1.5, 0.0, 1.0), "gamma must be a finite number in [0.0, 1.0], got 1.5"),
        (("target_kl", 0.0, 0.0, math.inf, True), "target_kl must be a finite number in (0.0, inf], got 0.0"),
        (("x", 1.0, 0.0, 1.0, False, True), "x must be a finite number in [0.0, 1.0), got 1.0"),
        (("x", math.nan), "x must be a finite number in [-inf, inf], got nan"),
        (("x", "0.5"), "x must be a finite number in [-inf, inf], got '0.5'"),
        (("x", True), "x must be a finite number in [-inf, inf], got True"),
    ],
)
def test_check_real_names_the_value_and_the_interval(args, message):
    with pytest.raises(ValueError) as raised:
        check_real(*args)
    assert str(raised.value) == message


def test_check_real_accepts_the_closed_ends_and_refuses_the_open_ones():
    check_real("x", 1.0, 0.0, 1.0)  # a closed end is in the interval
    check_real("x", 0.0, 0.0, 1.0)
    for args in (("x", 1.0, 0.0, 1.0, False, True), ("x", 0.0, 0.0, 1.0, True, False)):
        with pytest.raises(ValueError):
            check_real(*args)


def test_a_learning_rate_schedule_is_read_at_its_start():
    check_learning_rate("learning_rate", lambda progress: 1e-3 * (progress - 1.0) + 1e-3)  # 1e-3 at the start, 0 at the end
    with pytest.raises(ValueError, match=r"learning_rate\(1.0\) = 0.0"):
        check_learning_rate("learning_rate", lambda progress: 1e-3 * (1.0 - progress))


def test_an_unsupported_space_is_named_with_the_supported_ones():
    model = SimpleNamespace(env=object(), observation_space=spaces.Box(-1, 1, (2,)), action_space=spaces.Tuple([]))
    model.n_steps, model.n_envs = 8, 1
    with pytest.raises(ValueError) as raised:
        check_env_and_batch(model)
    assert str(raised.value) == (
        "action_space Tuple() is not supported by SimpleNamespace: use one of Box, Discrete, MultiDiscrete, MultiBinary"
    )
    model.observation_space, model.action_space = spaces.Tuple([]), spaces.Discrete(2)
    with pytest.raises(ValueError, match=r"use one of Box, Discrete, MultiDiscrete, MultiBinary, Dict$"):
        check_env_and_batch(model)
