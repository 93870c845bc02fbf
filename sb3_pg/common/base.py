"""What the four algorithms share beyond SB3's OnPolicyAlgorithm: the rollout path, and model files naming their algorithm."""

import io
import pathlib
from typing import Any, ClassVar, TypeVar

import torch as th
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback

from sb3_pg.common.checks import check_rollout_finite
from sb3_pg.common.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_pg.common.policy_gradient import record_std
from sb3_pg.common.rollout import FastRollout

SelfPolicyGradient = TypeVar("SelfPolicyGradient", bound="PolicyGradientAlgorithm")


def check_model_file(path: str | pathlib.Path | io.BufferedIOBase, algorithm: type) -> None:
    """
    Check that ``path`` is a readable model file written by ``algorithm``.

    :param path: the model file (as SB3's ``load`` takes it: ``.zip`` is tried when the name has no suffix)
    :param algorithm: the class expected to have written it
    :raise FileNotFoundError: as SB3's ``load`` raises it, when there is no such file
    :raise ValueError: naming the file and what is wrong with it, when it exists and cannot be read
    """
    try:
        data, _, _ = load_from_zip_file(path, device="cpu")
    except FileNotFoundError:  # no such file: what SB3's load raises (``except FileNotFoundError`` resumes work)
        raise
    except Exception as error:  # a truncated zip, a corrupted archive member, a missing entry, ...
        message = f"{path} is not a readable {algorithm.__name__} model file (truncated or corrupted?): {error}"
        raise ValueError(message) from error
    if data is None:
        raise ValueError(f"{path} is not a readable {algorithm.__name__} model file (truncated or corrupted?): no data entry")
    written_by = data.get("algorithm_name")
    if written_by != algorithm.__name__:
        origin = f"by {written_by}" if written_by else "by another algorithm (not by sb3_pg)"
        raise ValueError(f"{path} was saved {origin}; load it with that algorithm's load(), not {algorithm.__name__}.load()")


class PolicyGradientAlgorithm(FastRollout, OnPolicyAlgorithm):
    """
    SB3's ``OnPolicyAlgorithm``, whose rollouts compute per step only the action, whose saved files record the
    algorithm and whose ``load`` checks it.

    **Rollouts** are collected by :class:`~sb3_pg.common.rollout.FastRollout`, with ``fast_rollout`` a
    constructor argument.

    SB3's own ``load`` accepts a file of another algorithm that uses the same policy class (a PPO file loads as
    an NPG, silently); this one refuses it, and refuses a truncated or corrupted file with the file's name. A
    missing file raises ``FileNotFoundError``, as SB3's ``load`` does.
    With ``force_reset=False`` the env given to ``load`` is left as it is: the saved seed is not applied to it.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }

    def __init__(self, *args: Any, fast_rollout: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_rollout = fast_rollout
        # Saved with the model's data, checked by load()
        self.algorithm_name = type(self).__name__

    def _start_update(self) -> None:
        """The start of every ``train()``: refuse a non-finite rollout, training mode, the policy's learning rate."""
        check_rollout_finite(self.rollout_buffer, self.num_timesteps)
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

    def _record_update(self, values: dict[str, float]) -> None:
        """The end of every ``train()``: log ``values`` by key, a Gaussian policy's ``train/std``, ``train/n_updates``."""
        for key, value in values.items():
            self.logger.record(key, value)
        record_std(self.logger, self.policy)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def learn(
        self: SelfPolicyGradient,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfPolicyGradient:
        """SB3's ``learn``; ``tb_log_name`` defaults to the algorithm's name, as SB3's own algorithms name theirs."""
        return super().learn(
            total_timesteps, callback, log_interval, tb_log_name or type(self).__name__, reset_num_timesteps, progress_bar
        )

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfPolicyGradient],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfPolicyGradient:
        check_model_file(path, cls)
        model = super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)
        if env is not None and not force_reset:
            # SB3's load seeds the env for its next reset(). Without force_reset the env goes on as it was, so
            # that learn(reset_num_timesteps=False) continues as if never interrupted (REINFORCE resets envs
            # between rollouts when n_envs > 1, which would otherwise pick the seed up).
            venv: Any = model.get_env()
            while venv is not None:
                venv._reset_seeds()
                venv = getattr(venv, "venv", None)
        return model
