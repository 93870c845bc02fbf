"""
The pieces of the four updates: the vanilla policy-gradient step that REINFORCE and VPG share
(``algorithms.md`` sections 2-3), and the small steps every ``train()`` takes.

    grad J ~ mean_t grad log pi(a_t|s_t) * Psi_t

REINFORCE's weights ``Psi_t`` are Monte Carlo returns minus a constant, VPG's are GAE advantages: the step
itself is the same, one gradient step of the policy's optimizer on the whole batch.
"""

import copy
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples
from torch import nn


def flat_actions(actions: th.Tensor, action_space: spaces.Space) -> th.Tensor:
    """:return: the buffer's actions as the policy's distribution takes them: Discrete ones as indices, shape ``(n,)``"""
    return actions.long().flatten() if isinstance(action_space, spaces.Discrete) else actions


def standardized(advantages: th.Tensor, normalize: bool) -> th.Tensor:
    """:return: ``advantages`` less their mean, over their standard deviation, when ``normalize`` and there are two or more"""
    if normalize and len(advantages) > 1:
        return (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    return advantages


def entropy_loss(entropy: th.Tensor | None, log_prob: th.Tensor) -> th.Tensor:
    """:return: minus the mean entropy or, for a distribution without one (squashed gSDE), the mean log-probability"""
    return -th.mean(entropy) if entropy is not None else th.mean(log_prob)


def snapshot(policy: ActorCriticPolicy, observations: th.Tensor | dict[str, th.Tensor]) -> Distribution:
    """:return: the policy's action distribution on ``observations``, a copy that the policy's next call leaves as it is"""
    return copy.copy(policy.get_distribution(observations))


def evaluate(
    policy: ActorCriticPolicy, observations: th.Tensor | dict[str, th.Tensor], actions: th.Tensor
) -> tuple[th.Tensor, th.Tensor, th.Tensor | None, Distribution]:
    """:return: SB3's ``evaluate_actions`` (values, log-probabilities, entropy) and a copy of the distribution it built"""
    values, log_prob, entropy = policy.evaluate_actions(observations, actions)
    return values, log_prob, entropy, copy.copy(policy.action_dist)


class PolicyGradientLosses(NamedTuple):
    """What one policy-gradient step minimised, for the logger."""

    policy_loss: float
    entropy_loss: float


def policy_gradient_step(
    policy: ActorCriticPolicy,
    optimizer: th.optim.Optimizer,
    params: Sequence[nn.Parameter],
    batch: RolloutBufferSamples | DictRolloutBufferSamples,
    action_space: spaces.Space,
    normalize_advantage: bool,
    ent_coef: float,
    max_grad_norm: float | None,
) -> PolicyGradientLosses:
    """
    One gradient step on ``-mean_t log pi(a_t|s_t) * Psi_t - ent_coef * H``, with ``Psi_t`` the batch's ``advantages``.

    Only the actor is evaluated (``get_distribution``): no value is predicted.

    :param policy: the policy
    :param optimizer: the optimizer that steps ``params``
    :param params: the parameters whose gradient norm is clipped (the actor's)
    :param batch: the whole rollout as one batch
    :param action_space: the action space (Discrete actions are stored as floats of shape ``(n, 1)``)
    :param normalize_advantage: standardise ``Psi_t`` over the batch first
    :param ent_coef: entropy coefficient
    :param max_grad_norm: clip the gradient to this norm; ``None`` or ``inf``: no clipping
    :return: the policy and entropy losses
    """
    distribution = policy.get_distribution(batch.observations)
    log_prob = distribution.log_prob(flat_actions(batch.actions, action_space))
    weights = standardized(batch.advantages, normalize_advantage)

    policy_loss = -(log_prob * weights).mean()
    entropy_term = entropy_loss(distribution.entropy(), log_prob)
    loss = policy_loss + ent_coef * entropy_term

    optimizer.zero_grad()
    loss.backward()
    th.nn.utils.clip_grad_norm_(params, max_grad_norm or math.inf)
    optimizer.step()
    return PolicyGradientLosses(policy_loss.item(), entropy_term.item())


def record_std(logger: Logger, policy: ActorCriticPolicy) -> None:  # pragma: no mutate block
    """Log ``train/std``, the mean standard deviation of a Gaussian policy's actions (nothing for other policies)."""
    if hasattr(policy, "log_std"):
        logger.record("train/std", th.exp(policy.log_std).mean().item())
