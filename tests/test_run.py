"""SB3-style tests: every algorithm on every space, with the features SB3 users rely on."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from conftest import ALGOS, small_kwargs
from stable_baselines3.common import base_class
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback, EvalCallback
from stable_baselines3.common.distributions import StateDependentNoiseDistribution
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import (
    FakeImageEnv,
    IdentityEnv,
    IdentityEnvBox,
    IdentityEnvMultiBinary,
    IdentityEnvMultiDiscrete,
    SimpleMultiObsEnv,
)
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecNormalize

from sb3_pg import NPG, REINFORCE, VPG
from sb3_pg.common.critic import split_actor_critic

SPACE_ENVS = {
    "discrete": lambda: IdentityEnv(4, ep_length=10),
    "box": lambda: IdentityEnvBox(ep_length=10),
    "multidiscrete": lambda: IdentityEnvMultiDiscrete(3, ep_length=10),
    "multibinary": lambda: IdentityEnvMultiBinary(3, ep_length=10),
}


def params_of(model) -> dict[str, np.ndarray]:
    return {name: param.detach().cpu().numpy().copy() for name, param in model.policy.named_parameters()}


def actor_params_of(model) -> list[np.ndarray]:
    """The policy's own parameters: the critic fit alone moves the others"""
    return [param.detach().cpu().numpy().copy() for param in split_actor_critic(model.policy)[0]]


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("space", list(SPACE_ENVS))
def test_spaces(algo, space):
    model = algo("MlpPolicy", SPACE_ENVS[space](), seed=0, **small_kwargs(algo))
    before = actor_params_of(model)
    model.learn(100)
    after = actor_params_of(model)
    assert model.num_timesteps >= 100
    assert all(np.isfinite(param).all() for param in after)
    assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True)), "the policy did not move"
    obs, _ = model.env.envs[0].reset()
    action, _ = model.predict(obs, deterministic=True)
    assert model.action_space.contains(action.reshape(model.action_space.shape).astype(model.action_space.dtype))


@pytest.mark.parametrize("algo", ALGOS)
def test_dict_observations(algo):
    model = algo("MultiInputPolicy", SimpleMultiObsEnv(random_start=False), seed=0, **small_kwargs(algo))
    model.learn(80)
    obs = model.env.reset()
    assert model.predict(obs)[0].shape == (1,)


@pytest.mark.parametrize("algo", ALGOS)
def test_image_observations(algo):
    env = FakeImageEnv(screen_height=36, screen_width=36, n_channels=1, discrete=algo is not NPG)
    kwargs = small_kwargs(algo, n_steps=16)
    kwargs["policy_kwargs"] = dict(net_arch=[8], features_extractor_kwargs=dict(features_dim=16))
    model = algo("CnnPolicy", env, seed=0, **kwargs)
    model.learn(32)
    assert model.num_timesteps >= 32


@pytest.mark.parametrize("algo", ALGOS)
def test_multi_env_vecnormalize_sde(algo, tmp_path):
    env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0))
    model = algo("MlpPolicy", env, seed=0, use_sde=True, sde_sample_freq=4, **small_kwargs(algo))
    model.learn(300)
    assert model.num_timesteps >= 300
    assert model.get_vec_normalize_env() is env
    model.save(tmp_path / "model")
    env.save(str(tmp_path / "vecnormalize.pkl"))
    loaded_env = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), env.venv)
    loaded = algo.load(tmp_path / "model", env=loaded_env)
    # gSDE came back as a policy that samples state-dependent noise, and acts as the saved one did
    assert isinstance(loaded.policy.action_dist, StateDependentNoiseDistribution)
    np.testing.assert_array_equal(loaded_env.obs_rms.mean, env.obs_rms.mean)
    raw = np.array([[1.0, 0.0, 6.0], [0.0, 1.0, -6.0]], dtype=np.float32)
    np.testing.assert_array_equal(
        loaded.predict(loaded_env.normalize_obs(raw), deterministic=True)[0],
        model.predict(env.normalize_obs(raw), deterministic=True)[0],
    )
    loaded.learn(100, reset_num_timesteps=False)


