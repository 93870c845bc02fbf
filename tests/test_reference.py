"""Each algorithm's train() against a hand-written reference of its update (tests/reference.py), at moved parameters."""

import numpy as np
import pytest
import reference
import torch as th
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.env_util import make_vec_env
from test_klppo import BoxActionsEnv

from sb3_pg import KLPPO, NPG, REINFORCE, VPG

# Box actions in episodes of 20 steps: REINFORCE needs episodes that end
ENVS = {"discrete": "CartPole-v1", "box": lambda: TimeLimit(BoxActionsEnv(), max_episode_steps=20)}


def make(algo: type, env: str, **kwargs):
    venv = make_vec_env(ENVS[env], n_envs=2, seed=0)
    model = algo("MlpPolicy", venv, policy_kwargs=dict(net_arch=[8]), seed=0, **kwargs)
    # Move the policy away from its initialisation so that no term of the loss sits at a special point
    with th.no_grad():
        generator = th.Generator().manual_seed(1)
        for param in model.policy.parameters():
            param.add_(0.3 * th.randn(param.shape, generator=generator))
    reference.collect(model)
    return model


def check(model, expected_params: dict, expected_logged: dict, seed: int = 123, rtol: float = 1e-4) -> None:
    np.random.seed(seed)
    model.train()
    for name, param in model.policy.named_parameters():
        np.testing.assert_allclose(param.detach().numpy(), expected_params[name], rtol=rtol, atol=rtol, err_msg=name)
    logged = model.logger.name_to_value
    if hasattr(model.policy, "log_std"):  # a Gaussian policy's mean standard deviation after the update
        expected_std = np.exp(expected_params["log_std"]).mean()  # in NumPy's float32, not torch's: to 1e-6
        assert logged["train/std"] == pytest.approx(expected_std, rel=max(rtol, 1e-6))
    for name, value in expected_logged.items():
        assert logged[name] == pytest.approx(value, rel=rtol, abs=rtol), name


def reference_of(model, train) -> tuple:
    np.random.seed(123)
    return train(model)


@pytest.mark.parametrize("env", ["discrete", "box"])
@pytest.mark.parametrize("clip_range", [None, 0.1, lambda progress: 0.2 * progress])
@pytest.mark.parametrize("kl_coef_update", ["adaptive", "dual", "fixed"])
def test_klppo_train_is_the_penalised_surrogate(env, clip_range, kl_coef_update):
    model = make(
        KLPPO,
        env,
        n_steps=32,
        batch_size=16,
        n_epochs=3,
        learning_rate=0.03,
        kl_coef=0.7,
        kl_coef_update=kl_coef_update,
        clip_range=clip_range,
        ent_coef=0.05,
        vf_coef=0.4,
        max_grad_norm=0.3,
        target_kl=0.01,
    )
    model._current_progress_remaining = 0.5  # a clip_range schedule is read at the progress of the update
    params, logged = reference_of(model, reference.klppo_train)
    # The test could fail: the policy moved, the penalty acted and clipped ratios, if any, occurred
    assert logged["train/kl_divergence"] > 1e-3 and logged["train/kl_penalty"] > 1e-4
    if clip_range is not None:
        assert logged["train/clip_fraction"] > 0
    expected_kl_coef = reference.next_kl_coef(model, logged["train/kl_divergence"])
    check(model, params, logged)
    assert model.kl_coef == pytest.approx(expected_kl_coef, rel=1e-5, abs=1e-5)
    if kl_coef_update == "dual":
        assert model.kl_coef != 0.7


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [
        (KLPPO, dict(n_steps=8, batch_size=2, n_epochs=2)),  # minibatches of two standardised advantages
        (KLPPO, dict(n_steps=8, batch_size=5, n_epochs=2)),  # and a last minibatch of one, used as it is
        (KLPPO, dict(n_steps=16, batch_size=8, normalize_advantage=False)),
        (NPG, dict(n_steps=16, batch_size=8, normalize_advantage=False)),
        (VPG, dict(n_steps=16, batch_size=8, normalize_advantage=False)),
        (REINFORCE, dict(n_steps=16, normalize_advantage=False)),
    ],
)
def test_advantages_are_standardised_as_asked(algo, kwargs):
    model = make(algo, "box", learning_rate=0.05, **kwargs)
    train = {KLPPO: reference.klppo_train, NPG: reference.npg_train, VPG: reference.vpg_train}.get(
        algo, reference.reinforce_train
    )
    check(model, *reference_of(model, train), rtol=1e-4)


