"""The critic: which parameters are the value function's, and its regression fit (shared by VPG and NPG)."""

from collections.abc import Sequence

import numpy as np
import torch as th
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn
from torch.nn import functional as F

# Parameter-name prefixes of the value function in SB3's ActorCriticPolicy family
_CRITIC_PREFIXES = ("value_net.", "mlp_extractor.value_net.", "vf_features_extractor.")


def split_actor_critic(policy: ActorCriticPolicy) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """
    Split the policy's parameters into those of the actor and those used by the critic alone.

    A features extractor shared by both (``share_features_extractor=True``) belongs to the actor: as in
    sb3-contrib's TRPO, the critic fit does not move it.

    :param policy: a policy of SB3's ``ActorCriticPolicy`` family
    :return: ``(actor_params, critic_params)``
    """
    actor: list[nn.Parameter] = []
    critic: list[nn.Parameter] = []
    for name, param in policy.named_parameters():
        (critic if name.startswith(_CRITIC_PREFIXES) else actor).append(param)
    return actor, critic


def fit_critic(
    policy: ActorCriticPolicy,
    optimizer: th.optim.Optimizer,
    rollout_buffer: RolloutBuffer,
    n_epochs: int,
    batch_size: int,
    frozen_params: Sequence[nn.Parameter] = (),
) -> float:
    """
    Fit V_phi to the buffer's returns by ``n_epochs`` passes of minibatch regression, as sb3-contrib's TRPO does.

    :param policy: the policy whose value head is fitted
    :param optimizer: the optimizer that steps the critic's parameters
    :param rollout_buffer: a buffer whose ``returns`` are the regression targets
    :param n_epochs: number of passes over the buffer (``n_critic_updates``)
    :param batch_size: minibatch size
    :param frozen_params: parameters the fit must not move (the actor's, in particular a shared extractor)
    :return: the mean squared error over all minibatches
    """
    losses = []
    for _ in range(n_epochs):
        for rollout_data in rollout_buffer.get(batch_size):
            values = policy.predict_values(rollout_data.observations).flatten()
            value_loss = F.mse_loss(rollout_data.returns, values)
            optimizer.zero_grad()
            value_loss.backward()
            for param in frozen_params:
                param.grad = None
            optimizer.step()
            losses.append(value_loss.item())
    return float(np.mean(losses))
