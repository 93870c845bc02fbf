import copy
import math
import warnings
from collections import defaultdict
from typing import Any, TypeVar

import numpy as np
import torch as th
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import Distribution, kl_divergence
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import (
    DictRolloutBufferSamples,
    GymEnv,
    RolloutBufferSamples,
    Schedule,
)
from stable_baselines3.common.utils import FloatSchedule, explained_variance
from torch.distributions import Normal
from torch.nn import functional as F

from sb3_pg.common.base import PolicyGradientAlgorithm
from sb3_pg.common.checks import (
    check_choice,
    check_env_and_batch,
    check_hyperparameters,
    check_learning_rate,
    check_real,
)
from sb3_pg.common.policy_gradient import entropy_loss, evaluate, flat_actions, snapshot, standardized

SelfKLPPO = TypeVar("SelfKLPPO", bound="KLPPO")

KL_COEF_UPDATES = ("adaptive", "dual", "fixed")
# The adaptive rule keeps beta in this range: unbounded, a long run of small KLs halves it to 0, which never doubles again
ADAPTIVE_KL_COEF_RANGE = (1e-6, 1e6)


def check_kl_coef_settings(kl_coef_update: Any, kl_coef: Any, kl_coef_lr: Any, target_kl: Any) -> None:
    """
    Check the settings of the penalty's coefficient together: the rule, beta, its step size and d_targ.

    :raise ValueError: naming the first argument that does not fit ``kl_coef_update``
    """
    check_choice("kl_coef_update", kl_coef_update, KL_COEF_UPDATES)
    # The adaptive rule only multiplies beta: from 0 it would never move
    check_real("kl_coef", kl_coef, low=0.0, low_open=kl_coef_update == "adaptive")
    check_real("kl_coef_lr", kl_coef_lr, low=0.0, low_open=True)
    if target_kl is None and kl_coef_update != "fixed":
        raise ValueError(f"target_kl is needed by kl_coef_update={kl_coef_update!r}: give d_targ, a number > 0")
    if target_kl is not None:
        check_real("target_kl", target_kl, low=0.0, low_open=True)


def update_kl_coef(kl_coef: float, kl: float, target_kl: float | None, kl_coef_update: str, kl_coef_lr: float) -> float:
    """
    Move beta once per rollout (``algorithms.md`` section 6), on d = the rollout's mean KL after the epochs.

    :param kl_coef: beta, the coefficient of the KL penalty
    :param kl: d, the mean KL over the whole rollout measured after the epochs
    :param target_kl: d_targ (unused by ``"fixed"``, which may give ``None``)
    :param kl_coef_update: ``"adaptive"`` (the PPO paper: d < d_targ / 1.5 halves beta, d > 1.5 d_targ doubles it,
        then beta is clamped to ``ADAPTIVE_KL_COEF_RANGE``), ``"dual"`` (dual gradient descent: beta <- max(0, beta +
        kl_coef_lr * (d - d_targ))) or ``"fixed"``
    :param kl_coef_lr: the step size of ``"dual"``
    :return: the new beta; beta unchanged when ``kl`` is not finite
    :raise ValueError: for an unknown ``kl_coef_update``
    """
    check_choice("kl_coef_update", kl_coef_update, KL_COEF_UPDATES)
    if kl_coef_update == "fixed" or not math.isfinite(kl):
        return kl_coef
    assert target_kl is not None, "check_kl_coef_settings refuses target_kl=None for the adaptive and dual rules"
    if kl_coef_update == "adaptive":
        if kl < target_kl / 1.5:
            kl_coef = kl_coef / 2
        elif kl > 1.5 * target_kl:
            kl_coef = kl_coef * 2
        low, high = ADAPTIVE_KL_COEF_RANGE
        return min(max(kl_coef, low), high)
    return max(0.0, kl_coef + kl_coef_lr * (kl - target_kl))


