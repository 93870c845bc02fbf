from typing import Any

import torch as th
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, update_learning_rate

from sb3_pg.common.base import PolicyGradientAlgorithm
from sb3_pg.common.checks import check_env_and_batch, check_hyperparameters
from sb3_pg.common.critic import fit_critic, split_actor_critic
from sb3_pg.common.policy_gradient import policy_gradient_step


class VPG(PolicyGradientAlgorithm):
    """
    Vanilla Policy Gradient with a learned state-value baseline.

    Paper: https://papers.nips.cc/paper/1999/hash/464d828b85b0bed98e80ade0a5c43b0f-Abstract.html (Sutton et al.)
    and https://arxiv.org/abs/1506.02438 (GAE).
    Design notes: ``algorithms.md`` section 3; Spinning Up's VPG
    (https://spinningup.openai.com/en/latest/algorithms/vpg.html).

    Each rollout gives exactly one policy-gradient step on the whole batch, weighted by GAE(``gae_lambda``)
    advantages from the value function ``V_phi``; then ``V_phi`` is fitted to the returns by
    ``n_critic_updates`` passes of minibatch regression, with its own optimizer and learning rate
    (``vf_learning_rate``). Bootstrapping at the end of a rollout and at time-limit truncations follows SB3's
    rules (``OnPolicyAlgorithm.collect_rollouts``).

    **How this differs from A2C.** SB3's A2C takes one joint gradient step on ``policy_loss +
    vf_coef * value_loss`` per small rollout (``n_steps=5``), with one optimizer and one learning rate for
    both. VPG takes its policy step on a large batch and fits the critic separately, by many regression
    steps at its own learning rate, so the baseline is close to ``V^pi`` before the next policy step.

    **Defaults.** Chosen by a sweep over five environments at 100,000 steps (``docs/defaults.md``): a policy step
    every 512 steps at 3e-3 on normalised advantages, and 80 regression steps of the critic per rollout
    (``n_critic_updates=10`` passes in minibatches of 64).

    **Logged** by ``train()``: ``train/policy_loss``, ``train/entropy_loss`` (minus the mean entropy, SB3's
    convention), ``train/value_loss``, ``train/explained_variance``, ``train/vf_learning_rate``, ``train/std`` for a
    Gaussian policy and ``train/n_updates``.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate of the policy step (actor), it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. rollout buffer size is n_steps * n_envs where n_envs is number of environment copies running in parallel)
    :param batch_size: Minibatch size for the value function fit
    :param gamma: Discount factor
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator.
        Equivalent to ``G_t - V(s_t)`` when set to 1.
    :param vf_learning_rate: The learning rate of the value function fit, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_critic_updates: Number of passes over the rollout buffer to fit the value function, per policy step
    :param normalize_advantage: Whether to normalize or not the advantage
    :param ent_coef: Entropy coefficient for the loss calculation
    :param max_grad_norm: The maximum value for the gradient clipping of the policy step
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use. If ``None``, it will be automatically selected.
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

    critic_optimizer: th.optim.Optimizer

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-3,
        n_steps: int = 512,
        batch_size: int = 64,
        gamma: float = 0.99,
        gae_lambda: float = 0.97,
        vf_learning_rate: float | Schedule = 1e-3,
        n_critic_updates: int = 10,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        max_grad_norm: float = 0.5,
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
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=0.0,  # the value function is fitted separately
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
        self.vf_learning_rate = vf_learning_rate
        self.n_critic_updates = n_critic_updates
        self.normalize_advantage = normalize_advantage

        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.vf_lr_schedule = FloatSchedule(self.vf_learning_rate)
        # Two optimizers: policy.optimizer steps the actor at learning_rate, critic_optimizer the critic at
        # vf_learning_rate. A features extractor shared by both belongs to the actor.
        actor_params, critic_params = split_actor_critic(self.policy)
        optimizer_class, optimizer_kwargs = self.policy.optimizer_class, self.policy.optimizer_kwargs
        self.policy.optimizer = optimizer_class(actor_params, lr=self.lr_schedule(1), **optimizer_kwargs)  # type: ignore[call-arg]
        self.critic_optimizer = optimizer_class(critic_params, lr=self.vf_lr_schedule(1), **optimizer_kwargs)  # type: ignore[call-arg]

    def train(self) -> None:
        """
        One policy-gradient step, then the critic fit (``algorithms.md`` section 3):

            grad J ~ mean_t grad log pi(a_t|s_t) * A_t,   A_t = GAE(lambda) from V_phi
            phi    <- argmin mean_t (V_phi(s_t) - R_t)^2  (n_critic_updates passes of minibatch regression)
        """
        self._start_update()
        vf_learning_rate = self.vf_lr_schedule(self._current_progress_remaining)
        update_learning_rate(self.critic_optimizer, vf_learning_rate)
        actor_params, _ = split_actor_critic(self.policy)

        # Policy step, on the whole batch
        batch = next(self.rollout_buffer.get(batch_size=None))
        losses = policy_gradient_step(
            self.policy,
            self.policy.optimizer,
            actor_params,
            batch,
            self.action_space,
            self.normalize_advantage,
            self.ent_coef,
            self.max_grad_norm,
        )

        # Critic fit, on minibatches
        value_loss = fit_critic(
            self.policy,
            self.critic_optimizer,
            self.rollout_buffer,
            self.n_critic_updates,
            self.batch_size,
            frozen_params=actor_params,
        )
        self._n_updates += 1
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        self._record_update(
            {
                "train/policy_loss": losses.policy_loss,
                "train/entropy_loss": losses.entropy_loss,
                "train/value_loss": value_loss,
                "train/explained_variance": explained_var,
                "train/vf_learning_rate": vf_learning_rate,
            }
        )

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer", "critic_optimizer"], []
