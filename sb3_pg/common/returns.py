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
    n_steps = rewards.shape[0]
    returns = np.zeros(rewards.shape, dtype=np.float64)
    # next_non_terminal[t] = 0 when step t is the last of its episode
    next_non_terminal = np.ones(rewards.shape, dtype=np.float64)
    next_non_terminal[:-1] = 1.0 - episode_starts[1:]
    next_non_terminal[-1] = 0.0
    running = np.zeros(rewards.shape[1:], dtype=np.float64)
    for step in reversed(range(n_steps)):
        running = rewards[step] + gamma * next_non_terminal[step] * running
        returns[step] = running
    if not reward_to_go:
        # Broadcast each episode's return, G_0 of its first step, to all of its steps
        episode_return = returns[0].copy()
        for step in range(n_steps):
            episode_return = np.where(episode_starts[step], returns[step], episode_return)
            returns[step] = episode_return
    return returns.astype(np.float32)
