"""
Policy-gradient estimators and their quality at a fixed policy (``algorithms.md`` section 7).

The policy is held fixed. Complete episodes are sampled with it, once, into pools:

- a critic pool, on which a copy of the policy's value head is fitted (:func:`fit_value_function`), so that
  ``V`` is independent of the batches it is a baseline for: on a part of its episodes, until the loss on the
  others (held out) stops falling, within a stated budget of passes; its ``R^2`` on the batch pool is reported;
- a reference pool (by default ten times the largest batch), whose gradient is the reference;
- a batch pool, from which every batch size's ``K`` batches are formed: each batch is a run of whole
  episodes, taken in a random order, until it holds at least ``B`` steps. The batches of one size are
  disjoint (independent); different sizes reuse the pool, so nothing is simulated per batch size.

The estimate of a batch is the gradient, w.r.t. the actor's parameters, of ``mean_t log pi(a_t|s_t) * Psi_t``:
the per-step mean the algorithms use (``REINFORCE`` docstring, "Normalisation"). Every episode end,
truncation included, is final: returns are finite-horizon Monte Carlo sums, as REINFORCE's, and GAE does not
bootstrap past it. The weightings ``Psi_t``:

    R(tau)      the episode's discounted return, for every step
    G_t         the reward-to-go
    G_t-b       G_t less its mean over the batch (REINFORCE's baseline="mean")
    G_t-V       G_t less the fitted V(s_t)
    GAE(l)      GAE(lambda = l) from the same V, by SB3's RolloutBuffer (GAE(1) is G_t-V)

and for each, the natural direction ``F^-1 g`` with ``F`` estimated on the same batch.
"""

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from sb3_pg.common.critic import fit_critic, split_actor_critic
from sb3_pg.common.natural import fisher_vector_product_fn, flat_gradient, solve_fisher
from sb3_pg.common.policy_gradient import flat_actions, snapshot
from sb3_pg.common.returns import discounted_returns

# The weightings whose mean is the policy gradient the algorithms follow, sum_t E[Q(s_t, a_t) grad log pi], whatever
# V is. G_t-b is biased by O(1/n) through its own batch; R(tau)'s mean is the gradient of the discounted return,
# which differs from it when gamma < 1 (the gamma^t in front of G_t is dropped, ``algorithms.md`` section 2).
UNBIASED = ("G_t", "G_t-V")
MEASURES = ("variance", "variance_se", "relative_variance", "snr", "cos_pairwise", "cos_ref", "cos_true")


def weighting_names(gae_lambdas: Sequence[float]) -> list[str]:
    """:return: the names of the weightings measured, in the order they are reported"""
    return ["R(tau)", "G_t", "G_t-b", "G_t-V", *(f"GAE({lam:g})" for lam in gae_lambdas)]


