"""
The vanilla policy-gradient step that REINFORCE and VPG share (``algorithms.md`` sections 2-3).

    grad J ~ mean_t grad log pi(a_t|s_t) * Psi_t

REINFORCE's weights ``Psi_t`` are Monte Carlo returns minus a constant, VPG's are GAE advantages: the step
itself is the same, one gradient step of the policy's optimizer on the whole batch.
"""

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch as th
from gymnasium import spaces
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples
from torch import nn


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
    actions = batch.actions
    if isinstance(action_space, spaces.Discrete):
        actions = actions.long().flatten()
    distribution = policy.get_distribution(batch.observations)
    log_prob = distribution.log_prob(actions)
    entropy = distribution.entropy()

    weights = batch.advantages
    if normalize_advantage and len(weights) > 1:
        weights = (weights - weights.mean()) / (weights.std() + 1e-8)

    policy_loss = -(log_prob * weights).mean()
    entropy_loss = -th.mean(entropy) if entropy is not None else th.mean(log_prob)
    loss = policy_loss + ent_coef * entropy_loss

    optimizer.zero_grad()
    loss.backward()
    th.nn.utils.clip_grad_norm_(params, max_grad_norm or math.inf)
    optimizer.step()
    return PolicyGradientLosses(policy_loss.item(), entropy_loss.item())


def record_std(logger: Logger, policy: ActorCriticPolicy) -> None:  # pragma: no mutate block
    """Log ``train/std``, the mean standard deviation of a Gaussian policy's actions (nothing for other policies)."""
    if hasattr(policy, "log_std"):
        logger.record("train/std", th.exp(policy.log_std).mean().item())