@pytest.mark.parametrize("env", ["discrete", "box"])
@pytest.mark.parametrize("max_grad_norm", [0.05, None])
def test_reinforce_train_is_one_policy_gradient_step(env, max_grad_norm):
    model = make(REINFORCE, env, n_steps=40, learning_rate=0.05, ent_coef=0.05, max_grad_norm=max_grad_norm)
    check(model, *reference_of(model, reference.reinforce_train))


@pytest.mark.parametrize("env", ["discrete", "box"])
@pytest.mark.parametrize("max_grad_norm", [0.05, None])
def test_vpg_train_is_a_policy_gradient_step_then_the_critic_fit(env, max_grad_norm):
    model = make(
        VPG,
        env,
        n_steps=32,
        batch_size=16,
        n_critic_updates=3,
        learning_rate=0.05,
        vf_learning_rate=0.02,
        ent_coef=0.05,
        max_grad_norm=max_grad_norm,
    )
    check(model, *reference_of(model, reference.vpg_train))


@pytest.mark.parametrize("env", ["discrete", "box"])
@pytest.mark.parametrize("sub_sampling_factor", [1, 3])
def test_npg_train_is_the_exact_natural_step_then_the_critic_fit(env, sub_sampling_factor):
    model = make(
        NPG,
        env,
        n_steps=32,
        batch_size=16,
        n_critic_updates=3,
        cg_max_steps=200,
        cg_damping=0.05,
        target_kl=0.02,
        sub_sampling_factor=sub_sampling_factor,
    )
    check(model, *reference_of(model, reference.npg_train), rtol=1e-4)


@pytest.mark.parametrize("algo", [REINFORCE, VPG, KLPPO])
def test_a_tight_gradient_clip_binds(algo):
    # The references clip as the algorithms must; this checks that the clip in the tests above was binding
    kwargs = dict(n_steps=32, learning_rate=0.05) | ({} if algo is REINFORCE else dict(batch_size=16))
    free, clipped = make(algo, "discrete", max_grad_norm=None, **kwargs), make(algo, "discrete", max_grad_norm=0.05, **kwargs)
    np.random.seed(0)
    free.train()
    np.random.seed(0)
    clipped.train()
    pairs = zip(free.policy.parameters(), clipped.policy.parameters(), strict=True)
    assert max(np.abs(a.detach().numpy() - b.detach().numpy()).max() for a, b in pairs) > 1e-4


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [
        (REINFORCE, {}),
        (VPG, dict(batch_size=16)),
        (NPG, dict(batch_size=16)),
        (KLPPO, dict(batch_size=16, kl_coef_update="adaptive", target_kl=1e-6)),
        (KLPPO, dict(batch_size=16, kl_coef_update="dual", kl_coef_lr=7.0)),
        (KLPPO, dict(batch_size=16, kl_coef_update="fixed", kl_coef=0.3, target_kl=None, clip_range=0.25)),
    ],
)
def test_a_loaded_model_updates_exactly_as_the_saved_one(algo, kwargs, tmp_path):
    # Every learned state (beta, the optimizers' moments, the critic's optimizer) and every setting is restored
    model = make(algo, "box", n_steps=32, **kwargs)
    model.learn(128, reset_num_timesteps=False)
    model.save(tmp_path / "model")
    loaded = algo.load(tmp_path / "model", env=model.get_env())
    for name in ("kl_coef", "kl_coef_update", "kl_coef_lr", "target_kl", "clip_range", "n_critic_updates", "batch_size"):
        assert getattr(loaded, name, None) == getattr(model, name, None), name
    if algo is KLPPO and model.kl_coef_update == "adaptive":
        assert model.kl_coef == 4.0, "beta doubled on each of the two rollouts"
    reference.collect(model)
    loaded.rollout_buffer = model.rollout_buffer
    loaded._logger = model.logger
    np.random.seed(5)
    loaded.train()
    # NPG's conjugate gradient starts from torch's random noise: equal to float32 precision, not bit for bit
    check(model, reference.params_of(loaded.policy), {}, seed=5, rtol=1e-5 if algo is NPG else 0)
    if algo is KLPPO:
        assert loaded.kl_coef == model.kl_coef
