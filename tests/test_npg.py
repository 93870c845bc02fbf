"""NPG: the conjugate-gradient direction, the size of the step, and the steps it must not take."""

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib.common.utils import flat_grad
from stable_baselines3.common.distributions import kl_divergence
from stable_baselines3.common.envs import IdentityEnvMultiDiscrete
from stable_baselines3.common.policies import ActorCriticPolicy

import sb3_pg.npg.npg as npg_module
from sb3_pg import NPG
from sb3_pg.common import natural
from sb3_pg.common.critic import split_actor_critic
from sb3_pg.common.natural import NaturalStep, fisher_vector_product_fn, natural_step


def tiny_npg(**kwargs) -> NPG:
    """An NPG on CartPole with a 30-parameter actor, after one collected rollout (not yet trained)."""
    params = dict(n_steps=64, batch_size=32, seed=0, policy_kwargs=dict(net_arch=[4]))
    params.update(kwargs)
    model = NPG("MlpPolicy", "CartPole-v1", **params)
    _, callback = model._setup_learn(model.n_steps, None)
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    return model


def surrogate_and_distributions(model: NPG):
    data = next(model.rollout_buffer.get(batch_size=None))
    actions = data.actions.long().flatten()
    with th.no_grad():
        old_distribution = copy.copy(model.policy.get_distribution(data.observations))
    distribution = model.policy.get_distribution(data.observations)
    log_prob = distribution.log_prob(actions)
    advantages = (data.advantages - data.advantages.mean()) / (data.advantages.std() + 1e-8)
    objective = (th.exp(log_prob - data.old_log_prob) * advantages).mean()
    return data, objective, distribution, old_distribution


def explicit_fisher(model: NPG, observations: th.Tensor) -> th.Tensor:
    """F = mean_s sum_a pi(a|s) grad log pi(a|s) grad log pi(a|s)^T, formed from per-sample scores."""
    actor, _ = split_actor_critic(model.policy)
    n_params = sum(p.numel() for p in actor)
    fisher = th.zeros(n_params, n_params, dtype=th.float64)
    for obs in observations:
        distribution = model.policy.get_distribution(obs[None])
        probs = distribution.distribution.probs[0].detach()
        for action in range(len(probs)):
            log_prob = distribution.log_prob(th.tensor([action]))[0]
            score = th.cat([g.reshape(-1) for g in th.autograd.grad(log_prob, actor, retain_graph=True)]).double()
            fisher += probs[action] * th.outer(score, score)
    return fisher / len(observations)


def test_fisher_vector_product_and_cg_direction_match_explicit_inverse():
    damping = 0.05
    model = tiny_npg()
    actor, _ = split_actor_critic(model.policy)
    n_params = sum(p.numel() for p in actor)
    assert n_params == 30
    data, objective, distribution, old_distribution = surrogate_and_distributions(model)
    gradient = th.cat([g.reshape(-1) for g in th.autograd.grad(objective, actor, retain_graph=True)])
    fvp = fisher_vector_product_fn(distribution, old_distribution, actor, damping)

    fisher = explicit_fisher(model, data.observations) + damping * th.eye(n_params, dtype=th.float64)
    vector = th.randn(n_params)
    np.testing.assert_allclose(fvp(vector).numpy(), (fisher @ vector.double()).numpy(), rtol=1e-4, atol=1e-6)

    result = natural_step(gradient, fvp, cg_max_steps=n_params, target_kl=0.01)
    assert result.skipped is None and result.step is not None
    direction = result.step.double() / result.step_size
    exact = th.linalg.solve(fisher, gradient.double())
    cosine = float(direction @ exact / (direction.norm() * exact.norm()))
    assert cosine > 0.999
    np.testing.assert_allclose(direction.norm().item(), exact.norm().item(), rtol=0.02)
    assert result.step_size == pytest.approx(np.sqrt(2 * 0.01 / float(direction @ fisher @ direction)), rel=0.02)
    assert result.cg_residual < 0.05