@dataclass
class EpisodePool:
    """
    Complete episodes, concatenated: episode ``i`` is rows ``offsets[i]:offsets[i + 1]``.

    :param observations: shape ``(n_steps, *obs_shape)``
    :param actions: the sampled actions (before clipping), shape ``(n_steps, *action_shape)``
    :param rewards: shape ``(n_steps,)``
    :param offsets: the first row of each episode, and ``n_steps`` last, shape ``(n_episodes + 1,)``
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    offsets: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.rewards)

    @property
    def n_episodes(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def episode_starts(self) -> np.ndarray:
        """:return: 1.0 at the first step of every episode, 0.0 elsewhere, shape ``(n_steps,)``"""
        starts = np.zeros(self.n_steps, dtype=np.float32)
        starts[self.offsets[:-1]] = 1.0
        return starts

    def select(self, episodes: Sequence[int] | np.ndarray) -> "EpisodePool":
        """:return: the pool of the given episodes, in that order"""
        rows = [np.arange(self.offsets[i], self.offsets[i + 1]) for i in episodes]
        index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        lengths = [int(self.lengths[i]) for i in episodes]
        return EpisodePool(self.observations[index], self.actions[index], self.rewards[index], np.cumsum([0, *lengths]))

    def concatenate(self, other: "EpisodePool") -> "EpisodePool":
        """:return: the episodes of both pools"""
        return EpisodePool(
            np.concatenate([self.observations, other.observations]),
            np.concatenate([self.actions, other.actions]),
            np.concatenate([self.rewards, other.rewards]),
            np.concatenate([self.offsets, other.offsets[1:] + self.n_steps]),
        )


def sample_episodes(policy: ActorCriticPolicy, env: VecEnv, n_steps: int, max_episode_steps: int = 10_000) -> EpisodePool:
    """
    Sample complete episodes with the policy until they hold at least ``n_steps`` steps.

    Every env starts from ``reset()``. Once the total is reached no env starts a new episode, but each finishes
    the one it is in (steps taken after that are dropped): ending every env at the same moment would drop the
    long episodes still running and bias the pool towards short ones. Actions are sampled, and clipped for the
    env, as REINFORCE's ``collect_rollouts`` does; the policy's parameters and training mode are not changed.

    An episode that has run ``max_episode_steps`` steps without ending is truncated there, as REINFORCE's
    ``max_episode_steps`` truncates one, with a warning: it is kept, its return the finite sum so far, and its
    env waits; once every env waits, all are reset. This bounds the sampling for an env whose episodes never end.

    :param policy: the policy, held fixed
    :param env: the environment, vectorised (its wrappers, ``VecNormalize`` included, apply as they are)
    :param n_steps: the number of steps to reach
    :param max_episode_steps: the longest an episode may run
    :return: the episodes, in the order they ended
    """
    if policy.use_sde:
        raise ValueError("the gradient measures do not support gSDE policies (use_sde=True)")
    if isinstance(env.observation_space, spaces.Dict):
        raise ValueError("the gradient measures do not support dict observation spaces")
    if max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be at least 1, got {max_episode_steps}")
    was_training = policy.training
    policy.set_training_mode(False)
    n_envs = env.num_envs
    running: list[list[tuple[Any, Any, float]]] = [[] for _ in range(n_envs)]
    episodes: list[list[tuple[Any, Any, float]]] = []
    total = 0
    active = np.ones(n_envs, dtype=bool)  # recording: neither waiting after a truncation nor done
    waiting = np.zeros(n_envs, dtype=bool)  # truncated at max_episode_steps, mid-episode until the next reset
    action_shape: tuple[int, ...] = policy.action_space.shape or ()
    observations = env.reset()
    while active.any():
        with th.no_grad():
            actions = policy.get_distribution(obs_as_tensor(observations, policy.device)).get_actions()  # type: ignore[arg-type]
        actions_np = actions.cpu().numpy().reshape((-1, *action_shape))
        env_actions = actions_np
        if isinstance(policy.action_space, spaces.Box):
            if policy.squash_output:
                env_actions = policy.unscale_action(actions_np)
            else:
                env_actions = np.clip(actions_np, policy.action_space.low, policy.action_space.high)
        new_observations, rewards, dones, _ = env.step(env_actions)
        for i in np.flatnonzero(active):
            running[i].append((np.array(observations[i]), actions_np[i], float(rewards[i])))  # type: ignore[index]
            truncated = not dones[i] and len(running[i]) >= max_episode_steps
            if dones[i] or truncated:
                if truncated:
                    warnings.warn(
                        f"gradient sampling: the episode of env {i} ran {max_episode_steps} steps (max_episode_steps) "
                        "without ending: it is truncated there",
                        stacklevel=2,
                    )
                    waiting[i], active[i] = True, False
                episodes.append(running[i])
                total += len(running[i])
                running[i] = []
                if total >= n_steps:
                    active[i] = False
        # An env still running when the total is reached finishes its episode, but starts no other
        if total >= n_steps:
            active &= np.array([len(steps) > 0 for steps in running])
        elif waiting.any() and not active.any():  # every env waits after a truncation: start them all again
            new_observations = env.reset()
            waiting[:], active[:] = False, True
        observations = new_observations
    policy.set_training_mode(was_training)

    steps = [step for episode in episodes for step in episode]
    return EpisodePool(
        observations=np.stack([step[0] for step in steps]).astype(np.float32),
        actions=np.stack([step[1] for step in steps]),
        rewards=np.array([step[2] for step in steps], dtype=np.float32),
        offsets=np.cumsum([0, *(len(episode) for episode in episodes)]),
    )


def _pool_buffer(pool: EpisodePool, policy: ActorCriticPolicy, gamma: float) -> RolloutBuffer:
    """:return: an SB3 RolloutBuffer holding the pool as one env's consecutive episodes, ready to sample"""
    buffer = RolloutBuffer(pool.n_steps, policy.observation_space, policy.action_space, policy.device, gamma=gamma, n_envs=1)
    buffer.observations = pool.observations.reshape(buffer.observations.shape).astype(buffer.observations.dtype)
    buffer.actions = pool.actions.reshape(buffer.actions.shape).astype(buffer.actions.dtype)
    buffer.rewards = pool.rewards[:, None]
    buffer.episode_starts = pool.episode_starts[:, None]
    buffer.returns = discounted_returns(buffer.rewards, buffer.episode_starts, gamma)
    buffer.pos, buffer.full = pool.n_steps, True
    return buffer


