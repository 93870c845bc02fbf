"""
Monte Carlo returns over complete episodes (``algorithms.md`` section 2).

Arrays are laid out as SB3's rollout buffers lay them out: ``[step, env]``.
``episode_starts[t, e]`` is 1 when observation ``t`` of env ``e`` is the first of an episode.
"""

import numpy as np


def discounted_returns(
    rewards: np.ndarray,
    episode_starts: np.ndarray,
    gamma: float,
    reward_to_go: bool = True,
) -> np.ndarray:
    """
    Exact discounted returns of complete episodes, never bootstrapped.

    Every episode must end inside the arrays: at step ``t`` when ``episode_starts[t + 1]`` is set,
    or at the last row. A step after the last episode end of an env (see
    :class:`~sb3_pg.common.buffers.EpisodicRolloutBuffer`) gets a value that must not be used.

    - reward-to-go (``reward_to_go=True``): ``G_t = sum_{k >= t} gamma^(k - t) r_k``, the rewards that
      followed step ``t`` in its own episode;
    - full-trajectory return (``reward_to_go=False``): ``R(tau) = sum_k gamma^k r_k``, the same weight for
      every step of an episode.

    Following the usual convention, the ``gamma^t`` factor of the discounted objective is dropped.

    :param rewards: rewards, shape ``(n_steps, n_envs)``
    :param episode_starts: episode-start flags, shape ``(n_steps, n_envs)``
    :param gamma: discount factor
    :param reward_to_go: weight step ``t`` by the return from ``t`` on instead of the whole episode's return
    :return: the returns, shape ``(n_steps, n_envs)``, float32
    """
    n_steps, n_envs = rewards.shape
    returns = np.empty((n_steps, n_envs), dtype=np.float64)
    # The recursions run in Python floats, one env at a time: on arrays of n_envs numbers, NumPy's
    # per-call overhead would cost 20 times more
    for env in range(n_envs):
        rewards_env = rewards[:, env].astype(np.float64).tolist()
        # continues[t] = 0 when step t is the last of its episode
        continues = [*(1.0 - episode_starts[1:, env].astype(np.float64)).tolist(), 0.0]
        column = [0.0] * n_steps
        running = 0.0
        for step in range(n_steps - 1, -1, -1):
            running = rewards_env[step] + gamma * continues[step] * running
            column[step] = running
        if not reward_to_go:
            # Each episode's return G_0, from its first step, is the weight of all of its steps
            starts = episode_starts[:, env].tolist()
            episode_return = column[0]
            for step in range(n_steps):
                if starts[step]:
                    episode_return = column[step]
                column[step] = episode_return
        returns[:, env] = column
    return returns.astype(np.float32)


def generalized_advantages(
    rewards: np.ndarray,
    values: np.ndarray,
    episode_starts: np.ndarray,
    last_values: np.ndarray,
    dones: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """
    GAE(``gae_lambda``) advantages, by the recursion of SB3's ``RolloutBuffer.compute_returns_and_advantage``:

        delta_t = r_t + gamma * V_{t+1} * (1 - d_{t+1}) - V_t,   A_t = delta_t + gamma * lambda * (1 - d_{t+1}) * A_{t+1}

    where ``d_{t+1}`` is ``episode_starts[t + 1]``, or ``dones`` after the last row, and ``V`` after the last row
    is ``last_values``. The recursion runs in Python floats, one env at a time (SB3's runs NumPy calls on
    ``(n_envs,)`` arrays, about 20 times slower for one env); the results agree to float32 rounding.

    :param rewards: rewards, shape ``(n_steps, n_envs)``
    :param values: values of the observations, shape ``(n_steps, n_envs)``
    :param episode_starts: episode-start flags, shape ``(n_steps, n_envs)``
    :param last_values: values of the observations after the last row, shape ``(n_envs,)``
    :param dones: whether the last row's step ended an episode, shape ``(n_envs,)``
    :param gamma: discount factor
    :param gae_lambda: GAE's bias-variance trade-off
    :return: the advantages, shape ``(n_steps, n_envs)``, float32
    """
    n_steps, n_envs = rewards.shape
    advantages = np.empty((n_steps, n_envs), dtype=np.float64)
    for env in range(n_envs):
        rewards_env, values_env = rewards[:, env].tolist(), values[:, env].tolist()
        continues = [*(1.0 - episode_starts[1:, env].astype(np.float64)).tolist(), 1.0 - float(dones[env])]
        next_values = [*values_env[1:], float(last_values[env])]
        column = [0.0] * n_steps
        running = 0.0
        for step in range(n_steps - 1, -1, -1):
            delta = rewards_env[step] + gamma * next_values[step] * continues[step] - values_env[step]
            running = delta + gamma * gae_lambda * continues[step] * running
            column[step] = running
        advantages[:, env] = column
    return advantages.astype(np.float32)