@pytest.mark.parametrize(
    ("action_space", "use_sde"),
    [
        (spaces.Discrete(5), False),
        (spaces.Box(-1, 1, (3,)), False),
        (spaces.Box(-1, 1, (3,)), True),
        (spaces.MultiDiscrete([3, 4, 2]), False),
        (spaces.MultiBinary(4), False),
    ],
    ids=["Categorical", "DiagGaussian", "StateDependentNoise", "MultiCategorical", "Bernoulli"],
)
def test_gauss_newton_product_equals_the_hessian_of_the_kl(action_space, use_sde):
    """The J^T M J product equals differentiating the KL twice (sb3-contrib TRPO's product), on every distribution."""
    th.manual_seed(0)
    observation_space = spaces.Box(-1, 1, (5,))
    policy = ActorCriticPolicy(observation_space, action_space, lambda _: 1e-3, net_arch=[8], use_sde=use_sde)
    if hasattr(policy, "log_std"):
        with th.no_grad():
            policy.log_std.uniform_(-1.0, 0.5)
    if use_sde:
        policy.reset_noise(64)
    observations = th.rand(64, 5) * 2 - 1
    params = [p for name, p in policy.named_parameters() if "value" not in name]
    with th.no_grad():
        old_distribution = copy.copy(policy.get_distribution(observations))
    distribution = policy.get_distribution(observations)
    gauss_newton = fisher_vector_product_fn(distribution, old_distribution, params, damping=0.0)

    grad_kl = flat_grad(kl_divergence(distribution, old_distribution).mean(), params, create_graph=True, retain_graph=True)
    for _ in range(3):
        vector = th.randn(sum(p.numel() for p in params))
        double_backprop = flat_grad(grad_kl @ vector, params, retain_graph=True)
        np.testing.assert_allclose(gauss_newton(vector).numpy(), double_backprop.numpy(), rtol=1e-4, atol=1e-6)
    assert double_backprop.abs().max() > 1e-3


@pytest.mark.parametrize("target_kl", [0.001, 0.01])
def test_measured_kl_of_a_step_is_close_to_target_kl(target_kl):
    model = tiny_npg(target_kl=target_kl, cg_damping=0.01, cg_max_steps=30)
    data = next(model.rollout_buffer.get(batch_size=None))
    with th.no_grad():
        before = [p.detach().clone() for p in split_actor_critic(model.policy)[0]]
        old_distribution = th.distributions.Categorical(
            probs=model.policy.get_distribution(data.observations).distribution.probs.clone()
        )
    model.train()
    with th.no_grad():
        new_distribution = model.policy.get_distribution(data.observations).distribution
        measured = th.distributions.kl_divergence(old_distribution, new_distribution).mean().item()
        step = th.cat([(p - q).flatten() for p, q in zip(split_actor_critic(model.policy)[0], before, strict=True)])
    assert step.abs().max() > 0
    # The step solves s^T (F + damping I) s / 2 = target_kl: the KL's quadratic model is target_kl less the damping's share
    quadratic_kl = target_kl - 0.5 * model.cg_damping * step.square().sum().item()
    assert 0.2 * target_kl < quadratic_kl <= target_kl
    assert abs(measured - quadratic_kl) <= 0.1 * quadratic_kl, (measured, quadratic_kl)
    assert model.logger.name_to_value["train/kl_divergence"] == pytest.approx(measured, rel=0.3)


def test_fixed_step_size_option():
    fisher = th.tensor([[2.0, 0.5], [0.5, 1.0]])
    gradient = th.tensor([1.0, -2.0])
    exact = th.linalg.solve(fisher, gradient)
    fixed = natural_step(gradient, lambda v: fisher @ v, cg_max_steps=2, target_kl=0.01, step_size=0.3)
    np.testing.assert_allclose(fixed.step.numpy(), (0.3 * exact).numpy(), rtol=1e-4)
    normalised = natural_step(gradient, lambda v: fisher @ v, cg_max_steps=2, target_kl=0.01)
    scale = np.sqrt(2 * 0.01 / float(exact @ fisher @ exact))
    np.testing.assert_allclose(normalised.step.numpy(), (scale * exact).numpy(), rtol=1e-4)
    # 0.5 * step^T F step is exactly target_kl for a quadratic KL
    assert 0.5 * float(normalised.step @ fisher @ normalised.step) == pytest.approx(0.01, rel=1e-4)