def kl_per_state(old: Distribution, new: Distribution) -> th.Tensor:
    """
    :return: KL(old || new) of the whole action distribution at each state, shape ``(batch,)``: SB3's
        ``kl_divergence`` summed over the action dimensions (a diagonal Gaussian's, a MultiBinary's)
    """
    kl = kl_divergence(old, new)
    return kl.sum(dim=1) if kl.dim() > 1 else kl


def _distribution_rows(distribution: Distribution, indices: th.Tensor) -> Distribution:
    """:return: a copy of a batch of SB3 distributions that holds only the rows ``indices``"""

    def rows(torch_distribution: Any) -> Any:
        if isinstance(torch_distribution, list):  # MultiCategorical
            return [rows(part) for part in torch_distribution]
        if isinstance(torch_distribution, Normal):  # DiagGaussian, StateDependentNoise (gSDE)
            return Normal(torch_distribution.loc[indices], torch_distribution.scale[indices], validate_args=False)
        # Categorical, Bernoulli
        return type(torch_distribution)(logits=torch_distribution.logits[indices], validate_args=False)

    selected = copy.copy(distribution)
    selected.distribution = rows(distribution.distribution)
    return selected


def _sample_rows(
    samples: RolloutBufferSamples | DictRolloutBufferSamples, indices: th.Tensor
) -> RolloutBufferSamples | DictRolloutBufferSamples:
    """:return: the rows ``indices`` of a batch from the rollout buffer"""
    rows = [tensor[indices] for tensor in samples[1:]]
    if isinstance(samples.observations, dict):
        return DictRolloutBufferSamples({key: obs[indices] for key, obs in samples.observations.items()}, *rows)
    return RolloutBufferSamples(samples.observations[indices], *rows)