def predict_values(policy: ActorCriticPolicy, observations: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """:return: ``V(s)`` of the policy's value head on the observations, shape ``(n,)``"""
    with th.no_grad():
        values = [
            policy.predict_values(obs_as_tensor(observations[i : i + chunk], policy.device)).flatten().cpu().numpy()
            for i in range(0, len(observations), chunk)
        ]
    return np.concatenate(values).astype(np.float32)


@dataclass
class ValueFit:
    """
    What :func:`fit_value_function` fitted.

    :param critic: the copy of the policy whose ``predict_values`` is the fitted ``V``
    :param passes: the passes over the fit's episodes that gave it (0: the value head as it was)
    :param stopped: ``"converged"`` (the held-out loss did not fall for ``patience`` passes), ``"budget"``
        (``max_epochs`` passes ran) or ``"no fit"``
    :param holdout_r2: ``1 - MSE / Var(G_t)`` of ``V`` on the held-out episodes (NaN without them)
    """

    critic: ActorCriticPolicy
    passes: int
    stopped: str
    holdout_r2: float


def explained_variance(values: np.ndarray, returns: np.ndarray) -> float:
    """:return: ``R^2 = 1 - mean((G - V)^2) / Var(G)`` (NaN when ``G`` is constant); 0 for ``V`` the mean of ``G``"""
    variance = float(np.var(returns))
    return float(1.0 - np.mean((returns - values) ** 2) / variance) if variance > 0 else float("nan")


def fit_value_function(
    policy: ActorCriticPolicy,
    pool: EpisodePool | None,
    gamma: float,
    max_epochs: int = 500,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    patience: int = 10,
    holdout: float = 0.2,
    rng: np.random.Generator | None = None,
) -> ValueFit:
    """
    Fit a copy of the policy's value head to the pool's reward-to-go ``G_t``, with :func:`fit_critic` (Adam), to
    convergence on held-out episodes.

    A ``holdout`` share of the pool's episodes (at least one, when the pool has two) is held out; the fit passes over
    the others, one pass at a time, until the mean squared error on the held-out ``G_t`` has not fallen for
    ``patience`` passes or ``max_epochs`` passes ran, and keeps the value head of the lowest held-out error (the
    head as it was, if no pass lowered it). A pool of one episode has nothing to hold out: ``max_epochs`` passes.
    The fit starts from the policy's own value head (a trained VPG's is already close) and never moves the
    actor. The policy itself is not changed.

    :param policy: the policy
    :param pool: the episodes to fit on, independent of those the baseline will be used on (``None``: no fit)
    :param gamma: discount factor of the returns
    :param max_epochs: the budget: the most passes over the fit's episodes (0: no fit, the value head as it is)
    :param batch_size: minibatch size
    :param learning_rate: Adam's learning rate
    :param patience: passes without a lower held-out error after which the fit stops
    :param holdout: the share of the episodes held out
    :param rng: draws the held-out episodes (default: a new generator)
    :return: the fitted copy, the passes that gave it, why it stopped, and its held-out ``R^2``
    """
    if max_epochs < 0 or patience < 1 or not 0.0 < holdout < 1.0:
        raise ValueError(f"need max_epochs >= 0, patience >= 1, 0 < holdout < 1; got {max_epochs}, {patience}, {holdout}")
    critic = copy.deepcopy(policy)
    critic.set_training_mode(False)
    if pool is None or max_epochs == 0:
        return ValueFit(critic, 0, "no fit", float("nan"))
    rng = rng if rng is not None else np.random.default_rng()
    order = rng.permutation(pool.n_episodes)
    n_held = max(1, round(holdout * pool.n_episodes)) if pool.n_episodes >= 2 else 0
    train, held = pool.select(np.sort(order[n_held:])), pool.select(np.sort(order[:n_held]))
    buffer = _pool_buffer(train, critic, gamma)
    held_returns = _pool_buffer(held, critic, gamma).returns[:, 0] if n_held else np.zeros(0, dtype=np.float32)

    def held_error() -> float:
        return float(np.mean((predict_values(critic, held.observations) - held_returns) ** 2)) if n_held else 0.0

    actor_params, critic_params = split_actor_critic(critic)
    optimizer = th.optim.Adam(critic_params, lr=learning_rate)
    best_error, best_state, best_passes, since, stopped = held_error(), copy.deepcopy(critic.state_dict()), 0, 0, "budget"
    for passes in range(1, max_epochs + 1):
        critic.set_training_mode(True)
        fit_critic(critic, optimizer, buffer, 1, batch_size, frozen_params=actor_params)
        critic.set_training_mode(False)
        if not n_held:
            best_passes = passes
            continue
        if (error := held_error()) < best_error:
            best_error, best_state, best_passes, since = error, copy.deepcopy(critic.state_dict()), passes, 0
        elif (since := since + 1) >= patience:
            stopped = "converged"
            break
    if n_held:
        critic.load_state_dict(best_state)
    r2 = explained_variance(predict_values(critic, held.observations), held_returns) if n_held else float("nan")
    return ValueFit(critic, best_passes, stopped, r2)


def compute_weights(
    pool: EpisodePool,
    policy: ActorCriticPolicy,
    gamma: float,
    values: np.ndarray,
    gae_lambdas: Sequence[float],
) -> dict[str, np.ndarray]:
    """
    The per-step weights that do not depend on the batch. ``G_t-b`` is ``G_t`` here; its batch mean is subtracted
    batch by batch.

    :param pool: the episodes
    :param policy: the policy (for the spaces of SB3's buffer)
    :param gamma: discount factor
    :param values: ``V(s_t)`` on the pool, shape ``(n_steps,)``
    :param gae_lambdas: the lambdas of the GAE weightings
    :return: weighting name -> weights, shape ``(n_steps,)``
    """
    buffer = _pool_buffer(pool, policy, gamma)
    reward_to_go = buffer.returns[:, 0].copy()
    weights = {
        "R(tau)": discounted_returns(buffer.rewards, buffer.episode_starts, gamma, reward_to_go=False)[:, 0],
        "G_t": reward_to_go,
        "G_t-b": reward_to_go,
        "G_t-V": reward_to_go - values,
    }
    buffer.values = values[:, None]
    for gae_lambda in gae_lambdas:
        # The pool's last step ends an episode: nothing is bootstrapped past it
        buffer.gae_lambda = gae_lambda
        buffer.compute_returns_and_advantage(last_values=th.zeros(1), dones=np.ones(1))
        weights[f"GAE({gae_lambda:g})"] = buffer.advantages[:, 0].copy()
    return weights


def form_batches(pool: EpisodePool, batch_size: int, n_batches: int, rng: np.random.Generator) -> list[np.ndarray]:
    """
    Up to ``n_batches`` disjoint batches of whole episodes, each of at least ``batch_size`` steps: episodes in a
    random order, cut where a batch reaches its size.

    :return: the rows of each batch
    """
    batches: list[np.ndarray] = []
    current: list[int] = []
    steps = 0
    for episode in rng.permutation(pool.n_episodes):
        current.append(int(episode))
        steps += int(pool.lengths[episode])
        if steps >= batch_size:
            batches.append(np.concatenate([np.arange(pool.offsets[i], pool.offsets[i + 1]) for i in current]))
            current, steps = [], 0
            if len(batches) == n_batches:
                break
    return batches


def batch_gradients(
    policy: ActorCriticPolicy,
    observations: np.ndarray,
    actions: np.ndarray,
    weights: dict[str, np.ndarray],
    natural: bool = True,
    cg_damping: float = 0.1,
    cg_max_steps: int = 15,
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """
    The policy-gradient estimate of one batch under each weighting, and its natural direction:

        g = grad_theta mean_t log pi(a_t|s_t) Psi_t          (theta: the actor's parameters)
        x = (F + damping I)^-1 g                            (F: the Fisher matrix estimated on the batch)

    ``F`` is NPG's (:func:`~sb3_pg.common.natural.fisher_vector_product_fn`), solved by
    :func:`~sb3_pg.common.natural.solve_fisher`; one graph serves every weighting. A zero gradient has ``x = 0``.

    :param policy: the policy
    :param observations: the batch's observations
    :param actions: the batch's actions
    :param weights: weighting name -> ``Psi_t`` on the batch
    :param natural: also compute ``x``
    :param cg_damping: damping added to ``F``
    :param cg_max_steps: conjugate-gradient iterations
    :return: weighting name -> ``(g, x or None)``, float64 arrays
    """
    actor_params, _ = split_actor_critic(policy)
    obs_tensor = obs_as_tensor(observations, policy.device)  # type: ignore[arg-type]
    actions_tensor = flat_actions(th.as_tensor(actions, device=policy.device), policy.action_space)
    if natural:
        with th.no_grad():
            old_distribution = snapshot(policy, obs_tensor)
    distribution = policy.get_distribution(obs_tensor)
    log_prob = distribution.log_prob(actions_tensor)
    fisher_vector_product = (
        fisher_vector_product_fn(distribution, old_distribution, actor_params, cg_damping) if natural else None
    )
    estimates: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name, psi in weights.items():
        gradient = flat_gradient((log_prob * th.as_tensor(psi, device=policy.device)).mean(), actor_params, retain_graph=True)
        direction = None
        if fisher_vector_product is not None:
            if float(gradient.norm()) > 0.0 and bool(th.isfinite(gradient).all()):
                direction = solve_fisher(gradient, fisher_vector_product, cg_max_steps)[0].detach()
            else:
                direction = th.zeros_like(gradient)
        estimates[name] = (
            gradient.detach().cpu().double().numpy(),
            None if direction is None else direction.cpu().double().numpy(),
        )
    with th.no_grad():  # the policy's distribution object keeps no graph: the policy can be copied (deepcopy) again
        policy.get_distribution(obs_tensor)
    return estimates


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0.0, norms, 1.0)


def gradient_measures(estimates: np.ndarray, reference: np.ndarray, true_reference: np.ndarray) -> dict[str, float]:
    """
    The measures of ``algorithms.md`` section 7 on ``K`` estimates ``g_k``, with ``mean g`` their mean:

    - ``variance``: ``sum_k ||g_k - mean g||^2 / (K - 1)``, the trace of the covariance (unbiased);
      ``variance_se`` its standard error, from the spread of the ``K`` terms;
    - ``relative_variance``: ``variance / ||mean g||^2``; ``snr`` its inverse;
    - ``cos_pairwise``: the mean cosine similarity over the ``K (K - 1)`` ordered pairs ``k != l``;
    - ``cos_ref``, ``cos_true``: the mean cosine of ``g_k`` to ``reference`` and to ``true_reference``.

    A zero estimate counts as cosine 0.

    :param estimates: shape ``(K, n_params)``, ``K >= 2``
    :param reference: the weighting's own gradient on the reference pool
    :param true_reference: the common reference (an unbiased weighting's gradient on the reference pool)
    :return: measure name -> value
    """
    n_batches = len(estimates)
    mean = estimates.mean(axis=0)
    terms = ((estimates - mean) ** 2).sum(axis=1) * n_batches / (n_batches - 1)
    variance = float(terms.mean())
    mean_norm2 = float(mean @ mean)
    units = _unit(estimates)
    unit_sum = units.sum(axis=0)
    # sum over k != l of u_k . u_l = ||sum_k u_k||^2 - sum_k ||u_k||^2
    pairwise = (float(unit_sum @ unit_sum) - float((units**2).sum())) / (n_batches * (n_batches - 1))
    return {
        "variance": variance,
        "variance_se": float(terms.std(ddof=1) / np.sqrt(n_batches)),
        "relative_variance": variance / mean_norm2 if mean_norm2 > 0 else float("inf"),
        "snr": mean_norm2 / variance if variance > 0 else float("inf"),
        "cos_pairwise": pairwise,
        "cos_ref": float((units @ _unit(reference)).mean()),
        "cos_true": float((units @ _unit(true_reference)).mean()),
    }


@dataclass
class GradientReport:
    """
    What :func:`measure_gradients` measured.

    :param rows: one per weighting and batch size: ``weighting``, ``batch_size``, ``n_batches``, ``mean_steps``
        (steps of a batch, at least ``batch_size``), ``mean_episodes``, the :data:`MEASURES` of the gradient and,
        prefixed ``nat_``, of the natural direction
    :param reference: weighting name -> its gradient on the reference pool
    :param natural_reference: weighting name -> its natural direction on the reference pool
    :param true_reference: the unbiased weighting (of :data:`UNBIASED`) whose reference gradient is ``cos_true``'s:
        the one of least variance at the largest batch size
    :param reference_steps: steps in the reference pool
    :param critic_steps: steps in the pool ``V`` was fitted on (its held-out episodes included)
    :param pool_steps: steps in the batch pool
    :param critic_r2: ``R^2`` of ``V`` on the batch pool's ``G_t``: ``1 - mean((G_t - V)^2) / Var(G_t)``, on episodes
        independent of its fit (0: ``V`` explains no more than the pool's mean return)
    :param critic_holdout_r2: ``R^2`` of ``V`` on the fit's held-out episodes
    :param critic_passes: the passes of the value fit that gave ``V`` (0: the policy's value head as it is)
    :param critic_stopped: why the fit stopped: ``"converged"``, ``"budget"`` or ``"no fit"``
    :param estimates: ``(weighting, batch_size) -> (K, n_params)`` gradients, when ``keep_estimates``
    :param natural_estimates: the same for the natural directions
    """

    rows: list[dict[str, Any]]
    reference: dict[str, np.ndarray]
    natural_reference: dict[str, np.ndarray]
    true_reference: str
    reference_steps: int
    critic_steps: int
    pool_steps: int
    critic_r2: float = float("nan")
    critic_holdout_r2: float = float("nan")
    critic_passes: int = 0
    critic_stopped: str = "no fit"
    estimates: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    natural_estimates: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)


