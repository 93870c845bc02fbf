"""
Hand-written references of each algorithm's update, written from ``docs/algorithms.md`` and not from sb3_pg's code.

Only the networks are SB3's (the policy's forward pass, its optimizer, torch's gradient clipping): log-probabilities,
entropies, KL divergences, losses, the minibatch loop and the natural step are computed here from their formulas.
Each reference consumes NumPy's global RNG in the order SB3's buffers do (``RolloutBuffer.get`` draws one permutation
per call), so that with the same seed it sees the same minibatches as the algorithm.
"""

import copy
import math
from collections import defaultdict
from typing import Any

import numpy as np
import torch as th

from sb3_pg import KLPPO, NPG, REINFORCE, VPG
from sb3_pg.common.critic import split_actor_critic

LOG_2PI = math.log(2 * math.pi)


def flat(array: np.ndarray) -> np.ndarray:
    """``[step, env, ...]`` to ``[env * step, ...]``, as SB3's ``swap_and_flatten``"""
    return array.swapaxes(0, 1).reshape(-1, *array.shape[2:])


def rollout(model: Any) -> dict[str, th.Tensor]:
    """The model's rollout buffer as flat tensors (REINFORCE's: its stored steps only)."""
    buffer = model.rollout_buffer
    data = {
        name: th.as_tensor(flat(getattr(buffer, name)), dtype=th.float32)
        for name in ("observations", "actions", "log_probs", "advantages", "returns", "values")
    }
    if isinstance(model, REINFORCE):
        active = flat(buffer.active)
        data = {name: value[th.as_tensor(active)] for name, value in data.items()}
    data["log_probs"] = data["log_probs"].flatten()
    data["advantages"] = data["advantages"].flatten()
    data["returns"] = data["returns"].flatten()
    return data


def collect(model: Any) -> None:
    """Fill the model's rollout buffer once, without training."""
    _, callback = model._setup_learn(model.n_steps * model.n_envs, None)
    callback.on_training_start(locals(), globals())
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


def outputs(policy: Any, observations: th.Tensor) -> tuple[th.Tensor, th.Tensor | None]:
    """:return: the logits (Discrete) or the mean and log-std (Box) of the policy's action distribution"""
    features = policy.extract_features(observations, policy.pi_features_extractor)
    out = policy.action_net(policy.mlp_extractor.forward_actor(features))
    return (out, policy.log_std.expand_as(out)) if hasattr(policy, "log_std") else (out, None)


def log_prob(out: tuple[th.Tensor, th.Tensor | None], actions: th.Tensor) -> th.Tensor:
    first, log_std = out
    if log_std is None:  # Categorical: log softmax of the logits at the action
        return th.log_softmax(first, dim=-1).gather(1, actions.long().reshape(-1, 1)).flatten()
    # Diagonal Gaussian: the sum over dimensions of -(a - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2
    return (-((actions - first) ** 2) / (2 * th.exp(2 * log_std)) - log_std - LOG_2PI / 2).sum(dim=1)


def entropy(out: tuple[th.Tensor, th.Tensor | None]) -> th.Tensor:
    first, log_std = out
    if log_std is None:
        log_p = th.log_softmax(first, dim=-1)
        return -(log_p.exp() * log_p).sum(dim=1)
    return (0.5 + LOG_2PI / 2 + log_std).sum(dim=1)


def kl_per_dimension(old: tuple[th.Tensor, th.Tensor | None], new: tuple[th.Tensor, th.Tensor | None]) -> th.Tensor:
    """:return: KL(old || new), shape ``(batch,)`` (Categorical) or ``(batch, dims)`` (diagonal Gaussian)"""
    (old_first, old_log_std), (new_first, new_log_std) = old, new
    if old_log_std is None:
        log_old, log_new = th.log_softmax(old_first, dim=-1), th.log_softmax(new_first, dim=-1)
        return (log_old.exp() * (log_old - log_new)).sum(dim=1)
    assert new_log_std is not None
    var_old, var_new = th.exp(2 * old_log_std), th.exp(2 * new_log_std)
    return new_log_std - old_log_std + (var_old + (old_first - new_first) ** 2) / (2 * var_new) - 0.5


def kl_per_state(old: tuple[th.Tensor, th.Tensor | None], new: tuple[th.Tensor, th.Tensor | None]) -> th.Tensor:
    kl = kl_per_dimension(old, new)
    return kl.sum(dim=1) if kl.dim() > 1 else kl


def standardise(weights: th.Tensor) -> th.Tensor:
    """Subtract the mean, divide by the standard deviation; a single weight is left as it is."""
    return (weights - weights.mean()) / (weights.std() + 1e-8) if len(weights) > 1 else weights


def params_of(policy: Any) -> dict[str, np.ndarray]:
    return {name: param.detach().numpy().copy() for name, param in policy.named_parameters()}