@pytest.mark.parametrize("algo", ALGOS)
def test_save_load_predict_continue(algo, tmp_path):
    model = algo("MlpPolicy", "CartPole-v1", seed=0, **small_kwargs(algo))
    model.learn(200)
    obs = np.array([[0.01, -0.02, 0.03, 0.04], [0.1, 0.2, -0.1, -0.3]], dtype=np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model")

    loaded = algo.load(tmp_path / "model", env=make_vec_env("CartPole-v1", n_envs=1))
    assert type(loaded) is algo
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    for name, value in params_of(model).items():
        np.testing.assert_array_equal(params_of(loaded)[name], value)
    # Every optimizer's state comes back, including the ones beyond policy.optimizer
    for attribute in loaded._get_torch_save_params()[0][1:]:
        saved_state = model.get_parameters()[attribute]["state"]
        loaded_state = loaded.get_parameters()[attribute]["state"]
        assert saved_state.keys() == loaded_state.keys() and len(saved_state) > 0
        for key in saved_state:
            for name, value in saved_state[key].items():
                np.testing.assert_array_equal(np.asarray(loaded_state[key][name]), np.asarray(value))

    timesteps = loaded.num_timesteps
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps >= timesteps + 100


def test_vpg_saves_its_critic_optimizer(tmp_path):
    model = VPG("MlpPolicy", "CartPole-v1", seed=0, **small_kwargs(VPG))
    assert "critic_optimizer" in model._get_torch_save_params()[0]
    model.learn(64)
    model.save(tmp_path / "vpg")
    loaded = VPG.load(tmp_path / "vpg")
    saved_state = model.critic_optimizer.state_dict()["state"]
    loaded_state = loaded.critic_optimizer.state_dict()["state"]
    assert len(saved_state) == len(split_actor_critic(model.policy)[1])  # every critic parameter was stepped
    for key, moments in saved_state.items():
        for name in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(np.asarray(loaded_state[key][name]), np.asarray(moments[name]))
    assert loaded.critic_optimizer.param_groups[0]["lr"] == model.critic_optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("algo", ALGOS)
def test_determinism(algo):
    def run(seed: int) -> dict[str, np.ndarray]:
        model = algo("MlpPolicy", "CartPole-v1", seed=seed, **small_kwargs(algo))
        model.learn(256)
        return params_of(model)

    first, second, other = run(3), run(3), run(4)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert any(not np.array_equal(first[name], other[name]) for name in first)


@pytest.mark.parametrize("algo", ALGOS)
def test_callbacks_and_logging(algo, tmp_path):
    class CountSteps(BaseCallback):
        def __init__(self):
            super().__init__()
            self.steps = self.rollouts = 0

        def _on_step(self) -> bool:
            self.steps += 1
            return True

        def _on_rollout_end(self) -> None:
            self.rollouts += 1

    counter = CountSteps()
    eval_callback = EvalCallback(make_vec_env("CartPole-v1"), eval_freq=64, n_eval_episodes=2, log_path=str(tmp_path))
    checkpoints = CheckpointCallback(save_freq=64, save_path=str(tmp_path / "checkpoints"))
    model = algo("MlpPolicy", "CartPole-v1", seed=0, tensorboard_log=str(tmp_path / "tb"), **small_kwargs(algo))
    model.learn(128, callback=CallbackList([counter, eval_callback, checkpoints]), progress_bar=True)
    assert counter.steps == model.num_timesteps
    assert counter.rollouts >= 1
    assert (tmp_path / "evaluations.npz").exists()
    assert len(list((tmp_path / "checkpoints").glob("*.zip"))) >= 1
    assert list((tmp_path / "tb").glob(f"{algo.__name__}_1/events.out.tfevents.*"))
    expected = {"train/policy_loss", "train/entropy_loss"}
    if algo is not REINFORCE:
        expected |= {"train/value_loss", "train/explained_variance"}
    if algo is NPG:
        expected |= {"train/kl_divergence", "train/step_size", "train/cg_residual"}
    # name_to_value is cleared at each dump; the last update's values are recorded after the last dump
    model.train()
    assert expected <= set(model.logger.name_to_value), expected - set(model.logger.name_to_value)


@pytest.mark.parametrize("algo", ALGOS)
def test_callback_can_stop_training(algo):
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 20

    model = algo("MlpPolicy", "CartPole-v1", seed=0, **small_kwargs(algo, n_steps=32))
    before = params_of(model)
    model.learn(1000, callback=StopAt())
    assert model.num_timesteps == 20
    for name, value in before.items():  # the interrupted rollout was not used
        np.testing.assert_array_equal(params_of(model)[name], value)


@pytest.mark.parametrize("algo", ALGOS)
def test_learning_rate_schedule(algo):
    model = algo("MlpPolicy", "CartPole-v1", seed=0, learning_rate=LinearSchedule(1e-3, 1e-4, 1.0), **small_kwargs(algo))
    model.learn(128)
    lr = model.policy.optimizer.param_groups[0]["lr"]
    assert 1e-4 <= lr < 1e-3


def test_vpg_learning_rates_are_separate():
    model = VPG(
        "MlpPolicy",
        "CartPole-v1",
        seed=0,
        learning_rate=1e-4,
        vf_learning_rate=LinearSchedule(2e-3, 1e-4, 1.0),
        **small_kwargs(VPG),
    )
    model.learn(64)
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert 1e-4 <= model.critic_optimizer.param_groups[0]["lr"] < 2e-3
    actor = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    critic = {id(p) for group in model.critic_optimizer.param_groups for p in group["params"]}
    assert not actor & critic
    assert actor | critic == {id(p) for p in model.policy.parameters()}


def test_reinforce_never_trains_or_queries_the_value_head():
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0, n_steps=64)
    value_before = {k: v.clone() for k, v in model.policy.value_net.state_dict().items()}
    calls = []
    model.policy.value_net.register_forward_hook(lambda *args: calls.append(1))
    model.learn(300)
    assert not calls, "the value head was evaluated"
    for key, value in model.policy.value_net.state_dict().items():
        assert th.equal(value, value_before[key])