def _batch_weights(weights: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    batch = {name: psi[rows] for name, psi in weights.items()}
    batch["G_t-b"] = batch["G_t-b"] - batch["G_t-b"].mean()
    return batch


def measure_gradients(
    policy: ActorCriticPolicy,
    env: VecEnv,
    gamma: float,
    batch_sizes: Sequence[int],
    n_batches: int = 32,
    reference_steps: int | None = None,
    critic_steps: int | None = None,
    critic_epochs: int = 500,
    critic_batch_size: int = 256,
    critic_learning_rate: float = 1e-3,
    critic_patience: int = 10,
    max_episode_steps: int = 10_000,
    gae_lambdas: Sequence[float] = (0.9, 0.95, 0.99),
    natural: bool = True,
    cg_damping: float = 0.1,
    cg_max_steps: int = 15,
    seed: int | None = 0,
    keep_estimates: bool = False,
    progress: Callable[[int], None] | None = None,
) -> GradientReport:
    """
    Measure the policy-gradient estimators of a fixed policy (``algorithms.md`` section 7); see the module's
    docstring for the pools, the batches and the weightings.

    The references: ``cos_ref`` compares each weighting's estimates with that weighting's own gradient on the
    reference pool (its large-sample mean: a biased weighting is compared with its own expectation);
    ``cos_true`` compares them all with one common reference, the gradient on the reference pool of the
    unbiased weighting (``G_t`` or ``G_t-V``, see :data:`UNBIASED`) of least variance at the largest batch size.

    :param policy: the policy, evaluated in eval mode; its parameters are not changed
    :param env: the environment to sample from
    :param gamma: discount factor of the returns and GAE
    :param batch_sizes: the batch sizes ``B``, in steps
    :param n_batches: the number ``K`` of batches per size
    :param reference_steps: steps in the reference pool; default ``10 * max(batch_sizes)``
    :param critic_steps: steps in the pool ``V`` is fitted on; default ``4 * max(batch_sizes)``
    :param critic_epochs: the budget of the value fit: the most passes (0: the policy's value head as it is, a
        fixed ``V``); it stops earlier once ``critic_patience`` passes have not lowered the error on its held-out
        episodes (:func:`fit_value_function`)
    :param critic_batch_size: minibatch size of the value fit
    :param critic_learning_rate: learning rate of the value fit
    :param critic_patience: passes without a lower held-out error after which the value fit stops
    :param max_episode_steps: the longest an episode may run when sampled (:func:`sample_episodes`)
    :param gae_lambdas: the lambdas of the GAE weightings
    :param natural: also measure the natural directions ``F^-1 g``
    :param cg_damping: damping added to ``F``
    :param cg_max_steps: conjugate-gradient iterations
    :param seed: seeds the env, and torch's, NumPy's and Python's global generators (action sampling, the
        value fit); ``None`` leaves them as they are
    :param keep_estimates: keep every estimate in the report (``K * n_params`` floats per weighting and size)
    :param progress: called with the number of batches done since the last call
    :return: the measures
    """
    if n_batches < 2:
        raise ValueError(f"n_batches must be at least 2, got {n_batches}")
    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(f"batch_sizes must be positive integers, got {list(batch_sizes)}")
    if critic_epochs < 0 or critic_patience < 1:
        raise ValueError(f"critic_epochs must be >= 0 and critic_patience >= 1, got {critic_epochs} and {critic_patience}")
    largest = max(batch_sizes)
    reference_steps = 10 * largest if reference_steps is None else reference_steps
    critic_steps = 4 * largest if critic_steps is None else critic_steps
    rng = np.random.default_rng(seed)
    if seed is not None:
        from stable_baselines3.common.utils import set_random_seed

        set_random_seed(seed)
        env.seed(seed)
    names = weighting_names(gae_lambdas)
    was_training = policy.training
    policy.set_training_mode(False)

    # V, fitted on its own episodes
    critic_pool = sample_episodes(policy, env, critic_steps, max_episode_steps) if critic_epochs > 0 else None
    fit = fit_value_function(
        policy,
        critic_pool,
        gamma,
        critic_epochs,
        critic_batch_size,
        critic_learning_rate,
        critic_patience,
        rng=np.random.default_rng(None if seed is None else [seed, 1]),  # not rng: the batches stay those of the seed
    )
    critic = fit.critic

    def weights_of(pool: EpisodePool) -> dict[str, np.ndarray]:
        return compute_weights(pool, policy, gamma, predict_values(critic, pool.observations), gae_lambdas)

    # The reference: every weighting's gradient on one large pool
    reference_pool = sample_episodes(policy, env, reference_steps, max_episode_steps)
    all_rows = np.arange(reference_pool.n_steps)
    reference_estimates = batch_gradients(
        policy,
        reference_pool.observations,
        reference_pool.actions,
        _batch_weights(weights_of(reference_pool), all_rows),
        natural,
        cg_damping,
        cg_max_steps,
    )
    reference = {name: estimate[0] for name, estimate in reference_estimates.items()}
    natural_reference = {name: estimate[1] for name, estimate in reference_estimates.items() if estimate[1] is not None}

    # The batch pool: K batches of every size, whatever the order of the episodes (a batch overshoots its
    # size by less than an episode)
    pool = sample_episodes(policy, env, n_batches * largest, max_episode_steps)
    while pool.n_steps < n_batches * (largest + int(pool.lengths.max()) - 1):
        pool = pool.concatenate(sample_episodes(policy, env, n_batches * (int(pool.lengths.max()) - 1), max_episode_steps))
    pool_weights = weights_of(pool)

    critic_pool_steps = 0 if critic_pool is None else critic_pool.n_steps
    report = GradientReport([], reference, natural_reference, "", reference_pool.n_steps, critic_pool_steps, pool.n_steps)
    report.critic_r2 = explained_variance(pool_weights["G_t"] - pool_weights["G_t-V"], pool_weights["G_t"])
    report.critic_holdout_r2, report.critic_passes, report.critic_stopped = fit.holdout_r2, fit.passes, fit.stopped
    episode_starts = pool.episode_starts
    # The largest size first: it picks the common reference
    for batch_size in sorted(set(batch_sizes), reverse=True):
        batches = form_batches(pool, batch_size, n_batches, rng)
        gradients: dict[str, list[np.ndarray]] = {name: [] for name in names}
        directions: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for rows in batches:
            estimates = batch_gradients(
                policy,
                pool.observations[rows],
                pool.actions[rows],
                _batch_weights(pool_weights, rows),
                natural,
                cg_damping,
                cg_max_steps,
            )
            for name, (gradient, direction) in estimates.items():
                gradients[name].append(gradient)
                if direction is not None:
                    directions[name].append(direction)
            if progress is not None:
                progress(1)
        stacked = {name: np.stack(gradients[name]) for name in names}
        stacked_natural = {name: np.stack(directions[name]) for name in names} if natural else {}
        if not report.true_reference:
            variances = {name: ((stacked[name] - stacked[name].mean(axis=0)) ** 2).sum() for name in UNBIASED}
            report.true_reference = min(variances, key=variances.__getitem__)
        lengths = np.array([len(rows) for rows in batches])
        for name in names:
            row: dict[str, Any] = {
                "weighting": name,
                "batch_size": batch_size,
                "n_batches": len(batches),
                "mean_steps": float(lengths.mean()),
                "mean_episodes": float(np.mean([episode_starts[rows].sum() for rows in batches])),
            }
            row.update(gradient_measures(stacked[name], reference[name], reference[report.true_reference]))
            if natural:
                measures = gradient_measures(
                    stacked_natural[name], natural_reference[name], natural_reference[report.true_reference]
                )
                row.update({f"nat_{key}": value for key, value in measures.items()})
            report.rows.append(row)
            if keep_estimates:
                report.estimates[name, batch_size] = stacked[name]
                if natural:
                    report.natural_estimates[name, batch_size] = stacked_natural[name]
    report.rows.sort(key=lambda row: (names.index(row["weighting"]), row["batch_size"]))
    policy.set_training_mode(was_training)
    return report
