import warnings
from typing import Any

import torch as th
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.distributions import kl_divergence
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import explained_variance
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from sb3_pg.common.base import PolicyGradientAlgorithm
from sb3_pg.common.checks import check_env_and_batch, check_hyperparameters
from sb3_pg.common.critic import fit_critic, split_actor_critic
from sb3_pg.common.natural import fisher_vector_product_fn, flat_gradient, natural_step
from sb3_pg.common.policy_gradient import entropy_loss, flat_actions, snapshot, standardized


def _every(observations: th.Tensor | dict[str, th.Tensor], k: int) -> th.Tensor | dict[str, th.Tensor]:
    """:return: every ``k``-th observation of a batch, of a Dict space's too"""
    if isinstance(observations, dict):
        return {key: obs[::k] for key, obs in observations.items()}
    return observations[::k]


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
    skipped with a warning and leaves the parameters unchanged, and so is a step that cannot be trusted: a
    conjugate-gradient residual ``||g - F x|| / ||g|| >= 1`` or ``g^T x <= 0``. The critic is fitted as in TRPO.

    **What the step's KL is.** ``x^T F x`` includes the damping, as in sb3-contrib's TRPO and Spinning Up, so to
    second order the step's mean KL is ``1/2 s^T F s = target_kl - cg_damping / 2 * ||s||^2``: below ``target_kl``,
    by what the damping takes, most where ``||s||`` is large (MuJoCo's Box actions). It is logged as
    ``train/predicted_kl``, beside the measured ``train/kl_divergence``, which it predicts to within a few percent.
    The KL of a diagonal Gaussian is averaged over action dimensions, as sb3-contrib's TRPO does, so ``target_kl``
    means the same for both; Spinning Up and Tianshou sum over them.

    **Logged** by ``train()``: ``train/policy_loss`` (minus the surrogate), ``train/entropy_loss``,
    ``train/value_loss``, ``train/explained_variance``, ``train/kl_divergence`` (measured after the step),
    ``train/predicted_kl`` (its second-order value), ``train/step_size``, ``train/cg_residual``
    (``||g - F x|| / ||g||``), ``train/step_skipped``, ``train/std`` for a Gaussian policy and ``train/n_updates``.

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
    :param fast_rollout: Compute per step only the action, through a NumPy copy of the actor, and the rollout's
        values and log-probabilities in one pass at its end; ``False``, or a policy or buffer it does not cover,
        takes SB3's per-step path (the same contents in the buffer, the same callback calls)
    :param normalize_advantage: Whether to normalize or not the advantage
    :param target_kl: Target Kullback-Leibler divergence of a step, the ``delta`` of the trust region, as in
        sb3-contrib's TRPO (the damped quadratic model's radius: see above). Values like 0.01, 0.05.
    :param sub_sampling_factor: Compute the Fisher-vector products on every ``sub_sampling_factor``-th state of
        the batch, to make the solve faster; the gradient ``g`` uses the whole batch (the TRPO paper's appendix C.1,
        and p40-42 of John Schulman's thesis http://joschu.net/docs/thesis.pdf)
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
        fast_rollout: bool = True,
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
        check_hyperparameters(locals())
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
        self._start_update()
        actor_params, _ = split_actor_critic(self.policy)

        rollout_data = next(self.rollout_buffer.get(batch_size=None))
        observations = rollout_data.observations
        # The Fisher products on every sub_sampling_factor-th state, the gradient on all of them (TRPO paper, C.1)
        fisher_observations = _every(observations, self.sub_sampling_factor)

        with th.no_grad():
            old_distribution = snapshot(self.policy, fisher_observations)
        distribution = snapshot(self.policy, observations)
        log_prob = distribution.log_prob(flat_actions(rollout_data.actions, self.action_space))
        advantages = standardized(rollout_data.advantages, self.normalize_advantage)

        # Surrogate objective and its gradient g at theta (the policy gradient)
        ratio = th.exp(log_prob - rollout_data.old_log_prob)
        policy_objective = (ratio * advantages).mean()
        gradient = flat_gradient(policy_objective, actor_params, retain_graph=True)

        # F = Hessian of the mean KL at theta; x = F^-1 g; step = sqrt(2 delta / x^T (F + damping I) x) x
        fisher_distribution = (
            distribution if self.sub_sampling_factor == 1 else self.policy.get_distribution(fisher_observations)
        )
        fisher_vector_product = fisher_vector_product_fn(fisher_distribution, old_distribution, actor_params, self.cg_damping)
        result = natural_step(gradient, fisher_vector_product, self.cg_max_steps, self.target_kl, self.step_size)

        entropy = entropy_loss(distribution.entropy(), log_prob).item()
        measured_kl = predicted_kl = 0.0
        if result.step is None:
            warnings.warn(f"NPG skipped its policy step ({result.skipped}): the parameters are unchanged", stacklevel=2)
        else:
            # The KL of the step to second order, 1/2 s^T F s: target_kl minus what the damping took
            predicted_kl = 0.5 * (
                result.step_size**2 * result.quadratic_form - self.cg_damping * result.step.square().sum().item()
            )
            with th.no_grad():
                vector_to_parameters(parameters_to_vector(actor_params) + result.step, actor_params)
                new_distribution = self.policy.get_distribution(fisher_observations)
                measured_kl = kl_divergence(new_distribution, old_distribution).mean().item()

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

        self._record_update(
            {
                "train/policy_loss": -policy_objective.item(),
                "train/entropy_loss": entropy,
                "train/value_loss": value_loss,
                "train/explained_variance": explained_var,
                "train/kl_divergence": measured_kl,
                "train/predicted_kl": predicted_kl,
                "train/step_size": result.step_size,
                "train/cg_residual": result.cg_residual,
                "train/step_skipped": int(result.step is None),
            }
        )