class LinearExtractor(BaseFeaturesExtractor):
    def __init__(self, observation_space, features_dim: int = 6) -> None:
        super().__init__(observation_space, features_dim)
        self.linear = th.nn.Linear(int(np.prod(observation_space.shape)), features_dim)

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return th.tanh(self.linear(observations))


@pytest.mark.parametrize("algo", [VPG, NPG])
@pytest.mark.parametrize("share_features_extractor", [True, False])
def test_critic_fit_moves_only_the_critic(algo, share_features_extractor, monkeypatch):
    import sb3_pg.common.critic as critic_module

    module = __import__(algo.__module__, fromlist=["fit_critic"])
    seen = []

    def checked_fit_critic(policy, *args, **kwargs):
        actor, critic = critic_module.split_actor_critic(policy)
        actor_before = [p.detach().clone() for p in actor]
        critic_before = [p.detach().clone() for p in critic]
        loss = critic_module.fit_critic(policy, *args, **kwargs)
        assert all(th.equal(p, q) for p, q in zip(actor, actor_before, strict=True)), "the critic fit moved the actor"
        assert any(not th.equal(p, q) for p, q in zip(critic, critic_before, strict=True)), "the critic did not move"
        seen.append(loss)
        return loss

    monkeypatch.setattr(module, "fit_critic", checked_fit_critic)
    kwargs = small_kwargs(algo)
    kwargs["policy_kwargs"]["share_features_extractor"] = share_features_extractor
    # A features extractor with parameters: shared, they are the actor's and the critic fit must leave them
    kwargs["policy_kwargs"]["features_extractor_class"] = LinearExtractor
    model = algo("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    model.learn(64)
    assert len(seen) == model._n_updates == 2


class RecordMode(FlattenExtractor):
    """A features extractor that records, per forward pass, whether the policy was in training mode."""

    modes: list[bool] = []

    def forward(self, observations: th.Tensor) -> th.Tensor:
        RecordMode.modes.append(self.training)
        return super().forward(observations)


@pytest.mark.parametrize("algo", ALGOS)
def test_updates_run_in_training_mode_and_rollouts_in_eval_mode(algo, monkeypatch):
    # As SB3's algorithms: dropout or batch norm in a user's policy behave as in A2C and PPO
    kwargs = small_kwargs(algo)
    kwargs["policy_kwargs"]["features_extractor_class"] = RecordMode
    model = algo("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    modes_in_rollout, modes_in_train = [], []
    train = model.train

    def recorded_train() -> None:
        modes_in_rollout.extend(RecordMode.modes)
        RecordMode.modes = []
        train()
        modes_in_train.extend(RecordMode.modes)
        RecordMode.modes = []

    monkeypatch.setattr(model, "train", recorded_train)
    RecordMode.modes = []
    model.learn(64)
    assert modes_in_train and all(modes_in_train), "train() evaluated the policy in eval mode"
    assert modes_in_rollout and not any(modes_in_rollout), "the rollout evaluated the policy in training mode"


@pytest.mark.parametrize("algo", ALGOS)
def test_learn_logs_every_rollout_under_the_algorithms_name_and_prints_nothing_at_verbose_0(algo, tmp_path, capfd):
    model = algo("MlpPolicy", "CartPole-v1", seed=0, tensorboard_log=str(tmp_path), **small_kwargs(algo))
    dumps, rollouts = [], []

    class CountRollouts(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            rollouts.append(1)

    model.learn(32)
    dump_logs = model.dump_logs
    model.dump_logs = lambda iteration=0: dumps.append(iteration) or dump_logs(iteration)  # type: ignore[method-assign]
    model.learn(96, callback=CountRollouts(), reset_num_timesteps=False)
    assert len(dumps) == len(rollouts) >= 2, "the logs are written after every rollout"
    out, err = capfd.readouterr()
    assert out == "" and "it/s" not in err, "verbose=0 and no progress bar by default"
    assert [path.name for path in tmp_path.iterdir()] == [f"{algo.__name__}_1"], "continued in its folder, as SB3 does"
    model.learn(32, tb_log_name="mine")
    assert (tmp_path / "mine_1").is_dir()


@pytest.mark.parametrize("algo", ALGOS)
def test_load_takes_sb3s_arguments(algo, tmp_path, capsys):
    import io

    model = algo("MlpPolicy", "CartPole-v1", seed=5, **small_kwargs(algo))
    model.save(tmp_path / "model")
    capsys.readouterr()
    # A file object, read from its start wherever it stands, as SB3's load reads it
    buffer = io.BytesIO((tmp_path / "model.zip").read_bytes())
    buffer.seek(7)
    assert isinstance(algo.load(buffer), algo)
    assert capsys.readouterr().out == "", "print_system_info is off by default"
    algo.load(tmp_path / "model", print_system_info=True)
    assert "CURRENT SYSTEM INFO" in capsys.readouterr().out
    loaded = algo.load(tmp_path / "model", custom_objects={"gamma": 0.5}, n_steps=8)
    assert loaded.gamma == 0.5 and loaded.n_steps == 8


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("force_reset", [True, False])
def test_load_applies_the_saved_seed_to_the_env_only_with_force_reset(algo, force_reset, tmp_path):
    model = algo("MlpPolicy", "CartPole-v1", seed=5, **small_kwargs(algo))
    model.save(tmp_path / "model")
    seeded = make_vec_env("CartPole-v1", n_envs=2)
    seeded.seed(5)
    seeded_obs = seeded.reset()
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=2), norm_obs=False, norm_reward=False)
    algo.load(tmp_path / "model", env=env, force_reset=force_reset)
    assert np.array_equal(env.reset(), seeded_obs) == force_reset


@pytest.mark.parametrize("algo", ALGOS)
def test_a_distribution_without_entropy_uses_minus_the_mean_log_probability(algo):
    # gSDE with squashed actions has no closed-form entropy (SB3's entropy() is None): -mean log pi stands in, as in PPO
    kwargs = small_kwargs(algo)
    kwargs["policy_kwargs"] |= dict(squash_output=True)
    model = algo("MlpPolicy", "Pendulum-v1", use_sde=True, seed=0, **kwargs)
    model.learn(64)
    assert np.isfinite(model.logger.name_to_value["train/entropy_loss"])


@pytest.mark.parametrize("algo", ALGOS)
def test_the_update_runs_in_training_mode_and_the_rollout_in_evaluation_mode(algo):
    """As SB3's algorithms do: ``train()`` sets the policy's training mode (dropout, batch norm), the rollout unsets it."""
    model = algo("MlpPolicy", "CartPole-v1", seed=0, **small_kwargs(algo))
    modes = []
    collect_rollouts, train = model.collect_rollouts, model.train

    def recording_collect(*args, **kwargs):
        result = collect_rollouts(*args, **kwargs)
        modes.append(("rollout", model.policy.training))
        return result

    def recording_train():
        train()
        modes.append(("train", model.policy.training))

    model.collect_rollouts, model.train = recording_collect, recording_train  # type: ignore[method-assign]
    model.learn(4 * model.n_steps)
    assert modes[:4] == [("rollout", False), ("train", True), ("rollout", False), ("train", True)]


class SuccessEnv(gym.Env):
    """Episodes of 5 steps, each reporting ``is_success`` at its end, as goal environments do."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, dtype=np.float32), 1.0, self.t == 5, False, {"is_success": self.t == 5}


@pytest.mark.parametrize("algo", ALGOS)
def test_successes_are_counted_at_episode_ends(algo):
    """SB3's ``ep_success_buffer`` (``rollout/success_rate``): one entry per finished episode that reports it."""
    kwargs = small_kwargs(algo, 20)
    model = algo("MlpPolicy", SuccessEnv(), seed=0, **kwargs)
    _, callback = model._setup_learn(10**6, None)
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    assert list(model.ep_success_buffer) == [True] * 4


@pytest.mark.parametrize("algo", ALGOS)
def test_learn_shows_the_progress_bar_it_is_asked_for(algo, monkeypatch):
    """``learn(progress_bar=True)`` adds SB3's ProgressBarCallback, as SB3's algorithms do; without it, none."""
    made = []

    class Bar(BaseCallback):
        def __init__(self):
            super().__init__()
            made.append(self)

        def _on_step(self) -> bool:
            return True

    monkeypatch.setattr(base_class, "ProgressBarCallback", Bar)
    model = algo("MlpPolicy", "CartPole-v1", seed=0, **small_kwargs(algo))
    model.learn(model.n_steps)
    assert made == []
    model.learn(model.n_steps, progress_bar=True)
    assert len(made) == 1 and made[0].n_calls > 0
