"""
Rollout collection for the four algorithms: per environment step only the action is computed.

Within a rollout the parameters do not change, so the log-probabilities and values that SB3's
``OnPolicyAlgorithm.collect_rollouts`` computes step by step are computed once the rollout is over, in one
batched pass over the stored observations, and only the action is computed per step. For an ``MlpPolicy`` on
vector observations (or a ``MultiInputPolicy`` on a Dict of them) the action comes from :class:`NumpyPolicy`: a
NumPy copy of the policy's weights, sampling with noise drawn in bulk from torch's generator (so ``seed`` still
fixes every draw). The buffer ends up with what SB3's path stores: observations, unclipped actions, rewards with the
time-limit bootstrap ``gamma * V(terminal observation)``, episode starts, values, log-probabilities, returns and
advantages. :class:`FastRollout` gives an SB3 algorithm this path, and SB3's own wherever it does not apply;
REINFORCE's complete episodes take this loop with :class:`PolicyActor`, the torch policy step by step, there.
"""

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    MultiCategoricalDistribution,
)
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import CombinedExtractor, FlattenExtractor, MlpExtractor
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from sb3_pg.common.buffers import EpisodicDictRolloutBuffer, EpisodicRolloutBuffer, _EpisodicStorage
from sb3_pg.common.policy_gradient import flat_actions
from sb3_pg.common.returns import generalized_advantages

Array = np.ndarray


def _relu(x: Array) -> Array:
    return np.maximum(x, 0.0, out=x)


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


# The activations of the actor's hidden layers that NumpyPolicy computes, as NumPy functions of the module
ACTIVATIONS: dict[type[nn.Module], Callable[[Any], Callable[[Array], Array]]] = {
    nn.Tanh: lambda module: lambda x: np.tanh(x, out=x),
    nn.ReLU: lambda module: _relu,
    nn.ELU: lambda module: lambda x: np.where(x > 0, x, module.alpha * np.expm1(np.minimum(x, 0.0))),
    nn.LeakyReLU: lambda module: lambda x: np.where(x > 0, x, module.negative_slope * x),
    nn.Sigmoid: lambda module: _sigmoid,
    nn.Identity: lambda module: lambda x: x,
}
DISTRIBUTIONS = (CategoricalDistribution, MultiCategoricalDistribution, BernoulliDistribution, DiagGaussianDistribution)
# The buffers whose rows are written directly (SB3's own and REINFORCE's, on vector observations or dicts of them)
PLAIN_BUFFERS = (RolloutBuffer, EpisodicRolloutBuffer, DictRolloutBuffer, EpisodicDictRolloutBuffer)
# Rows evaluated per forward pass after the rollout: bounds the memory of the pass on large rollouts
EVAL_ROWS = 2048


def vector_keys(observation_space: spaces.Space) -> list[str] | None:
    """
    :return: for a Dict of vector (non-image) Boxes, its keys in the order SB3's ``CombinedExtractor`` concatenates
        them; ``[]`` for a vector Box; ``None`` for any other observation space
    """
    subspaces = observation_space.spaces if isinstance(observation_space, spaces.Dict) else {"": observation_space}
    if all(isinstance(space, spaces.Box) and not is_image_space(space, check_channels=False) for space in subspaces.values()):
        return list(observation_space.spaces) if isinstance(observation_space, spaces.Dict) else []
    return None


