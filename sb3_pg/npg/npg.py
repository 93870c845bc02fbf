import copy
import warnings
from typing import Any, ClassVar, TypeVar

import torch as th
from gymnasium import spaces
from sb3_contrib.common.utils import flat_grad
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.distributions import kl_divergence
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, RolloutBufferSamples, Schedule
from stable_baselines3.common.utils import explained_variance
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from sb3_pg.common.base import PolicyGradientAlgorithm
from sb3_pg.common.checks import check_bool, check_int, check_learning_rate, check_real, check_rollout_finite, check_spaces
from sb3_pg.common.critic import fit_critic, split_actor_critic
from sb3_pg.common.natural import fisher_vector_product_fn, natural_step
from sb3_pg.npg.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

SelfNPG = TypeVar("SelfNPG", bound="NPG")


class NPG(PolicyGradientAlgorithm):
    """
    Natural Policy Gradient (NPG).

    Paper: https://papers.nips.cc/paper/2001/hash/4b86abe48d358ecf194c56c69108433e-Abstract.html (Kakade)
    and https://arxiv.org/abs/1502.05477 (TRPO, whose step NPG takes without the line search).
    Design notes: ``algorithms.md`` sections 4-5. Learned from sb3-contrib's TRPO, Spinning Up's TRPO/NPG
    and Tianshou's NPG.

    The policy step is ``x = F^-1 g`` by conjugate gradient on Fisher-vector products, scaled to
    ``sqrt(2 * target_kl / x^T F x)`` so that its KL divergence is ``target_kl`` to second order, or taken as
    ``step_size * x`` when ``step_size`` is given. There is no line search and no rejected step: that is what
    separates NPG from TRPO. A degenerate step (zero gradient, non-finite solution, ``x^T F x <= 0``) is
    skipped with a warning and leaves the parameters unchanged. The critic is fitted as in TRPO.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate for the value function, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. rollout buffer size is n_steps * n_envs where n_envs is number of environment copies running in parallel)
    :param batch_size: Minibatch size for the value function
    :param gamma: Discount factor
    :param cg_max_steps: maximum number of steps in the Conjugate Gradient algorithm
        for computing the Fisher-vector product
    :param cg_damping: damping in the Fisher-vector product computation
    :param n_critic_updates: number of critic updates per policy update
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator
    :param step_size: Fixed step size ``alpha`` of the step ``alpha * F^-1 g``; ``None`` (default) for the
        KL-normalised step ``sqrt(2 * target_kl / x^T F x) * F^-1 g``
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use. If ``None``, it will be automatically selected.
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation
    :param normalize_advantage: Whether to normalize or not the advantage
    :param target_kl: Target Kullback-Leibler divergence of a step, the ``delta`` of the trust region.
        Should be small for stability. Values like 0.01, 0.05.
    :param sub_sampling_factor: Sub-sample the batch for the policy step to make computation faster
        see p40-42 of John Schulman thesis http://joschu.net/docs/thesis.pdf
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: the verbosity level: 0 no output, 1 info, 2 debug
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        n_steps: int = 2048,
        batch_size: int = 256,
        gamma: float = 0.99,
        cg_max_steps: int = 15,
        cg_damping: float = 0.1,
        n_critic_updates: int = 5,
        gae_lambda: float = 0.95,
        step_size: float | None = None,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        normalize_advantage: bool = True,
        target_kl: float = 0.01,
        sub_sampling_factor: int = 1,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        check_learning_rate("learning_rate", learning_rate)
        check_int("n_steps", n_steps, 1)
        check_int("batch_size", batch_size, 1)
        check_real("gamma", gamma, 0.0, 1.0)
        check_int("cg_max_steps", cg_max_steps, 1)
        check_real("cg_damping", cg_damping, low=0.0)
        check_int("n_critic_updates", n_critic_updates, 1)
        check_real("gae_lambda", gae_lambda, 0.0, 1.0)
        if step_size is not None:
            check_real("step_size", step_size, low=0.0, low_open=True)
        check_real("target_kl", target_kl, low=0.0, low_open=True)
        check_int("sub_sampling_factor", sub_sampling_factor, 1)
        check_int("stats_window_size", stats_window_size, 1)
        check_bool("normalize_advantage", normalize_advantage)
        check_bool("use_sde", use_sde)
        check_int("sde_sample_freq", sde_sample_freq, -1)
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=0.0,  # no entropy bonus, as in TRPO
            vf_coef=0.0,  # the value function is fitted separately
            max_grad_norm=0.0,  # the step length is set by the trust region, not by clipping
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        if self.env is not None:
            check_spaces(type(self).__name__, self.observation_space, self.action_space)
            buffer_size = self.n_steps * self.n_envs
            if batch_size > buffer_size:
                raise ValueError(
                    f"batch_size must be at most the rollout size n_steps * n_envs = {buffer_size}, got {batch_size}"
                )
            if normalize_advantage and buffer_size // sub_sampling_factor < 2:
                raise ValueError(
                    "n_steps * n_envs / sub_sampling_factor must be at least 2 with normalize_advantage=True, "
                    f"got {buffer_size} / {sub_sampling_factor}"
                )
        self.batch_size = batch_size
        self.cg_max_steps = cg_max_steps
        self.cg_damping = cg_damping
        self.n_critic_updates = n_critic_updates
        self.step_size = step_size
        self.normalize_advantage = normalize_advantage
        self.target_kl = target_kl
        self.sub_sampling_factor = sub_sampling_factor

        if _init_setup_model:
            self._setup_model()

    def train(self) -> None:
        """
        One natural policy-gradient step, then the critic fit (``algorithms.md`` sections 4-5):

            L(theta') = mean_t pi_theta'(a_t|s_t) / pi_theta(a_t|s_t) * A_t,   g = grad L at theta
            x = F^-1 g  (conjugate gradient),   theta <- theta + sqrt(2 delta / x^T F x) * x
        """
        check_rollout_finite(self.rollout_buffer, self.num_timesteps)
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        actor_params, _ = split_actor_critic(self.policy)

        rollout_data = next(self.rollout_buffer.get(batch_size=None))
        if self.sub_sampling_factor > 1:
            rollout_data = RolloutBufferSamples(*(tensor[:: self.sub_sampling_factor] for tensor in rollout_data))
        observations, actions = rollout_data.observations, rollout_data.actions
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()

        with th.no_grad():
            # Shallow copy: get_distribution() below gives the policy's distribution new parameters
            old_distribution = copy.copy(self.policy.get_distribution(observations))
        distribution = self.policy.get_distribution(observations)
        log_prob = distribution.log_prob(actions)

        advantages = rollout_data.advantages
        if self.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        # Surrogate objective and its gradient g at theta (the policy gradient)
        ratio = th.exp(log_prob - rollout_data.old_log_prob)
        policy_objective = (ratio * advantages).mean()
        gradient = flat_grad(policy_objective, actor_params, retain_graph=True)

        # F = Hessian of the mean KL at theta; x = F^-1 g; step = sqrt(2 delta / x^T F x) x
        fisher_vector_product = fisher_vector_product_fn(distribution, old_distribution, actor_params, self.cg_damping)
        result = natural_step(gradient, fisher_vector_product, self.cg_max_steps, self.target_kl, self.step_size)

        entropy = distribution.entropy()
        entropy_loss = -th.mean(entropy).item() if entropy is not None else th.mean(log_prob).item()
        measured_kl = 0.0
        if result.step is None:
            warnings.warn(f"NPG skipped its policy step ({result.skipped}): the parameters are unchanged", stacklevel=2)
        else:
            with th.no_grad():
                vector_to_parameters(parameters_to_vector(actor_params) + result.step, actor_params)
                measured_kl = kl_divergence(self.policy.get_distribution(observations), old_distribution).mean().item()

        value_loss = fit_critic(
            self.policy,
            self.policy.optimizer,
            self.rollout_buffer,
            self.n_critic_updates,
            self.batch_size,
            frozen_params=actor_params,
        )
        self._n_updates += 1
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        self.logger.record("train/policy_loss", -policy_objective.item())
        self.logger.record("train/entropy_loss", entropy_loss)
        self.logger.record("train/value_loss", value_loss)
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/kl_divergence", measured_kl)
        self.logger.record("train/step_size", result.step_size)
        self.logger.record("train/cg_residual", result.cg_residual)
        self.logger.record("train/step_skipped", int(result.step is None))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def learn(
        self: SelfNPG,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "NPG",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfNPG:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