def actor_snapshot(model: NPG) -> list[th.Tensor]:
    return [p.detach().clone() for p in split_actor_critic(model.policy)[0]]


def assert_actor_unchanged(model: NPG, before: list[th.Tensor]) -> None:
    after = split_actor_critic(model.policy)[0]
    for p, q in zip(after, before, strict=True):
        assert th.equal(p, q)
        assert th.isfinite(p).all()


def test_zero_advantages_skip_the_step():
    model = tiny_npg()
    model.rollout_buffer.advantages[:] = 0.0
    before = actor_snapshot(model)
    with pytest.warns(UserWarning, match="zero policy gradient"):
        model.train()
    assert_actor_unchanged(model, before)
    logged = model.logger.name_to_value
    assert logged["train/step_skipped"] == 1
    assert logged["train/kl_divergence"] == logged["train/predicted_kl"] == 0.0, "no step, no KL"


@pytest.mark.parametrize(
    ("fvp", "reason"),
    [(lambda v: -v, "<= 0"), (lambda v: 0.0 * v, "non-finite"), (lambda v: v * float("nan"), "non-finite")],
)
def test_degenerate_fisher_skips_the_step(monkeypatch, fvp, reason):
    monkeypatch.setattr(npg_module, "fisher_vector_product_fn", lambda *args: fvp)
    model = tiny_npg()
    before = actor_snapshot(model)
    with pytest.warns(UserWarning, match=reason):
        model.train()
    assert_actor_unchanged(model, before)


def test_npg_takes_no_line_search_and_no_rejected_step():
    # A deliberately huge target_kl: TRPO would backtrack, NPG takes the full natural step
    model = tiny_npg(target_kl=1.0)
    model.train()
    assert model.logger.name_to_value["train/step_skipped"] == 0
    assert model.logger.name_to_value["train/kl_divergence"] > 0.2


def explicit_solution(model: NPG, gradient: th.Tensor, damping: float) -> th.Tensor:
    """F^-1 g with F formed column by column from the Fisher-vector product, and solved exactly."""
    _, _, distribution, old_distribution = surrogate_and_distributions(model)
    actor, _ = split_actor_critic(model.policy)
    fvp = fisher_vector_product_fn(distribution, old_distribution, actor, damping)
    n_params = gradient.numel()
    fisher = th.stack([fvp(column) for column in th.eye(n_params)], dim=1).double()
    return th.linalg.solve(fisher, gradient.double()).float()


@pytest.mark.parametrize("gradient_norm", [1e-6, 1e-8])
def test_a_tiny_gradient_is_solved_as_accurately_as_a_large_one(gradient_norm):
    # sb3-contrib's solver starts from 1e-4 * randn with an absolute tolerance: on a tiny g its "solution" was the noise
    model = tiny_npg(policy_kwargs=dict(net_arch=[32, 32]))  # about 1,300 actor parameters
    _, _, distribution, old_distribution = surrogate_and_distributions(model)
    actor, _ = split_actor_critic(model.policy)
    gradient = th.randn(sum(p.numel() for p in actor), generator=th.Generator().manual_seed(0))
    gradient *= gradient_norm / gradient.norm()
    fvp = fisher_vector_product_fn(distribution, old_distribution, actor, model.cg_damping)
    result = natural_step(gradient, fvp, model.cg_max_steps, model.target_kl)
    if result.step is None:  # a step that cannot be trusted is skipped, and says why
        assert result.skipped
        return
    exact = explicit_solution(model, gradient, model.cg_damping)
    cosine = float(result.step @ exact / (result.step.norm() * exact.norm()))
    assert cosine >= 0.99, cosine
    assert result.cg_residual < 1.0