def numpy_policy_blocker(model: OnPolicyAlgorithm) -> str | None:
    """
    :param model: an algorithm whose policy is set up
    :return: why :class:`NumpyPolicy` cannot act for ``model``'s policy, or ``None`` when it can
    """
    policy = model.policy
    if vector_keys(model.observation_space) is None:
        return "the observations are not vectors (a Box, or a Dict of Boxes, none of them an image)"
    if type(policy) not in (ActorCriticPolicy, MultiInputActorCriticPolicy):
        return f"the policy class {type(policy).__name__} is not MlpPolicy or MultiInputPolicy"
    if model.use_sde:
        return "gSDE (use_sde=True) draws its noise per state"
    extractors = [policy.features_extractor] if policy.share_features_extractor else [policy.pi_features_extractor]
    extractors += [] if policy.share_features_extractor else [policy.vf_features_extractor]
    for extractor in extractors:
        flatten = type(extractor) is FlattenExtractor
        if not flatten and not (
            type(extractor) is CombinedExtractor and all(type(e) is nn.Flatten for e in extractor.extractors.values())
        ):
            return "a custom features extractor"
    if type(policy.mlp_extractor) is not MlpExtractor or {type(policy.action_net), type(policy.value_net)} != {nn.Linear}:
        return "a custom actor or critic network"
    for module in [*policy.mlp_extractor.policy_net, *policy.mlp_extractor.value_net]:
        if type(module) is not nn.Linear and type(module) not in ACTIVATIONS:
            return f"the activation {type(module).__name__}"
    if type(policy.action_dist) not in DISTRIBUTIONS:
        return f"the action distribution {type(policy.action_dist).__name__}"
    return None


def buffer_blocker(rollout_buffer: RolloutBuffer) -> str | None:
    """:return: why ``rollout_buffer``'s rows cannot be written directly, or ``None`` when they can"""
    if type(rollout_buffer) not in PLAIN_BUFFERS:
        return f"the rollout buffer class {type(rollout_buffer).__name__}"
    if vector_keys(rollout_buffer.observation_space) is None:
        return "the observations are not vectors"
    return None