class KLPPO(PolicyGradientAlgorithm):
    """
    Proximal Policy Optimization with a KL penalty (KLPPO), the PPO paper's section 4.

    Paper: https://arxiv.org/abs/1707.06347 (section 4, adaptive KL penalty coefficient).
    Design notes: ``algorithms.md`` section 6. Learned from SB3's PPO, whose rollout, minibatch epochs, value loss
    and logging it keeps; the clipped ratio is replaced by a penalty on the KL divergence.

    Each rollout gives ``n_epochs`` passes of minibatch SGD on the penalised surrogate
    ``mean_t r_t A_t - beta * mean_t KL(pi_old(.|s_t) || pi(.|s_t))``; then beta (``kl_coef``) moves once, on the
    rollout's mean KL measured after the epochs (:func:`update_kl_coef`). beta is saved with the model, so a loaded
    model continues with the beta it had. ``train/kl_coef`` logs the beta that the epochs used, ``train/kl_divergence``
    the mean KL that moved it; ``train/surrogate`` and ``train/kl_penalty`` the two terms of the policy loss
    (``train/policy_loss = kl_penalty - surrogate``), averaged over the minibatches.

    **The KL.** ``KL(old || new)``, the PPO paper's direction, computed exactly in closed form from SB3's
    distributions: ``pi_old`` is the policy evaluated on the whole rollout at the start of ``train()`` (the
    parameters that collected it), not Schulman's k3 estimate from the stored log-probabilities, which differs from
    it by a few percent per rollout at the class defaults (measured on CartPole-v1 and Pendulum-v1 in
    ``docs/algorithms.md`` section 6, by ``benchmarks/kl_estimators.py``). It is the KL of
    the whole action distribution at a state: for a diagonal Gaussian, the sum over action dimensions, as in the
    paper. TRPO (sb3-contrib) and NPG average over action dimensions instead, so KLPPO's ``target_kl`` is theirs
    times the action dimension.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. rollout buffer size is n_steps * n_envs where n_envs is number of environment copies running in parallel)
    :param batch_size: Minibatch size; larger than the rollout, each epoch is one batch of the whole rollout
        (with a warning, as SB3's PPO)
    :param n_epochs: Number of epochs of minibatch SGD on the penalised surrogate per rollout
    :param gamma: Discount factor
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator
    :param target_kl: d_targ, the mean KL per rollout that the beta update aims at (the PPO paper's 0.01 by
        default). Unlike SB3's PPO, the epochs never stop early on it. Unused by ``"fixed"``, which takes ``None``.
    :param kl_coef: The initial beta, the coefficient of the KL penalty (the paper's 1)
    :param kl_coef_update: How beta moves between rollouts: ``"adaptive"`` (the PPO paper: halved when the KL is
        under ``target_kl / 1.5``, doubled when over ``1.5 * target_kl``, and kept within ``[1e-6, 1e6]``
        (``ADAPTIVE_KL_COEF_RANGE``) so that a long run of small KLs cannot halve it to 0, from which it could never
        double again), ``"dual"`` (dual gradient descent, ``beta <- max(0, beta + kl_coef_lr * (kl - target_kl))``)
        or ``"fixed"``. Checked again when ``learn`` starts and by ``load``: an unknown rule is refused.
    :param kl_coef_lr: The step size of ``"dual"``: a rollout KL off ``target_kl`` by 0.01 moves beta by
        ``0.01 * kl_coef_lr`` (0.5 at the default 50)
    :param clip_range: ``None`` (default) for the penalty alone; a clipping parameter (or a function of the
        current progress remaining) adds PPO's clipped ratio to the penalty, as RLlib does
    :param normalize_advantage: Whether to normalize or not the advantage (per minibatch, as SB3's PPO)
    :param ent_coef: Entropy coefficient for the loss calculation
    :param vf_coef: Value function coefficient for the loss calculation
    :param max_grad_norm: The maximum value for the gradient clipping; ``None`` or ``inf`` for no clipping
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use. If ``None``, it will be automatically selected.
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation
    :param fast_rollout: Compute per step only the action, through a NumPy copy of the actor, and the rollout's
        values and log-probabilities in one pass at its end; ``False``, or a policy or buffer it does not cover,
        takes SB3's per-step path (the same contents in the buffer, the same callback calls)
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    clip_range_schedule: Schedule | None

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 2048,
        batch_size: int = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        target_kl: float | None = 0.01,
        kl_coef: float = 1.0,
        kl_coef_update: str = "adaptive",
        kl_coef_lr: float = 50.0,
        clip_range: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float | None = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        fast_rollout: bool = True,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        # target_kl's rule depends on kl_coef_update: check_kl_coef_settings owns it
        check_hyperparameters({name: value for name, value in locals().items() if name != "target_kl"})
        check_kl_coef_settings(kl_coef_update, kl_coef, kl_coef_lr, target_kl)
        if clip_range is not None:
            check_learning_rate("clip_range", clip_range)
        if normalize_advantage and batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 with normalize_advantage=True, got {batch_size}")
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            fast_rollout=fast_rollout,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        check_env_and_batch(self, batch_size, normalize_advantage)
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.target_kl = target_kl
        self.kl_coef = float(kl_coef)
        self.kl_coef_update = kl_coef_update
        self.kl_coef_lr = kl_coef_lr
        self.clip_range = clip_range
        self.normalize_advantage = normalize_advantage

        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.clip_range_schedule = None if self.clip_range is None else FloatSchedule(self.clip_range)

    def _check_kl_coef_settings(self) -> None:
        check_kl_coef_settings(self.kl_coef_update, self.kl_coef, self.kl_coef_lr, self.target_kl)

    def _setup_learn(self, *args: Any, **kwargs: Any) -> tuple[int, BaseCallback]:
        # The settings may have been set since construction: refused before the first rollout, not at the first update
        self._check_kl_coef_settings()
        return super()._setup_learn(*args, **kwargs)

    @classmethod
    def load(cls: type[SelfKLPPO], *args: Any, **kwargs: Any) -> SelfKLPPO:  # type: ignore[override]
        """As SB3's ``load``; settings passed to it (``kl_coef_update=...``) are checked as the constructor checks them."""
        model = super().load(*args, **kwargs)
        model._check_kl_coef_settings()
        return model

    def train(self) -> None:
        """
        ``n_epochs`` of minibatch SGD on the penalised surrogate, then one move of beta (``algorithms.md`` section 6):

            L_KL(theta') = mean_t r_t(theta') A_t - beta * mean_t KL(pi_theta(.|s_t) || pi_theta'(.|s_t))
            d = the mean KL over the whole rollout after the epochs;  beta <- update_kl_coef(beta, d)
        """
        self._start_update()
        clip_range = None if self.clip_range_schedule is None else self.clip_range_schedule(self._current_progress_remaining)

        # pi_theta on the whole rollout: the parameters have not moved since they collected it
        rollout = next(self.rollout_buffer.get(batch_size=None))
        with th.no_grad():
            old_distribution = snapshot(self.policy, rollout.observations)

        stats: dict[str, list[th.Tensor]] = defaultdict(list)
        for _ in range(self.n_epochs):
            permutation = th.as_tensor(np.random.permutation(len(rollout.advantages)), device=self.device)
            for indices in permutation.split(self.batch_size):
                batch = _sample_rows(rollout, indices)
                loss = self._minibatch_loss(batch, _distribution_rows(old_distribution, indices), clip_range, stats)
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm or math.inf)
                self.policy.optimizer.step()
            self._n_updates += 1

        # d, and beta's move
        with th.no_grad():
            kl = kl_per_state(old_distribution, self.policy.get_distribution(rollout.observations)).mean().item()
        if not math.isfinite(kl):
            warnings.warn(f"KLPPO: the rollout's mean KL is {kl}; kl_coef is left at {self.kl_coef}", stacklevel=2)
        kl_coef = self.kl_coef
        self.kl_coef = update_kl_coef(kl_coef, kl, self.target_kl, self.kl_coef_update, self.kl_coef_lr)

        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        means = {f"train/{name}": th.stack(values).mean().item() for name, values in stats.items()}
        clipping = {} if clip_range is None else {"train/clip_range": clip_range}
        self._record_update(
            means | {"train/kl_coef": kl_coef, "train/kl_divergence": kl, "train/explained_variance": explained_var} | clipping
        )

    def _minibatch_loss(
        self,
        batch: RolloutBufferSamples | DictRolloutBufferSamples,
        old_distribution: Distribution,
        clip_range: float | None,
        stats: dict[str, list[th.Tensor]],
    ) -> th.Tensor:
        """
        The loss of one minibatch: ``-L_KL + ent_coef * entropy_loss + vf_coef * value_loss``, with the ratio
        clipped as in PPO when ``clip_range`` is given.

        :param batch: the minibatch
        :param old_distribution: pi_theta (the rollout's policy) on the minibatch's states
        :param clip_range: PPO's clipping parameter, or ``None`` for the penalty alone
        :param stats: where to append the minibatch's losses (detached) for the logger
        :return: the loss to minimise
        """
        actions = flat_actions(batch.actions, self.action_space)
        values, log_prob, entropy, distribution = evaluate(self.policy, batch.observations, actions)  # pi_theta'
        advantages = standardized(batch.advantages, self.normalize_advantage)

        # r_t A_t (clipped, if asked), and the penalty beta * KL(pi_theta || pi_theta')
        ratio = th.exp(log_prob - batch.old_log_prob)
        surrogate = ratio * advantages
        if clip_range is not None:
            surrogate = th.min(surrogate, th.clamp(ratio, 1 - clip_range, 1 + clip_range) * advantages)
            stats["clip_fraction"].append(th.mean((th.abs(ratio - 1) > clip_range).float()).detach())
        surrogate_mean = surrogate.mean()
        penalty = self.kl_coef * kl_per_state(old_distribution, distribution).mean()
        policy_loss = -(surrogate_mean - penalty)

        value_loss = F.mse_loss(batch.returns, values.flatten())
        entropy_term = entropy_loss(entropy, log_prob)

        stats["surrogate"].append(surrogate_mean.detach())
        stats["kl_penalty"].append(penalty.detach())
        stats["policy_loss"].append(policy_loss.detach())
        stats["value_loss"].append(value_loss.detach())
        stats["entropy_loss"].append(entropy_term.detach())
        return policy_loss + self.ent_coef * entropy_term + self.vf_coef * value_loss
