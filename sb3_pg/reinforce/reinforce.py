from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from sb3_pg.common.base import PolicyGradientAlgorithm
from sb3_pg.common.buffers import EpisodicDictRolloutBuffer, EpisodicRolloutBuffer, _EpisodicStorage
from sb3_pg.common.checks import (
    check_bool,
    check_choice,
    check_env_and_batch,
    check_hyperparameters,
    check_int,
)
from sb3_pg.common.policy_gradient import policy_gradient_step
from sb3_pg.common.returns import discounted_returns

BASELINES = ("none", "mean")


class REINFORCE(PolicyGradientAlgorithm):
    """
    REINFORCE: Monte Carlo policy gradient (Williams, 1992).

    Paper: https://doi.org/10.1007/BF00992696
    Design notes: ``algorithms.md`` section 2; Spinning Up's "simplest policy gradient" and reward-to-go
    (https://spinningup.openai.com/en/latest/spinningup/rl_intro3.html).

    Every step is weighted by returns that really followed it in its own episode; no value function is
    trained, none is queried, and nothing is bootstrapped, neither at the end of a rollout nor at a
    time-limit truncation (a truncated episode is finished: its return is the finite-horizon sum).

    **Complete episodes.** A rollout collects at least ``n_steps`` steps in each env, then lets each env run
    until its current episode ends, so the buffer holds only complete episodes and grows as needed. With
    several envs, an env that has finished waits for the others: the steps it takes meanwhile are counted in
    ``num_timesteps`` but not stored (``rollout/discarded_steps``), and the next rollout starts every env on
    a fresh episode. With one env (the default in ``hyperparams/reinforce.yml``) no step is discarded. The logged
    ``rollout/ep_rew_mean`` and ``ep_len_mean`` come from the stored episodes only: which are stored never depends
    on their own length, so the short episodes that end while other envs finish are not over-counted.

    **Normalisation.** The loss averages ``log pi(a_t|s_t) * Psi_t`` over all steps of the batch, as SB3's
    A2C and PPO do. With complete episodes the number of steps varies from batch to batch, so this is the
    gradient per step, the per-episode estimate divided by the mean episode length.

    **Defaults.** Chosen by a sweep over five environments at 100,000 steps (``docs/defaults.md``): a step every
    1,000 steps (then to the ends of the episodes) at 3e-3, on returns standardised over the batch.

    **Logged** by ``train()``: ``train/policy_loss``, ``train/entropy_loss`` (minus the mean entropy, SB3's
    convention), ``train/return_mean``, ``rollout/episodes``, ``rollout/batch_steps``, ``rollout/discarded_steps``,
    ``train/std`` for a Gaussian policy and ``train/n_updates``.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function of the current progress remaining (from 1 to 0)
    :param n_steps: The minimum number of steps to run for each environment per update; each env then runs
        on until its current episode ends
    :param gamma: Discount factor
    :param reward_to_go: Weight step t by the return from t on (``G_t``, default) instead of the whole
        episode's discounted return ``R(tau)``
    :param baseline: Constant subtracted from the returns: ``"mean"`` (the batch mean of the returns) or ``"none"``
    :param normalize_advantage: Standardise the weights (subtract their mean and divide by their standard
        deviation) over the batch, as SB3 normalises advantages; this subtracts the mean whatever ``baseline`` is
    :param ent_coef: Entropy coefficient for the loss calculation
    :param max_grad_norm: The maximum value for the gradient clipping; ``None`` or ``inf`` for no clipping
    :param max_episode_steps: The longest an episode may run in a rollout. An env whose episode has run this many
        steps without ending is truncated there, as ``gymnasium.wrappers.TimeLimit`` would, with a warning: its
        return is the finite sum so far and it stops storing. This bounds the rollout (and its memory) for an env
        whose episodes never end, to at most ``n_steps + max_episode_steps`` steps per env.
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use, a subclass of ``EpisodicRolloutBuffer`` or
        ``EpisodicDictRolloutBuffer``. If ``None``, it will be automatically selected.
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation.
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

    rollout_buffer: EpisodicRolloutBuffer

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-3,
        n_steps: int = 1000,
        gamma: float = 0.99,
        reward_to_go: bool = True,
        baseline: str = "mean",
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        max_grad_norm: float | None = 0.5,
        max_episode_steps: int = 10_000,
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
        check_hyperparameters(locals())
        check_choice("baseline", baseline, BASELINES)
        check_int("max_episode_steps", max_episode_steps, 1)
        check_bool("reward_to_go", reward_to_go)
        if rollout_buffer_class is not None and not issubclass(rollout_buffer_class, _EpisodicStorage):
            raise ValueError(
                "rollout_buffer_class must hold complete episodes: a subclass of EpisodicRolloutBuffer "
                f"or EpisodicDictRolloutBuffer, got {rollout_buffer_class.__name__}"
            )
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=1.0,  # unused: returns are Monte Carlo
            ent_coef=ent_coef,
            vf_coef=0.0,  # no value function is trained
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
        check_env_and_batch(self)
        self.reward_to_go = reward_to_go
        self.baseline = baseline
        self.normalize_advantage = normalize_advantage
        self.max_episode_steps = max_episode_steps

        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        if self.rollout_buffer_class is None:
            is_dict = isinstance(self.observation_space, spaces.Dict)
            self.rollout_buffer_class = EpisodicDictRolloutBuffer if is_dict else EpisodicRolloutBuffer
        super()._setup_model()

    def _episode_limit(self) -> int:
        """:return: ``max_episode_steps``: the rollouts hold complete episodes (``collect_rollout``)"""
        return self.max_episode_steps

    def _finish_rollout(self, rollout_buffer: RolloutBuffer, last_values: np.ndarray | None, dones: np.ndarray) -> None:
        """The Monte Carlo weights of the complete episodes (nothing is bootstrapped: ``last_values`` is ``None``)."""
        self._compute_weights(rollout_buffer)  # type: ignore[arg-type]

    def _compute_weights(self, rollout_buffer: EpisodicRolloutBuffer) -> None:
        """
        Fill the buffer's ``returns`` with the Monte Carlo returns and its ``advantages`` with the weights
        ``Psi_t = G_t - b`` (``algorithms.md`` section 2).
        """
        rollout_buffer.returns = discounted_returns(
            rollout_buffer.rewards, rollout_buffer.episode_starts, self.gamma, reward_to_go=self.reward_to_go
        )
        # A constant baseline keeps the estimator unbiased, since E[grad log pi] = 0
        baseline = rollout_buffer.returns[rollout_buffer.active].mean() if self.baseline == "mean" else 0.0
        rollout_buffer.advantages = rollout_buffer.returns - baseline
        self._n_episodes = int(rollout_buffer.episode_starts[rollout_buffer.active].sum())

    def train(self) -> None:
        """
        One policy-gradient step on the batch of complete episodes (only the actor is evaluated):

            grad J ~ mean_t grad log pi(a_t|s_t) * Psi_t,   Psi_t = G_t - b   (``algorithms.md`` section 2)
        """
        self._start_update()
        batch = next(self.rollout_buffer.get(batch_size=None))
        losses = policy_gradient_step(
            self.policy,
            self.policy.optimizer,
            list(self.policy.parameters()),
            batch,
            self.action_space,
            self.normalize_advantage,
            self.ent_coef,
            self.max_grad_norm,
        )
        self._n_updates += 1

        self._record_update(
            {
                "train/policy_loss": losses.policy_loss,
                "train/entropy_loss": losses.entropy_loss,
                "train/return_mean": batch.returns.mean().item(),
                "rollout/episodes": self._n_episodes,
                "rollout/batch_steps": len(batch.advantages),
                "rollout/discarded_steps": self.rollout_buffer.active.size - len(batch.advantages),
            }
        )