class NumpyPolicy:
    """
    An ``MlpPolicy`` as NumPy float32 arrays: its actor (``mlp_extractor.policy_net``, ``action_net``) and critic
    (``mlp_extractor.value_net``, ``value_net``). It samples actions with noise drawn in bulk from torch's
    global generator, so that a step costs a few NumPy calls:

    - Categorical and MultiCategorical: the Gumbel-max trick, ``argmax(logits + g)`` with ``g = -log(-log(u))``;
    - Bernoulli: ``x > log(u / (1 - u))``, a logistic threshold, which holds with probability ``sigmoid(x)``;
    - diagonal Gaussian: ``mean + std * n`` with ``n`` standard normal;

    ``u`` is uniform in (0, 1), drawn in float64. On a batch of observations it gives the log-probabilities of
    given actions and the values, as SB3's ``evaluate_actions`` does. The parameters are copied when it is built:
    build it again after they change.

    :param policy: an ``MlpPolicy`` accepted by :func:`numpy_policy_blocker`
    :param n_envs: the number of observations per step
    :param chunk: how many steps' noise to draw at once
    """

    def __init__(self, policy: ActorCriticPolicy, n_envs: int, chunk: int):
        self.actor = _numpy_mlp(policy.mlp_extractor.policy_net, policy.action_net)  # type: ignore[arg-type]
        self.critic = _numpy_mlp(policy.mlp_extractor.value_net, policy.value_net)  # type: ignore[arg-type]
        # For the step: the hidden layers, each with its activation, then the output layer
        self.hidden = [(weight, activation) for weight, activation in self.actor[:-1] if activation is not None]
        self.output = self.actor[-1][0]
        self.inputs = np.ones((n_envs, self.actor[0][0].shape[0]), np.float32)  # the last column stays 1
        self.keys = vector_keys(policy.observation_space) or []  # a Dict's keys, concatenated in this order
        self.action_shape = (n_envs, *policy.action_space.shape)  # type: ignore[misc]
        distribution = policy.action_dist
        self.kind = type(distribution)
        self.n_envs, self.chunk, self.used = n_envs, chunk, chunk
        self.width = self.actor[-1][0].shape[1]  # of the distribution's parameters: logits, or the Gaussian's mean
        self.splits: list[int] = []
        if isinstance(distribution, DiagGaussianDistribution):
            self.log_std = policy.log_std.detach().cpu().float()  # type: ignore[operator]
        elif isinstance(distribution, MultiCategoricalDistribution):
            self.splits = [int(end) for end in np.cumsum(distribution.action_dims)[:-1]]

    def _features(self, obs: Any, n: int) -> Array:
        """:return: the features of ``n`` observations: flattened, and a Dict's entries concatenated as SB3's extractors do"""
        if self.keys:
            return np.concatenate([obs[key].reshape(n, -1) for key in self.keys], axis=1)
        return obs.reshape(n, -1)

    def _draw(self) -> None:
        """Draw ``chunk`` steps' noise, shape ``(chunk, n_envs, width)``"""
        shape = (self.chunk, self.n_envs, self.width)
        if self.kind is DiagGaussianDistribution:
            noise = th.randn(shape) * th.exp(self.log_std)
        else:
            uniform = th.rand(shape, dtype=th.float64).clamp_(1e-300, 1.0 - 2**-53)
            noise = th.log(uniform / (1 - uniform)) if self.kind is BernoulliDistribution else -th.log(-th.log(uniform))
        self.bulk, self.used = noise.numpy(), 0

    def __call__(self, obs: Array) -> Array:
        """
        :param obs: one observation per env, shape ``(n_envs, *observation_shape)``
        :return: actions as SB3's policy returns them: int64 indices for Categorical and MultiCategorical,
            float32 for Bernoulli and the Gaussian (unclipped)
        """
        self.inputs[:, :-1] = self._features(obs, self.n_envs)
        x = self.inputs
        for weight, activation in self.hidden:
            x = activation(np.dot(x, weight))
        x = np.dot(x, self.output)
        if self.used == self.chunk:
            self._draw()
        noise = self.bulk[self.used]
        self.used += 1
        if self.kind is DiagGaussianDistribution:
            x += noise
            return x.reshape(self.action_shape)
        if self.kind is BernoulliDistribution:
            return (x > noise).astype(np.float32)
        if self.kind is CategoricalDistribution:
            return (x + noise).argmax(axis=1)
        perturbed = x + noise
        return np.stack([block.argmax(axis=1) for block in np.split(perturbed, self.splits, axis=1)], axis=1)

    def evaluate(self, obs: Array, actions: Array | None, with_values: bool = True) -> tuple[Array | None, Array | None]:
        """
        :param obs: a batch of observations, shape ``(n, *observation_shape)``
        :param actions: actions as the buffer stores them, shape ``(n, action_dim)``, or ``None``
        :param with_values: whether to compute the values
        :return: the values of ``obs`` and the log-probabilities of ``actions``, each ``None`` when not asked for
        """
        n = len(obs[self.keys[0]]) if self.keys else len(obs)
        inputs = np.ones((n, self.inputs.shape[1]), dtype=np.float32)
        inputs[:, :-1] = self._features(obs, n)
        values = _forward(self.critic, inputs)[:, 0] if with_values else None
        if actions is None:
            return values, None
        x = _forward(self.actor, inputs)
        if self.kind is DiagGaussianDistribution:
            log_std = self.log_std.numpy()
            log_density = -0.5 * ((actions - x) * np.exp(-log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi)
            return values, log_density.sum(axis=1)
        if self.kind is BernoulliDistribution:  # log sigmoid(x) where a = 1, log sigmoid(-x) where a = 0
            return values, (actions * x - np.logaddexp(0.0, x)).sum(axis=1)
        log_prob = np.zeros(n, dtype=np.float32)
        for i, block in enumerate(np.split(x, self.splits, axis=1)):
            log_softmax = block - block.max(axis=1, keepdims=True)
            log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
            log_prob += np.take_along_axis(log_softmax, actions[:, i : i + 1].astype(np.int64), axis=1)[:, 0]
        return values, log_prob


Layers = list[tuple[Array, Callable[[Array], Array] | None]]


def _numpy_mlp(hidden: nn.Sequential, output: nn.Linear) -> Layers:
    """
    :return: the layers ``(weight, activation)`` of ``hidden`` then ``output``, each one product: its input
        carries a last column of ones and its weight a last row holding the bias. A hidden layer passes the ones
        on, by an extra unit whose pre-activation is a value its activation maps to exactly 1.0 (20 for tanh,
        40 for the sigmoid, 1 for the others).
    """

    def numpy(tensor: th.Tensor) -> Array:
        return tensor.detach().cpu().numpy().astype(np.float32)

    layers: Layers = []
    linears = [module for module in hidden if isinstance(module, nn.Linear)]
    activations = [ACTIVATIONS[type(module)](module) for module in hidden if not isinstance(module, nn.Linear)]
    for linear, activation in zip(linears, activations, strict=True):
        one_at = next(x for x in (1.0, 20.0, 40.0) if activation(np.array([x], dtype=np.float32))[0] == 1.0)
        weight = np.zeros((linear.in_features + 1, linear.out_features + 1), dtype=np.float32)
        weight[:-1, :-1], weight[-1, :-1], weight[-1, -1] = numpy(linear.weight).T, numpy(linear.bias), one_at
        layers.append((weight, activation))
    layers.append((np.concatenate([numpy(output.weight).T, numpy(output.bias)[None]]), None))
    return layers


def _forward(layers: Layers, x: Array) -> Array:
    for weight, activation in layers:
        x = np.dot(x, weight)
        if activation is not None:
            x = activation(x)
    return x


class PolicyActor:
    """
    SB3's per-step action: the torch policy's distribution on the observations, sampled by torch; on a batch, the
    log-probabilities of given actions. REINFORCE acts through it where :class:`NumpyPolicy` does not apply.

    :param policy: any policy of SB3's ``ActorCriticPolicy`` family
    :param action_space: the env's action space (for the actions' shape)
    """

    def __init__(self, policy: ActorCriticPolicy, action_space: spaces.Space):
        self.policy, self.shape = policy, action_space.shape

    def __call__(self, obs: Array | dict[str, Array]) -> Array:
        with th.no_grad():
            actions = self.policy.get_distribution(obs_as_tensor(obs, self.policy.device)).get_actions()
        return actions.cpu().numpy().reshape((-1, *self.shape))  # type: ignore[misc, arg-type]

    def evaluate(self, obs: Any, actions: Array | None, with_values: bool = False) -> tuple[None, Array]:
        """
        :param obs: a batch of observations (an array, or a dict of arrays)
        :param actions: actions as the buffer stores them, shape ``(n, action_dim)``
        :param with_values: must be ``False``: this path serves REINFORCE, which predicts no value
        :return: ``None`` and the log-probabilities of ``actions``
        """
        assert actions is not None and not with_values, "PolicyActor gives log-probabilities only"
        with th.no_grad():
            obs_tensor = obs_as_tensor(obs, self.policy.device)
            action_tensor = flat_actions(th.as_tensor(actions, device=self.policy.device), self.policy.action_space)
            log_prob = self.policy.get_distribution(obs_tensor).log_prob(action_tensor)
        return None, log_prob.flatten().cpu().numpy()


def rollout_blocker(model: OnPolicyAlgorithm) -> str | None:
    """
    :param model: an algorithm whose policy and rollout buffer are set up
    :return: why ``model``'s rollouts take SB3's per-step path (its ``fast_rollout`` is ``False``, or the policy
        or buffer is one :class:`NumpyPolicy` or the direct row writes do not cover), or ``None`` when they do not
    """
    if not getattr(model, "fast_rollout", True):
        return "fast_rollout=False"
    return numpy_policy_blocker(model) or buffer_blocker(model.rollout_buffer)


def make_actor(model: OnPolicyAlgorithm, n_envs: int, chunk: int) -> "NumpyPolicy | PolicyActor":
    """:return: ``model``'s :class:`NumpyPolicy` where :func:`rollout_blocker` finds nothing, else its :class:`PolicyActor`"""
    if rollout_blocker(model) is None:
        return NumpyPolicy(model.policy, n_envs, chunk)
    return PolicyActor(model.policy, model.action_space)


def _row_writer(rollout_buffer: RolloutBuffer) -> Callable[[Any, Array, Array, Array, Array], None]:
    """:return: ``write(obs, actions, rewards, episode_starts, active)``, which stores one step of every env"""
    episodic = isinstance(rollout_buffer, _EpisodicStorage)
    if buffer_blocker(rollout_buffer) is not None:  # REINFORCE's buffer's own add_step(); log-probs come later
        assert episodic, "a buffer the rows cannot be written into takes SB3's collect_rollouts"
        zeros = th.zeros(rollout_buffer.n_envs)
        return lambda obs, actions, rewards, starts, active: rollout_buffer.add_step(  # type: ignore[attr-defined]
            obs, actions, rewards, starts, zeros, zeros, active=active
        )
    n_envs, action_dim = rollout_buffer.n_envs, rollout_buffer.action_dim
    keys = vector_keys(rollout_buffer.observation_space)

    def write(obs: Any, actions: Array, rewards: Array, starts: Array, active: Array) -> None:
        row = rollout_buffer.pos
        if episodic:
            if row == rollout_buffer.buffer_size:
                rollout_buffer._grow()  # type: ignore[attr-defined]
            rollout_buffer.active[row] = active  # type: ignore[attr-defined]
        if keys:
            for key in keys:
                rollout_buffer.observations[key][row] = obs[key]  # type: ignore[call-overload]
        else:
            rollout_buffer.observations[row] = obs
        rollout_buffer.actions[row] = actions.reshape(n_envs, action_dim)
        rollout_buffer.rewards[row] = rewards
        rollout_buffer.episode_starts[row] = starts
        rollout_buffer.pos = row + 1

    return write


def _flat_rows(array: Array | dict[str, Array], n_rows: int) -> Array | dict[str, Array]:
    """:return: the first ``n_rows`` rows of a ``[step, env, ...]`` array (or of each array of a dict), as one batch"""
    if isinstance(array, dict):
        return {key: value[:n_rows].reshape(-1, *value.shape[2:]) for key, value in array.items()}
    return array[:n_rows].reshape(-1, *array.shape[2:])


def _rows(batch: Array | dict[str, Array], start: int, stop: int) -> Array | dict[str, Array]:
    if isinstance(batch, dict):
        return {key: value[start:stop] for key, value in batch.items()}
    return batch[start:stop]


def evaluate_rollout(actor: "NumpyPolicy | PolicyActor", rollout_buffer: RolloutBuffer, with_values: bool) -> None:
    """
    Fill the buffer's ``log_probs`` (and ``values``) for its stored rows, in batches of ``EVAL_ROWS`` rows.

    :param actor: the policy that acted
    :param rollout_buffer: a buffer holding ``pos`` rows of observations and actions
    :param with_values: also predict the values (REINFORCE queries no value function)
    """
    n_rows, n_envs = rollout_buffer.pos, rollout_buffer.n_envs
    observations: Any = _flat_rows(rollout_buffer.observations, n_rows)
    actions = (
        rollout_buffer.actions[:n_rows].reshape(n_rows * n_envs, -1).astype(np.float32, copy=False)
    )  # as SB3's _get_samples
    for start in range(0, n_rows * n_envs, EVAL_ROWS):
        stop = start + EVAL_ROWS
        batch: Any = _rows(observations, start, stop)
        values, log_probs = actor.evaluate(batch, actions[start:stop], with_values)
        rollout_buffer.log_probs.reshape(-1)[start:stop] = log_probs
        if values is not None:
            rollout_buffer.values.reshape(-1)[start:stop] = values


def predict_values(actor: "NumpyPolicy | PolicyActor", observations: Any) -> Array:
    """:return: the values of a batch of observations, or of a list of single observations, float32 of shape ``(n,)``"""
    if isinstance(observations, list):
        if isinstance(observations[0], dict):
            observations = {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
        else:
            observations = np.stack(observations)
    values, _ = actor.evaluate(observations, None)
    return values  # type: ignore[return-value]


def collect_rollout(
    model: OnPolicyAlgorithm,
    env: VecEnv,
    callback: BaseCallback,
    rollout_buffer: RolloutBuffer,
    n_rollout_steps: int,
    finish: Callable[[RolloutBuffer, Array | None, Array], None],
    max_episode_steps: int | None = None,
) -> bool:
    """
    Collect a rollout as SB3's ``OnPolicyAlgorithm.collect_rollouts`` does, computing per step only the action.

    The callback sees every step as in SB3 (``on_step`` after each ``env.step``, with ``new_obs``, ``rewards``,
    ``dones``, ``infos``, ``actions`` and ``clipped_actions`` in its ``locals``) and stops the rollout by
    returning ``False``. Once the rollout is over, one batched pass fills the buffer's values and
    log-probabilities, adds ``gamma * V(terminal observation)`` to the reward of each time-limit truncation,
    and ``finish(rollout_buffer, last_values, dones)`` computes the returns and advantages.

    With ``max_episode_steps`` the rollout holds complete episodes (REINFORCE, an :class:`EpisodicRolloutBuffer`):
    each env steps at least ``n_rollout_steps`` times, then until its current episode ends, and stops storing
    there; an episode that runs ``max_episode_steps`` steps without ending is truncated, with a warning. Nothing
    is bootstrapped and no value is predicted.

    :param model: the algorithm, whose ``_last_obs``, ``_last_episode_starts`` and ``num_timesteps`` advance
    :param env: the training environment
    :param callback: called at each step, and at the start and end of the rollout
    :param rollout_buffer: the buffer to fill
    :param n_rollout_steps: the number of steps to collect per env (the minimum, with ``max_episode_steps``)
    :param finish: computes the buffer's returns and advantages from the values of the last observations
        (``None`` with ``max_episode_steps``) and the last dones
    :param max_episode_steps: collect complete episodes, truncated at this length
    :return: True if the rollout finished, False if the callback stopped it
    """
    assert model._last_obs is not None, "No previous observation was provided"
    policy, n_envs, episodic = model.policy, env.num_envs, max_episode_steps is not None
    policy.set_training_mode(False)
    if episodic and not np.all(model._last_episode_starts):
        # Some env is mid-episode (after a multi-env rollout or an interrupted one): an episode begun earlier
        # would be incomplete, so every env starts a fresh one
        model._last_obs = env.reset()  # type: ignore[assignment]
        model._last_episode_starts = np.ones((n_envs,), dtype=bool)

    actor = make_actor(model, n_envs, n_rollout_steps)
    rollout_buffer.reset()
    write = _row_writer(rollout_buffer)
    box = model.action_space if isinstance(model.action_space, spaces.Box) else None
    bootstraps: list[tuple[int, int, Any]] = []  # (row, env, terminal observation) of each time-limit truncation
    n_steps = 0
    # Complete episodes only: which envs still store, the step at which the episode each env is in began, the envs
    # whose episode was truncated at max_episode_steps last step, and the step at which an episode could next reach it
    storing, n_storing = np.ones(n_envs, dtype=bool), n_envs
    episode_begun = np.zeros(n_envs, dtype=np.int64)
    cut, cut_any = np.zeros(n_envs, dtype=bool), False
    limit = max_episode_steps or 0
    next_check = limit
    sde_every = model.sde_sample_freq if model.use_sde and model.sde_sample_freq > 0 else 0
    if model.use_sde:
        policy.reset_noise(n_envs)

    callback.on_rollout_start()

    while n_storing > 0 if episodic else n_steps < n_rollout_steps:
        if sde_every and n_steps % sde_every == 0:
            policy.reset_noise(n_envs)
        actions = actor(model._last_obs)  # type: ignore[arg-type]
        clipped_actions = actions
        if box is not None:
            clipped_actions = policy.unscale_action(actions) if policy.squash_output else np.clip(actions, box.low, box.high)

        new_obs: Any
        new_obs, rewards, dones, infos = env.step(clipped_actions)
        model.num_timesteps += n_envs

        # SB3's names for the callbacks (self.locals), as its collect_rollouts has them but for the per-step values
        # and log-probabilities, which exist only once the rollout is over
        callback.update_locals(
            {
                "self": model,
                "env": env,
                "callback": callback,
                "rollout_buffer": rollout_buffer,
                "n_rollout_steps": n_rollout_steps,
                "n_steps": n_steps,
                "actions": actions,
                "clipped_actions": clipped_actions,
                "new_obs": new_obs,
                "rewards": rewards,
                "dones": dones,
                "infos": infos,
            }
        )
        if not callback.on_step():
            if episodic:  # the env has moved on: the next rollout starts from where it is (resetting it if mid-episode)
                model._last_obs, model._last_episode_starts = new_obs, dones
            return False

        any_done = np.count_nonzero(dones) > 0
        if episodic:
            # Episode statistics of stored episodes only: which episodes are stored never depends on their own
            # length, so the logged means are not biased toward the short episodes that end while envs wait
            stored_infos = (
                infos if n_storing == n_envs else [info if store else {} for info, store in zip(infos, storing, strict=True)]
            )
            if any_done:  # Monitor reports an episode, and SB3 counts a success, only where an env is done
                model._update_info_buffer(stored_infos, dones)
            starts = model._last_episode_starts | cut if cut_any else model._last_episode_starts
            write(model._last_obs, actions, rewards, starts, storing)  # type: ignore[arg-type]
        else:
            if any_done:
                model._update_info_buffer(infos, dones)
                for idx in np.flatnonzero(dones):
                    info = infos[idx]
                    if info.get("terminal_observation") is not None and info.get("TimeLimit.truncated", False):
                        bootstraps.append((rollout_buffer.pos, int(idx), info["terminal_observation"]))
            write(model._last_obs, actions, rewards, model._last_episode_starts, storing)  # type: ignore[arg-type]
        n_steps += 1
        model._last_obs = new_obs  # type: ignore[assignment]
        model._last_episode_starts = dones

        if episodic:
            if any_done:
                episode_begun[dones] = n_steps
            cut_any = False
            if n_steps >= next_check:
                # An episode that has not ended after max_episode_steps is truncated there, and its env stops storing
                episode_steps = n_steps - episode_begun
                cut = storing & (episode_steps >= limit)
                cut_any = bool(cut.any())
                if cut_any:
                    _warn_truncated(model, int(np.flatnonzero(cut)[0]), limit)
                    storing = storing & ~cut
                longest = int(episode_steps[storing].max()) if storing.any() else 0
                next_check = n_steps + limit - longest
            # An env stops storing at its first episode end once it has n_rollout_steps steps
            if n_steps >= n_rollout_steps and any_done:
                storing = storing & ~dones
            if cut_any or (any_done and n_steps >= n_rollout_steps):
                n_storing = int(storing.sum())

    if episodic:
        rollout_buffer.finish()  # type: ignore[attr-defined]
    else:
        rollout_buffer.full = rollout_buffer.pos == rollout_buffer.buffer_size
    evaluate_rollout(actor, rollout_buffer, with_values=not episodic)
    if bootstraps:  # SB3's rule for time-limit truncations (SB3 issue #633)
        rows, envs, terminal_obs = zip(*bootstraps, strict=True)
        rollout_buffer.rewards[list(rows), list(envs)] += model.gamma * predict_values(actor, list(terminal_obs))
    finish(rollout_buffer, None if episodic else predict_values(actor, new_obs), dones)

    callback.update_locals(locals())
    callback.on_rollout_end()
    return True


def _warn_truncated(model: OnPolicyAlgorithm, env_index: int, max_episode_steps: int) -> None:
    warnings.warn(
        f"{type(model).__name__}: the episode of env {env_index} ran {max_episode_steps} steps (max_episode_steps) "
        f"without ending, {model.num_timesteps} timesteps in: it is truncated there. REINFORCE needs episodes that "
        "end: wrap the env in gymnasium.wrappers.TimeLimit, or raise max_episode_steps.",
        stacklevel=4,
    )


def compute_gae(rollout_buffer: RolloutBuffer, last_values: Array | None, dones: Array) -> None:
    """
    SB3's end of a rollout: the GAE(``gae_lambda``) advantages and the returns ``advantages + values``
    (:func:`~sb3_pg.common.returns.generalized_advantages`, SB3's ``compute_returns_and_advantage`` recursion).

    :param rollout_buffer: a full buffer with rewards, values and episode starts
    :param last_values: the values of the observations after the last row
    :param dones: whether the last row's step ended an episode
    """
    buffer = rollout_buffer
    assert last_values is not None
    buffer.advantages = generalized_advantages(
        buffer.rewards, buffer.values, buffer.episode_starts, last_values, dones, buffer.gamma, buffer.gae_lambda
    )
    buffer.returns = buffer.advantages + buffer.values


class FastRollout:
    """
    A mixin for an SB3 ``OnPolicyAlgorithm`` whose rollouts compute per step only the action.

    With ``fast_rollout`` true (the default), an ``MlpPolicy`` on vector observations acts through
    :class:`NumpyPolicy`, and the rollout's values and log-probabilities are computed in one batched pass once it
    is over (:func:`collect_rollout`); the buffer holds what SB3's ``collect_rollouts`` stores. Anything else
    (images, ``MultiInputPolicy``, gSDE, a custom features extractor, policy or rollout buffer), or
    ``fast_rollout=False``, goes through SB3's ``collect_rollouts``; at ``verbose >= 1`` a line says so and why.
    It serves SB3's own algorithms as well: ``class FastPPO(FastRollout, PPO): pass``.
    """

    fast_rollout = True

    def rollout_blocker(self) -> str | None:
        """:return: why rollouts take SB3's per-step path (:func:`rollout_blocker`), or ``None`` when they do not"""
        return rollout_blocker(self)  # type: ignore[arg-type]

    def _setup_model(self) -> None:
        super()._setup_model()  # type: ignore[misc]
        reason = self.rollout_blocker()
        if reason is not None and self.verbose >= 1:  # type: ignore[attr-defined]
            print(f"{type(self).__name__}: rollouts take SB3's per-step path: {reason}")

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """
        Collect a rollout into ``rollout_buffer``: by :func:`collect_rollout` (the action per step, the rest
        batched afterwards) or, where it does not cover the policy or buffer, by SB3's ``collect_rollouts``. Both
        store the same contents and call the callback at the same points.

        :param env: The training environment
        :param callback: Callback called at each step (and at the beginning and end of the rollout)
        :param rollout_buffer: Buffer to fill with rollouts
        :param n_rollout_steps: Number of experiences to collect per environment
        :return: True if the rollout finished, False if the callback stopped it
        """
        limit = self._episode_limit()
        if limit is None and self.rollout_blocker() is not None:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)  # type: ignore[misc]
        model: Any = self
        return collect_rollout(model, env, callback, rollout_buffer, n_rollout_steps, self._finish_rollout, limit)

    def _episode_limit(self) -> int | None:
        """:return: ``None`` for rollouts of ``n_steps``; for complete episodes, the longest (:func:`collect_rollout`)"""
        return None

    def _finish_rollout(self, rollout_buffer: RolloutBuffer, last_values: Array | None, dones: Array) -> None:
        """The returns and advantages of a collected rollout: SB3's GAE (:func:`compute_gae`)."""
        compute_gae(rollout_buffer, last_values, dones)


__all__ = [
    "FastRollout",
    "NumpyPolicy",
    "PolicyActor",
    "collect_rollout",
    "compute_gae",
    "evaluate_rollout",
    "rollout_blocker",
]
