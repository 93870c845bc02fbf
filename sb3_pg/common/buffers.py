"""
Rollout buffers that hold complete episodes.

SB3's :class:`~stable_baselines3.common.buffers.RolloutBuffer` has a fixed number of rows and cuts every
trajectory at ``n_steps``. REINFORCE must not use a cut-off return, so its buffer grows until every env has
finished an episode, and masks out the steps an env takes once it has finished its last stored episode
(see :meth:`sb3_pg.REINFORCE.collect_rollouts`).
"""

from collections.abc import Generator

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples

_PER_STEP_ARRAYS = ("actions", "rewards", "returns", "episode_starts", "values", "log_probs", "advantages", "active")
_SAMPLE_ARRAYS = ("actions", "values", "log_probs", "advantages", "returns", "active")


class _EpisodicStorage:
    """
    Growth and masking shared by :class:`EpisodicRolloutBuffer` and :class:`EpisodicDictRolloutBuffer`.

    ``buffer_size`` starts at ``n_steps`` and doubles whenever a rollout needs more rows.
    ``active[t, e]`` marks the rows that belong to a stored episode; only those are sampled.
    """

    # Attributes of the SB3 buffers this mixin is combined with
    buffer_size: int
    n_envs: int
    pos: int
    full: bool
    generator_ready: bool
    observations: np.ndarray | dict[str, np.ndarray]
    active: np.ndarray

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self.active = np.zeros((self.buffer_size, self.n_envs), dtype=bool)

    def _grow(self) -> None:
        def doubled(array: np.ndarray) -> np.ndarray:
            return np.concatenate([array, np.zeros_like(array)], axis=0)

        if isinstance(self.observations, dict):
            self.observations = {key: doubled(obs) for key, obs in self.observations.items()}
        else:
            self.observations = doubled(self.observations)
        for name in _PER_STEP_ARRAYS:
            setattr(self, name, doubled(getattr(self, name)))
        self.buffer_size *= 2
        self.full = False

    def add_step(self, *args, active: np.ndarray, **kwargs) -> None:
        """
        Store one step of every env, as SB3's ``add()``, growing the storage first if it is full.

        :param active: which envs' steps belong to a stored episode, shape ``(n_envs,)``
        """
        if self.pos == self.buffer_size:
            self._grow()
        self.active[self.pos] = active
        self.add(*args, **kwargs)  # type: ignore[attr-defined]

    def finish(self) -> None:
        """Trim the storage to the rows collected: the buffer is then ready to sample."""
        n_rows = self.pos
        if isinstance(self.observations, dict):
            self.observations = {key: obs[:n_rows] for key, obs in self.observations.items()}
        else:
            self.observations = self.observations[:n_rows]
        for name in _PER_STEP_ARRAYS:
            setattr(self, name, getattr(self, name)[:n_rows])
        self.buffer_size = n_rows
        self.full = True

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples | DictRolloutBufferSamples, None, None]:
        """Yield (mini)batches of the active steps only, in random order."""
        assert self.full, "finish() must be called before sampling"
        if not self.generator_ready:
            swap_and_flatten = self.swap_and_flatten  # type: ignore[attr-defined]
            if isinstance(self.observations, dict):
                self.observations = {key: swap_and_flatten(obs) for key, obs in self.observations.items()}
            else:
                self.observations = swap_and_flatten(self.observations)
            for name in _SAMPLE_ARRAYS:
                setattr(self, name, swap_and_flatten(getattr(self, name)))
            self.generator_ready = True

        indices = np.random.permutation(np.flatnonzero(self.active))
        if batch_size is None:
            batch_size = len(indices)
        for start in range(0, len(indices), batch_size):
            yield self._get_samples(indices[start : start + batch_size])  # type: ignore[attr-defined]


class EpisodicRolloutBuffer(_EpisodicStorage, RolloutBuffer):  # type: ignore[misc]
    """
    A :class:`~stable_baselines3.common.buffers.RolloutBuffer` that holds complete episodes:
    it grows past ``n_steps`` rows and samples only the steps marked active.
    """


class EpisodicDictRolloutBuffer(_EpisodicStorage, DictRolloutBuffer):  # type: ignore[misc]
    """The :class:`EpisodicRolloutBuffer` of dict observations."""

    observation_space: spaces.Dict


__all__ = ["EpisodicDictRolloutBuffer", "EpisodicRolloutBuffer"]
