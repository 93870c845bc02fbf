"""Gradient quality measured during training, logged next to the learning curve."""

import copy
import random
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, sync_envs_normalization

from sb3_pg.common.checks import check_int
from sb3_pg.gradients.estimators import MEASURES, GradientReport, measure_gradients


def log_key(weighting: str) -> str:
    """:return: the weighting's name as a tensorboard tag: ``G_t-V`` -> ``G_t_minus_V``, ``GAE(0.95)`` -> ``GAE_0.95``"""
    return weighting.replace("R(tau)", "R_tau").replace("-", "_minus_").replace("(", "_").replace(")", "")


class GradientQualityCallback(BaseCallback):
    """
    Measure the policy-gradient estimators every ``every_n_updates`` rollouts, at the policy that collected the
    rollout (before its update), and log the measures under ``gradients/<weighting>/<measure>`` (and
    ``gradients/<weighting>/nat_<measure>`` for the natural direction), with the batches' mean size in
    ``gradients/batch_steps``. See :func:`~sb3_pg.gradients.estimators.measure_gradients` for the measures;
    ``last_report.true_reference`` names the weighting whose reference ``cos_true`` uses.

    Training is not changed: the measure samples from its own env, works on a copy of the policy (the value fit
    included), adds nothing to ``num_timesteps``, and restores torch's, NumPy's and Python's global random states,
    which it seeds with ``seed`` plus the number of measures taken. If the training env is a ``VecNormalize``, give
    a ``VecNormalize`` env here: its statistics are synchronised from the training env before each measure, as
    SB3's ``EvalCallback`` does. With the defaults a measure samples about ``(n_batches + 14) * batch_size`` steps
    (the batches, the reference pool and the value fit's pool): measuring every 10 updates with ``n_batches=8``
    more than triples the env steps of training.

    :param env: the env to measure on: a ``VecEnv``, an env id or a function making a ``gym.Env``
    :param every_n_updates: measure at rollout 1, then every ``every_n_updates`` rollouts
    :param batch_size: the batch size ``B`` of the estimates, in steps; default: the model's rollout,
        ``n_steps * n_envs``
    :param n_batches: the number ``K`` of batches
    :param reference_steps: steps in the reference pool; default ``10 * batch_size``
    :param critic_steps: steps the value function is fitted on; default ``4 * batch_size``
    :param critic_epochs: the budget of the value fit, in passes, from the policy's value head (0: the value head as
        it is); it stops earlier once ``critic_patience`` passes have not lowered its error on held-out episodes
    :param critic_patience: passes without a lower held-out error after which the value fit stops
    :param gae_lambdas: the lambdas of the GAE weightings
    :param natural: also measure the natural directions
    :param n_envs: envs to make when ``env`` is an id or a function
    :param seed: seed of the measures
    :param verbose: verbosity level
    """

    def __init__(
        self,
        env: VecEnv | str | Callable[[], gym.Env],
        every_n_updates: int = 10,
        batch_size: int | None = None,
        n_batches: int = 8,
        reference_steps: int | None = None,
        critic_steps: int | None = None,
        critic_epochs: int = 500,
        critic_patience: int = 10,
        gae_lambdas: Sequence[float] = (0.9, 0.95, 0.99),
        natural: bool = True,
        n_envs: int = 4,
        seed: int = 0,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        check_int("every_n_updates", every_n_updates, 1)
        check_int("n_batches", n_batches, 2)
        self.measure_env = env if isinstance(env, VecEnv) else make_vec_env(env, n_envs=n_envs, seed=seed)
        self.every_n_updates = every_n_updates
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.reference_steps = reference_steps
        self.critic_steps = critic_steps
        self.critic_epochs = critic_epochs
        self.critic_patience = critic_patience
        self.gae_lambdas = tuple(gae_lambdas)
        self.natural = natural
        self.seed = seed
        self.n_rollouts = 0
        self.n_measures = 0
        self.last_report: GradientReport | None = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.n_rollouts += 1
        if (self.n_rollouts - 1) % self.every_n_updates == 0:
            self.measure()

    def measure(self) -> GradientReport:
        """Measure now, log, and return the report."""
        model: Any = self.model
        batch_size = self.batch_size or model.n_steps * model.n_envs
        if model.get_vec_normalize_env() is not None:
            if not isinstance(self.measure_env, VecNormalize):
                raise ValueError("the training env is a VecNormalize: GradientQualityCallback needs a VecNormalize env too")
            sync_envs_normalization(model.get_env(), self.measure_env)
        states = (random.getstate(), np.random.get_state(), th.get_rng_state())
        cuda_states = th.cuda.get_rng_state_all() if th.cuda.is_available() else None
        try:
            # Without the action distribution's cache, which may hold tensors of the last update's autograd graph
            cached = getattr(model.policy.action_dist, "distribution", None)
            policy: ActorCriticPolicy = copy.deepcopy(model.policy, {id(cached): None})
            report = measure_gradients(
                policy,
                self.measure_env,
                model.gamma,
                [batch_size],
                n_batches=self.n_batches,
                reference_steps=self.reference_steps,
                critic_steps=self.critic_steps,
                critic_epochs=self.critic_epochs,
                critic_patience=self.critic_patience,
                gae_lambdas=self.gae_lambdas,
                natural=self.natural,
                cg_damping=getattr(model, "cg_damping", 0.1),
                cg_max_steps=getattr(model, "cg_max_steps", 15),
                seed=self.seed + self.n_measures,
            )
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
            th.set_rng_state(states[2])
            if cuda_states is not None:
                th.cuda.set_rng_state_all(cuda_states)
        self.n_measures += 1
        self.logger.record("gradients/batch_steps", report.rows[0]["mean_steps"])
        for row in report.rows:
            prefix = f"gradients/{log_key(row['weighting'])}/"
            for name, value in row.items():
                if name.removeprefix("nat_") in MEASURES and not name.endswith("_se"):
                    self.logger.record(prefix + name, value)
        self.last_report = report
        return report