def fit_critic(policy: Any, optimizer: th.optim.Optimizer, data: dict, n_epochs: int, batch_size: int) -> list[float]:
    """n_epochs passes of minibatch regression of V on the returns; the actor's gradients are dropped."""
    actor, _ = split_actor_critic(policy)
    losses = []
    for _ in range(n_epochs):
        order = np.random.permutation(len(data["returns"]))
        for start in range(0, len(order), batch_size):
            rows = th.as_tensor(order[start : start + batch_size])
            loss = ((policy.predict_values(data["observations"][rows]).flatten() - data["returns"][rows]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            for param in actor:
                param.grad = None
            optimizer.step()
            losses.append(loss.item())
    return losses


def policy_gradient_step(model: Any, policy: Any, data: dict, params: list) -> dict[str, float]:
    """One step on -mean_t log pi(a_t|s_t) Psi_t - ent_coef * mean_t H, Psi_t the advantages; clipped over params."""
    out = outputs(policy, data["observations"])
    weights = standardise(data["advantages"]) if model.normalize_advantage else data["advantages"]
    policy_loss = -(log_prob(out, data["actions"]) * weights).mean()
    entropy_loss = -entropy(out).mean()
    policy.optimizer.zero_grad()
    (policy_loss + model.ent_coef * entropy_loss).backward()
    th.nn.utils.clip_grad_norm_(params, model.max_grad_norm or math.inf)
    policy.optimizer.step()
    return {"train/policy_loss": policy_loss.item(), "train/entropy_loss": entropy_loss.item()}


def reinforce_train(model: REINFORCE) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """REINFORCE (section 2): one step on the whole batch of complete episodes."""
    policy = copy.deepcopy(model.policy)
    data = rollout(model)
    np.random.permutation(len(data["returns"]))  # the buffer's get(): the whole batch, in random order
    logged = policy_gradient_step(model, policy, data, list(policy.parameters()))
    return params_of(policy), logged


def vpg_train(model: VPG) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """VPG (section 3): one step on the whole batch, then the critic's regression on minibatches."""
    policy, critic_optimizer = copy.deepcopy((model.policy, model.critic_optimizer))
    data = rollout(model)
    np.random.permutation(len(data["returns"]))
    actor, _ = split_actor_critic(policy)
    logged = policy_gradient_step(model, policy, data, actor)
    value_losses = fit_critic(policy, critic_optimizer, data, model.n_critic_updates, model.batch_size)
    logged["train/value_loss"] = float(np.mean(value_losses))
    return params_of(policy), logged


class _Actor(th.nn.Module):
    """The policy's action-distribution outputs as a module, so that ``torch.func`` can differentiate in its parameters."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, observations: th.Tensor) -> tuple[th.Tensor, th.Tensor | None]:
        return outputs(self.policy, observations)


def npg_train(model: NPG) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """
    NPG (section 5): x = (F + damping I)^-1 g solved exactly, F the Hessian of the mean KL formed in full on every
    ``sub_sampling_factor``-th state of the shuffled rollout, g on all of them; the step sqrt(2 delta / x^T (F +
    damping I) x) x; then the critic's regression.
    """
    policy = copy.deepcopy(model.policy)
    stored = rollout(model)
    order = th.as_tensor(np.random.permutation(len(stored["returns"])))  # the buffer's get(): the rollout shuffled
    data = {name: value[order] for name, value in stored.items()}
    fisher_observations = data["observations"][:: model.sub_sampling_factor]
    actor_params, _ = split_actor_critic(policy)
    names = [f"policy.{name}" for name, param in policy.named_parameters() if any(param is p for p in actor_params)]
    sizes = [param.numel() for param in actor_params]
    actor = _Actor(policy)
    theta = th.cat([param.detach().reshape(-1) for param in actor_params])

    def output_at(vector: th.Tensor, observations: th.Tensor) -> tuple[th.Tensor, th.Tensor | None]:
        chunks = th.split(vector, sizes)
        state = {name: chunk.view_as(param) for name, chunk, param in zip(names, chunks, actor_params, strict=True)}
        return th.func.functional_call(actor, state, (observations,), strict=False)

    old = tuple(None if t is None else t.detach() for t in output_at(theta, fisher_observations))
    advantages = standardise(data["advantages"]) if model.normalize_advantage else data["advantages"]

    def objective(vector: th.Tensor) -> th.Tensor:
        log_probs = log_prob(output_at(vector, data["observations"]), data["actions"])
        return (th.exp(log_probs - data["log_probs"]) * advantages).mean()

    def mean_kl(vector: th.Tensor) -> th.Tensor:
        # NPG and TRPO: the mean over states and action dimensions
        return kl_per_dimension(old, output_at(vector, fisher_observations)).mean()

    gradient = th.func.grad(objective)(theta).double()
    fisher = th.func.hessian(mean_kl)(theta).double() + model.cg_damping * th.eye(len(theta), dtype=th.float64)
    direction = th.linalg.solve(fisher, gradient)
    step = th.sqrt(2 * model.target_kl / (direction @ fisher @ direction)) * direction
    new_theta = (theta.double() + step).float()
    with th.no_grad():
        for param, chunk in zip(actor_params, th.split(new_theta, sizes), strict=True):
            param.copy_(chunk.view_as(param))
        # NPG logs the step's KL(new || old) on the Fisher's states, and the KL its quadratic model predicted
        kl = kl_per_dimension(output_at(new_theta, fisher_observations), old).mean().item()
        predicted = 0.5 * (step @ (fisher - model.cg_damping * th.eye(len(theta), dtype=th.float64)) @ step).item()
        logged = {"train/policy_loss": -objective(theta).item(), "train/kl_divergence": kl, "train/predicted_kl": predicted}
        logged["train/entropy_loss"] = -entropy(output_at(theta, data["observations"])).mean().item()
    # The critic's minibatches index the buffer as it is stored
    value_losses = fit_critic(policy, policy.optimizer, stored, model.n_critic_updates, model.batch_size)
    logged["train/value_loss"] = float(np.mean(value_losses))
    return params_of(policy), logged


def klppo_train(model: KLPPO) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """
    KLPPO (section 6): n_epochs of minibatch SGD on -(mean_t r_t A_t - beta mean_t KL(pi_old || pi)) + ent_coef *
    (-mean_t H) + vf_coef * mean_t (V - R_t)^2, r_t A_t clipped when clip_range is set; then beta moves once on the
    rollout's mean KL, summed over action dimensions.
    """
    policy = copy.deepcopy(model.policy)
    data = rollout(model)
    order = np.random.permutation(len(data["returns"]))  # the buffer's get(): the rollout in random order
    data = {name: value[th.as_tensor(order)] for name, value in data.items()}
    with th.no_grad():
        old = tuple(None if t is None else t.clone() for t in outputs(policy, data["observations"]))
    clip_range = None if model.clip_range is None else model.clip_range_schedule(model._current_progress_remaining)
    stats: dict[str, list[float]] = defaultdict(list)
    for _ in range(model.n_epochs):
        permutation = np.random.permutation(len(data["returns"]))
        for start in range(0, len(permutation), model.batch_size):
            rows = th.as_tensor(permutation[start : start + model.batch_size])
            out = outputs(policy, data["observations"][rows])
            ratio = th.exp(log_prob(out, data["actions"][rows]) - data["log_probs"][rows])
            advantages = data["advantages"][rows]
            if model.normalize_advantage:
                advantages = standardise(advantages)
            surrogate = ratio * advantages
            if clip_range is not None:
                surrogate = th.minimum(surrogate, ratio.clamp(1 - clip_range, 1 + clip_range) * advantages)
                stats["train/clip_fraction"].append(((ratio - 1).abs() > clip_range).float().mean().item())
            old_rows = tuple(None if t is None else t[rows] for t in old)
            penalty = model.kl_coef * kl_per_state(old_rows, out).mean()
            value_loss = ((policy.predict_values(data["observations"][rows]).flatten() - data["returns"][rows]) ** 2).mean()
            entropy_loss = -entropy(out).mean()
            policy_loss = penalty - surrogate.mean()
            loss = policy_loss + model.ent_coef * entropy_loss + model.vf_coef * value_loss
            policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm or math.inf)
            policy.optimizer.step()
            for name, value in (("surrogate", surrogate.mean()), ("kl_penalty", penalty), ("policy_loss", policy_loss)):
                stats[f"train/{name}"].append(value.item())
            stats["train/value_loss"].append(value_loss.item())
            stats["train/entropy_loss"].append(entropy_loss.item())
    logged = {name: float(np.mean(values)) for name, values in stats.items()}
    with th.no_grad():
        logged["train/kl_divergence"] = kl_per_state(old, outputs(policy, data["observations"])).mean().item()
    logged["train/kl_coef"] = model.kl_coef
    return params_of(policy), logged


def next_kl_coef(model: KLPPO, kl: float) -> float:
    """beta's move (section 6), written out: the adaptive rule kept within [1e-6, 1e6], the dual rule, or none."""
    beta = model.kl_coef
    if model.kl_coef_update == "adaptive":
        beta = beta / 2 if kl < model.target_kl / 1.5 else beta * 2 if kl > 1.5 * model.target_kl else beta
        return min(max(beta, 1e-6), 1e6)
    if model.kl_coef_update == "dual":
        return max(0.0, beta + model.kl_coef_lr * (kl - model.target_kl))
    return beta
