"""Hyperparameter validation and the check that a rollout holds only finite numbers."""

import math
import warnings
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer

# What SB3's ActorCriticPolicy family can act in and observe
SUPPORTED_ACTION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
SUPPORTED_OBSERVATION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Dict)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int) -> None:
    """:raise ValueError: unless ``value`` is an integer ``>= minimum``"""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    """:raise ValueError: unless ``value`` is a bool"""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_real(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """:raise ValueError: unless ``value`` is a finite number in the interval, whose ends are closed unless said open"""
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    ok = _is_real(value) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")


def check_learning_rate(name: str, value: Any) -> None:
    """:raise ValueError: unless ``value`` is a number > 0 or a schedule whose initial value is > 0"""
    if callable(value):
        initial = value(1.0)
        if not (_is_real(initial) and math.isfinite(initial) and initial > 0):
            raise ValueError(f"{name} schedule must start at a finite value > 0, got {name}(1.0) = {initial!r}")
    else:
        check_real(name, value, low=0.0, low_open=True)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """:raise ValueError: unless ``value`` is one of ``choices``"""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_spaces(algorithm: str, observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """:raise ValueError: when the policy family cannot handle the observation or action space"""
    if not isinstance(action_space, SUPPORTED_ACTION_SPACES):
        names = ", ".join(cls.__name__ for cls in SUPPORTED_ACTION_SPACES)
        raise ValueError(f"action_space {action_space} is not supported by {algorithm}: use one of {names}")
    if not isinstance(observation_space, SUPPORTED_OBSERVATION_SPACES):
        names = ", ".join(cls.__name__ for cls in SUPPORTED_OBSERVATION_SPACES)
        raise ValueError(f"observation_space {observation_space} is not supported by {algorithm}: use one of {names}")


def check_rollout_finite(rollout_buffer: RolloutBuffer, num_timesteps: int) -> None:
    """
    Refuse a rollout with a non-finite reward or observation, before it can reach the parameters.

    Runs once per rollout on whole arrays, so it costs nothing per environment step. To find the source of a
    NaN inside the environment, wrap it in SB3's ``VecCheckNan``.

    :param rollout_buffer: the buffer just filled (``pos`` rows of ``n_envs`` envs)
    :param num_timesteps: the algorithm's step counter at the end of the rollout
    :raise ValueError: naming the first bad value, its env and its timestep
    """
    n_rows, n_envs = rollout_buffer.pos, rollout_buffer.n_envs
    first_timestep = num_timesteps - n_rows * n_envs
    observations = rollout_buffer.observations
    named = {"reward": rollout_buffer.rewards[:n_rows]}
    if isinstance(observations, dict):
        named.update({f"observation[{key!r}]": obs[:n_rows] for key, obs in observations.items()})
    else:
        named["observation"] = observations[:n_rows]
    for what, array in named.items():
        if not np.issubdtype(array.dtype, np.floating):
            continue
        bad = ~np.isfinite(array.reshape(n_rows, n_envs, -1)).all(axis=2)
        if bad.any():
            step, env = np.argwhere(bad)[0]
            raise ValueError(
                f"Non-finite {what} at step {step} of the rollout in env {env} "
                f"(timestep {first_timestep + step * n_envs + env + 1}); the update was not made. "
                "Check the environment, or wrap it in VecCheckNan(raise_exception=True) to stop at the source."
            )


def check_max_grad_norm(value: Any) -> None:
    """:raise ValueError: unless ``value`` is a number > 0, or ``inf`` or ``None`` (no clipping)"""
    if value is None or (_is_real(value) and value == math.inf):
        return
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"max_grad_norm must be a number > 0, or inf or None for no clipping, got {value!r}")


def check_rollout_size(batch_size: int, n_steps: int, n_envs: int, normalize_advantage: bool) -> None:
    """
    Check the rollout against the minibatches it is cut into, once the number of envs is known.

    Warn, as SB3's PPO does, when the minibatches do not divide the rollout; a ``batch_size`` larger than the
    rollout is accepted: the whole rollout is then one minibatch, as in SB3's ``RolloutBuffer.get``.

    A rollout of one step cannot be standardised: with ``normalize_advantage`` its advantage is used as it is
    (SB3's PPO refuses this combination; A2C, whose ``normalize_advantage`` is off by default, accepts it).
    """
    buffer_size = n_steps * n_envs
    if normalize_advantage and buffer_size < 2:
        warnings.warn(
            f"normalize_advantage=True with a rollout of n_steps * n_envs = {buffer_size} step: a single advantage "
            "cannot be standardised and is used as it is",
            stacklevel=4,
        )
    if buffer_size % batch_size > 0:
        full, rest = divmod(buffer_size, batch_size)
        shape = f"{full} minibatches of {batch_size} and one of {rest}" if full else f"one minibatch of {rest}"
        warnings.warn(
            f"You have specified a mini-batch size of {batch_size} (batch_size) for a rollout of n_steps * n_envs = "
            f"{n_steps} * {n_envs} = {buffer_size} steps: each pass over it makes {shape}. "
            "A batch_size that divides n_steps * n_envs avoids the odd one.",
            stacklevel=4,
        )


def _positive_or_none(name: str, value: Any) -> None:
    if value is not None:
        check_real(name, value, low=0.0, low_open=True)


# The one rule for each constructor argument that two or more of the algorithms share, by name
HYPERPARAMETER_RULES: dict[str, Callable[[str, Any], None]] = {
    **dict.fromkeys(("learning_rate", "vf_learning_rate"), check_learning_rate),
    **dict.fromkeys(
        ("n_steps", "batch_size", "n_epochs", "n_critic_updates", "cg_max_steps", "sub_sampling_factor", "stats_window_size"),
        lambda name, value: check_int(name, value, 1),
    ),
    "sde_sample_freq": lambda name, value: check_int(name, value, -1),
    **dict.fromkeys(("gamma", "gae_lambda"), lambda name, value: check_real(name, value, 0.0, 1.0)),
    **dict.fromkeys(("ent_coef", "vf_coef", "cg_damping"), lambda name, value: check_real(name, value, low=0.0)),
    "target_kl": lambda name, value: check_real(name, value, low=0.0, low_open=True),
    "step_size": _positive_or_none,
    **dict.fromkeys(("normalize_advantage", "use_sde", "fast_rollout"), check_bool),
    "max_grad_norm": lambda name, value: check_max_grad_norm(value),
}


def check_hyperparameters(arguments: Mapping[str, Any]) -> None:
    """
    Check every argument that has a rule in ``HYPERPARAMETER_RULES``, so that the algorithms share one rule per name.

    :param arguments: a constructor's arguments by name (its ``locals()``); names without a rule are skipped
    :raise ValueError: naming the first argument that breaks its rule
    """
    for name, value in arguments.items():
        if name in HYPERPARAMETER_RULES:
            HYPERPARAMETER_RULES[name](name, value)


def check_env_and_batch(model: Any, batch_size: int | None = None, normalize_advantage: bool = False) -> None:
    """
    Once the env is known: its spaces are ones the policies take, and ``batch_size`` against the rollout.

    :param model: the algorithm, after ``OnPolicyAlgorithm.__init__`` (nothing is checked without an env)
    :param batch_size: the minibatch size, if the algorithm has one
    :param normalize_advantage: whether advantages are standardised per minibatch
    """
    if model.env is None:
        return
    check_spaces(type(model).__name__, model.observation_space, model.action_space)
    if batch_size is not None:
        check_rollout_size(batch_size, model.n_steps, model.n_envs, normalize_advantage)