def test_an_untrustworthy_solve_is_skipped():
    # One CG iteration on an ill-conditioned F leaves a residual larger than g: no step is better than a wrong one
    fisher = th.diag(th.logspace(0, 3, 50))
    gradient = th.ones(50)
    result = natural_step(gradient, lambda v: fisher @ v, cg_max_steps=1, target_kl=0.01)
    assert result.step is None
    assert result.cg_residual >= 1.0 and "residual" in result.skipped
    # Given enough iterations, the same problem is solved and stepped
    solved = natural_step(gradient, lambda v: fisher @ v, cg_max_steps=100, target_kl=0.01)
    assert solved.step is not None and solved.cg_residual < 1e-3


def test_step_size_option_through_train():
    # Same seed, same rollout, same x = F^-1 g: the parameter change is step_size * x, linear in step_size
    changes = []
    for step_size in (0.05, 0.1):
        model = tiny_npg(step_size=step_size)
        before = th.cat([p.detach().reshape(-1).clone() for p in split_actor_critic(model.policy)[0]])
        model.train()
        after = th.cat([p.detach().reshape(-1) for p in split_actor_critic(model.policy)[0]])
        changes.append(after - before)
        assert model.logger.name_to_value["train/step_size"] == step_size
    assert changes[0].norm() > 0
    np.testing.assert_allclose(changes[1].numpy(), 2 * changes[0].numpy(), rtol=1e-4, atol=1e-7)


def test_sub_sampling_dict_observations():
    from stable_baselines3.common.envs import SimpleMultiObsEnv

    model = NPG("MultiInputPolicy", SimpleMultiObsEnv(random_start=False), n_steps=64, batch_size=32, sub_sampling_factor=2)
    model.learn(128)
    assert model.logger.name_to_value["train/step_skipped"] == 0


def test_sub_sampling_takes_the_gradient_on_the_whole_batch(monkeypatch):
    # TRPO paper, appendix C.1: the Fisher products on every k-th state, the gradient g on all of them
    seen = {}

    def spy(gradient, fisher_vector_product, *args, **kwargs):
        seen["gradient"] = gradient.detach().clone()
        return natural_step(gradient, fisher_vector_product, *args, **kwargs)

    monkeypatch.setattr(npg_module, "natural_step", spy)
    model = tiny_npg(sub_sampling_factor=4)
    _, objective, _, _ = surrogate_and_distributions(model)  # on the whole rollout
    full_batch_gradient = flat_grad(objective, split_actor_critic(model.policy)[0])
    model.train()
    np.testing.assert_allclose(seen["gradient"].numpy(), full_batch_gradient.numpy(), rtol=1e-5, atol=1e-7)


def test_an_actor_parameter_without_gradient_gets_zero():
    class PolicyWithUnusedParameter(ActorCriticPolicy):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.unused = th.nn.Parameter(th.ones(3))  # in the actor's parameter list, in no computation

    model = NPG(PolicyWithUnusedParameter, "CartPole-v1", n_steps=64, batch_size=32, seed=0)
    model.learn(128)
    assert model.logger.name_to_value["train/step_skipped"] == 0
    assert th.equal(model.policy.unused.detach(), th.ones(3))


