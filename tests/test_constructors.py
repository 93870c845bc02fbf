"""Every constructor argument reaches the model, the defaults are the documented ones, and edge values are valid."""

import inspect

import pytest
import torch as th
from conftest import ALGOS
from stable_baselines3.common.buffers import RolloutBuffer

from sb3_pg import KLPPO, NPG, REINFORCE, VPG
from sb3_pg.common.buffers import EpisodicRolloutBuffer


class TaggedBuffer(RolloutBuffer):
    def __init__(self, *args, tag: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag


class TaggedEpisodicBuffer(EpisodicRolloutBuffer):
    def __init__(self, *args, tag: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag


# A valid value other than the default for every constructor argument of the four algorithms
OTHER = dict(
    learning_rate=1.5e-3,
    n_steps=48,
    batch_size=24,
    n_epochs=3,
    gamma=0.95,
    gae_lambda=0.9,
    target_kl=0.02,
    kl_coef=0.5,
    kl_coef_update="dual",
    kl_coef_lr=5.0,
    clip_range=0.3,
    normalize_advantage=False,
    ent_coef=0.01,
    vf_coef=0.25,
    max_grad_norm=2.0,
    use_sde=True,
    sde_sample_freq=4,
    rollout_buffer_kwargs=dict(tag="mine"),
    fast_rollout=False,
    stats_window_size=7,
    tensorboard_log="runs/tb",
    policy_kwargs=dict(net_arch=[8]),
    verbose=2,
    seed=3,
    vf_learning_rate=2e-3,
    n_critic_updates=3,
    cg_max_steps=7,
    cg_damping=0.2,
    step_size=0.05,
    sub_sampling_factor=2,
    reward_to_go=False,
    baseline="none",
    max_episode_steps=500,
)
# Where the model keeps an argument under another name
STORED_AS = {"stats_window_size": "_stats_window_size"}
# The documented defaults (the docstrings, the README): SB3's PPO's for KLPPO, sb3-contrib's TRPO's for NPG
DEFAULTS = {
    REINFORCE: dict(
        learning_rate=3e-3, n_steps=1000, gamma=0.99, reward_to_go=True, baseline="mean", max_episode_steps=10_000
    ),
    VPG: dict(learning_rate=3e-3, n_steps=512, batch_size=64, gamma=0.99, gae_lambda=0.97, vf_learning_rate=1e-3),
    NPG: dict(learning_rate=1e-3, n_steps=2048, batch_size=256, gamma=0.99, gae_lambda=0.95, target_kl=0.01),
    KLPPO: dict(learning_rate=3e-4, n_steps=2048, batch_size=64, n_epochs=10, gamma=0.99, gae_lambda=0.95, target_kl=0.01),
}
DEFAULTS[VPG] |= dict(n_critic_updates=10, max_grad_norm=0.5, ent_coef=0.0)
DEFAULTS[NPG] |= dict(cg_max_steps=15, cg_damping=0.1, n_critic_updates=5, step_size=None, sub_sampling_factor=1)
DEFAULTS[KLPPO] |= dict(kl_coef=1.0, kl_coef_update="adaptive", kl_coef_lr=50.0, clip_range=None, vf_coef=0.5, ent_coef=0.0)
DEFAULTS[KLPPO] |= dict(max_grad_norm=0.5)
DEFAULTS[REINFORCE] |= dict(max_grad_norm=0.5, ent_coef=0.0)
for defaults in DEFAULTS.values():
    defaults |= dict(normalize_advantage=True, use_sde=False, sde_sample_freq=-1, stats_window_size=100, verbose=0)
    defaults |= dict(fast_rollout=True)


def arguments(algo: type) -> list[str]:
    return [
        name for name in inspect.signature(algo).parameters if name not in ("policy", "env", "device", "_init_setup_model")
    ]


@pytest.mark.parametrize("algo", ALGOS)
def test_every_argument_reaches_the_model(algo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {name: OTHER[name] for name in arguments(algo) if name != "rollout_buffer_class"}
    kwargs["rollout_buffer_class"] = TaggedEpisodicBuffer if algo is REINFORCE else TaggedBuffer
    model = algo("MlpPolicy", "Pendulum-v1", **kwargs)
    for name, value in kwargs.items():
        if name == "rollout_buffer_kwargs":
            assert model.rollout_buffer.tag == "mine"
        elif name == "rollout_buffer_class":
            assert type(model.rollout_buffer) is value
        elif name == "policy_kwargs":
            assert model.policy.net_arch == [8]
        else:
            assert getattr(model, STORED_AS.get(name, name)) == value, name
    assert model.policy.use_sde and model.lr_schedule(1.0) == pytest.approx(1.5e-3)
    model.learn(96)  # and it trains with all of them


@pytest.mark.parametrize("algo", ALGOS)
def test_defaults_are_the_documented_ones(algo):
    expected = DEFAULTS[algo]
    assert set(expected) == set(arguments(algo)) - {"rollout_buffer_class", "rollout_buffer_kwargs", "tensorboard_log"} - {
        "policy_kwargs",
        "seed",
    }
    model = algo("MlpPolicy", "Pendulum-v1")
    for name, value in expected.items():
        assert getattr(model, STORED_AS.get(name, name)) == value, name
    assert model.device == th.device("cpu") and model.seed is None and model.tensorboard_log is None
    if algo is NPG:  # no entropy bonus, no joint value loss, no gradient clipping: its step is the trust region's
        assert model.ent_coef == model.vf_coef == model.max_grad_norm == 0.0


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [
        (KLPPO, dict(batch_size=2, n_steps=4)),  # two steps are enough to standardise advantages
        (VPG, dict(batch_size=2, n_steps=4)),
        (NPG, dict(batch_size=2, n_steps=4)),
        (KLPPO, dict(kl_coef_lr=0.5, kl_coef_update="dual")),
        (KLPPO, dict(kl_coef=0.0, kl_coef_update="fixed", target_kl=None)),
        (REINFORCE, dict(max_episode_steps=1)),
    ],
)
def test_edge_values_are_valid(algo, kwargs):
    algo("MlpPolicy", "Pendulum-v1", **kwargs).learn(8)


@pytest.mark.parametrize("algo", [VPG, NPG, KLPPO])
def test_a_one_step_rollout_warns_only_when_advantages_are_standardised(algo, recwarn):
    with pytest.warns(UserWarning, match="a single advantage cannot be standardised"):
        algo("MlpPolicy", "Pendulum-v1", n_steps=1, batch_size=2)
    recwarn.clear()
    algo("MlpPolicy", "Pendulum-v1", n_steps=1, batch_size=2, normalize_advantage=False)
    assert not [w for w in recwarn if "standardised" in str(w.message)]