class SixDimensionalBoxEnv(gym.Env):
    """A 6-D Box action space whose reward is the negative distance of the action to the observation."""

    observation_space = spaces.Box(-1, 1, shape=(6,), dtype=np.float32)
    action_space = spaces.Box(-1, 1, shape=(6,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.obs = 0, self.np_random.uniform(-1, 1, 6).astype(np.float32)
        return self.obs, {}

    def step(self, action):
        reward = -float(np.square(action - self.obs).sum())
        self.t += 1
        self.obs = self.np_random.uniform(-1, 1, 6).astype(np.float32)
        return self.obs, reward, False, self.t == 50, {}


@pytest.mark.parametrize(
    "env",
    ["CartPole-v1", SixDimensionalBoxEnv(), IdentityEnvMultiDiscrete(4, ep_length=50)],
    ids=["discrete", "box6", "multidiscrete"],
)
def test_the_kl_of_a_step_is_what_the_docstring_says(env):
    # At the default cg_damping, target_kl and cg_max_steps: the step's KL is, to second order,
    # 1/2 s^T F s = target_kl - cg_damping / 2 ||s||^2 (logged as train/predicted_kl), below target_kl
    model = NPG("MlpPolicy", env, n_steps=512, seed=0)
    measured, predicted = [], []
    for _ in range(4):
        model.learn(512, reset_num_timesteps=False)
        measured.append(model.logger.name_to_value["train/kl_divergence"])
        predicted.append(model.logger.name_to_value["train/predicted_kl"])
    ratio = np.median(np.array(measured) / np.array(predicted))
    assert 0.75 <= ratio <= 1.25, (measured, predicted)
    assert max(predicted) < model.target_kl


G = th.tensor([3.0, 4.0])
ORTHOGONAL = th.tensor([4.0, -3.0])  # to G
NOT_ASCENT = "g^T x <= 0: x = F^-1 g is not an ascent direction"


@pytest.mark.parametrize(
    ("gradient", "solved", "expected"),
    [
        (th.zeros(2), None, NaturalStep(None, 0.0, 0.0, 0.0, "zero policy gradient")),
        (th.tensor([1.0, float("nan")]), None, NaturalStep(None, 0.0, 0.0, 0.0, "non-finite policy gradient")),
        (G, (th.tensor([float("inf"), 0.0]), G, 0.5), "non-finite conjugate-gradient solution"),
        (G, (G, th.tensor([float("nan"), 0.0]), 0.5), "non-finite conjugate-gradient solution"),
        (G, (G, th.zeros(2), 0.5), NaturalStep(None, 0.0, 0.0, 0.5, "x^T F x = 0 <= 0")),
        (G, (-G, -G, 0.5), NaturalStep(None, 0.0, 25.0, 0.5, "g^T x <= 0: x = F^-1 g is not an ascent direction")),
        # x orthogonal to g: g^T x = 0 exactly, no ascent either
        (
            G,
            (ORTHOGONAL, ORTHOGONAL, 0.5),
            NaturalStep(None, 0.0, 25.0, 0.5, "g^T x <= 0: x = F^-1 g is not an ascent direction"),
        ),
        (G, (G, G, 1.0), NaturalStep(None, 0.0, 25.0, 1.0, "conjugate-gradient residual 1 >= 1")),
    ],
)
def test_each_untrustworthy_solve_is_skipped_with_its_reason(monkeypatch, gradient, solved, expected):
    monkeypatch.setattr(natural, "solve_fisher", lambda *args: solved)
    result = natural_step(gradient, lambda v: v, 10, 0.01)
    if isinstance(expected, str):  # x^T F x is not finite, and NaN != NaN: each field on its own
        assert result.step is None and result.step_size == 0.0 and result.skipped == expected
        assert result.cg_residual == 0.5 and not math.isfinite(result.quadratic_form)
    else:
        assert result == expected


def test_a_trusted_solve_steps_by_the_kl_normalised_scale(monkeypatch):
    monkeypatch.setattr(natural, "solve_fisher", lambda *args: (G, 2 * G, 0.25))
    result = natural_step(G, lambda v: v, 10, 0.01)
    scale = (2 * 0.01 / 50.0) ** 0.5  # x^T F x = 2 |g|^2 = 50
    assert result.step_size == pytest.approx(scale) and result.quadratic_form == 50.0 and result.cg_residual == 0.25
    th.testing.assert_close(result.step, scale * G)
    fixed = natural_step(G, lambda v: v, 10, 0.01, step_size=0.3)
    assert fixed.step_size == 0.3
    th.testing.assert_close(fixed.step, 0.3 * G)
