"""
Make sb3_pg's algorithms first-class RL Zoo algorithms.

:func:`register` adds ``reinforce``, ``vpg``, ``npg`` and ``klppo`` to rl-zoo3's algorithm table and to its Optuna samplers
(``HYPERPARAMS_SAMPLER``, and ``HYPERPARAMS_CONVERTER`` for ``--trial-id``, which it makes load trial 0 too), and to the
table ``ppo_cleanrl``, SB3's PPO read from this package's ``ppo_cleanrl.yml`` (CleanRL's MuJoCo settings), and
``ppo_fast`` and ``a2c_fast``, SB3's PPO and A2C on this package's rollout path (:class:`FastPPO`, :class:`FastA2C`)
read from rl-zoo3's ``ppo.yml`` and ``a2c.yml``;
:func:`hyperparams_file` gives the hyperparameter file an algorithm trains with, and :func:`zoo_argv` the command
line that rl-zoo3's ``train.py`` must see for it (``python -m sb3_pg.train`` uses both).

The samplers follow the zoo's ``sample_trpo_params`` and ``sample_a2c_params``: sizes are sampled as powers of
two, ``gamma`` and ``gae_lambda`` as ``1 - x`` on a log scale, the network as a named size. Each sampled
combination is valid for the algorithm, whatever ``n_envs`` is: ``batch_size`` is capped at ``n_steps``.

rl-zoo3 is an optional dependency (``pip install sb3-pg[zoo]``): the algorithms never import this module, and
this module imports rl-zoo3 only when a function needs it.
"""

import argparse
import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from torch import nn

from sb3_pg import KLPPO, NPG, REINFORCE, VPG, FastRollout

if TYPE_CHECKING:
    import optuna


class FastPPO(FastRollout, PPO):
    """SB3's PPO, its update unchanged, collecting its rollouts on this package's path (``docs/speed.md``)"""


class FastA2C(FastRollout, A2C):
    """SB3's A2C, its update unchanged, collecting its rollouts on this package's path (``docs/speed.md``)"""


NEW_ALGOS: dict[str, type[BaseAlgorithm]] = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG, "klppo": KLPPO}
# Zoo names of SB3's own algorithms trained with a file of this package: the zoo keys a file's entries by environment,
# so a second set of settings for one algorithm needs a second name. ppo_cleanrl: CleanRL's MuJoCo PPO settings.
FILE_ALGOS: dict[str, type[BaseAlgorithm]] = {**NEW_ALGOS, "ppo_cleanrl": PPO}
# Zoo names of SB3's algorithms on this package's rollout path, with the rl-zoo3 file each trains with by default
FAST_ALGOS: dict[str, tuple[type[BaseAlgorithm], str]] = {"ppo_fast": (FastPPO, "ppo"), "a2c_fast": (FastA2C, "a2c")}

# The names REINFORCE's sampler chooses from, as in rl-zoo3's convert_onpolicy_params (which VPG's and NPG's use)
NET_ARCH = {"tiny": [64], "small": [64, 64], "medium": [256, 256]}
ACTIVATION_FN: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _hyperparams_dir() -> Path:
    """
    :return: the folder of the hyperparameter files of the ``sb3_pg`` that is imported (``sb3_pg.__file__``): the
        ``hyperparams/`` inside the package where it has one (an installed package: the repository's top-level
        ``hyperparams/`` installs as ``sb3_pg/hyperparams``), else the ``hyperparams/`` beside the package (a checkout:
        an editable install, or ``python -m sb3_pg...`` run from a checkout's root, which imports that checkout's
        ``sb3_pg`` first). The files follow the code: another checkout's files, or an installed package's, are never
        used instead, wherever the package was installed from.
    """
    package = Path(__file__).resolve().parent
    inside = package / "hyperparams"
    return inside if inside.is_dir() else package.parent / "hyperparams"


def hyperparams_file(algo: str) -> str:
    """
    :param algo: a zoo algorithm name (``ppo``, ``trpo``, ``npg``, ...)
    :return: the path of the hyperparameter file it trains with: this package's for the new algorithms and
        ``ppo_cleanrl``, rl-zoo3's own for the others (its ``ppo.yml`` for ``ppo_fast``, ``a2c.yml`` for ``a2c_fast``)
    """
    if algo in FILE_ALGOS:
        return str(_hyperparams_dir() / f"{algo}.yml")
    import rl_zoo3

    return str(resources.files(rl_zoo3) / "hyperparams" / f"{FAST_ALGOS[algo][1] if algo in FAST_ALGOS else algo}.yml")


def zoo_argv(argv: Sequence[str]) -> list[str]:
    """
    The arguments for rl-zoo3's ``train.py``: ``argv`` itself, preceded by ``--conf-file`` and this package's
    hyperparameter file when ``--algo`` is one of the new algorithms and ``argv`` names no ``--conf-file`` (rl-zoo3's
    file of the algorithm for ``ppo_fast`` and ``a2c_fast``).
    Anything else, an unknown algorithm included, is left for the zoo's parser to accept or reject.

    :param argv: the command-line arguments of ``python -m rl_zoo3.train``, without the program name
    :return: the arguments to run rl-zoo3's ``train()`` with
    """
    # Only the two options that matter here; the zoo's parser reads everything, with the same abbreviations
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--algo", default="ppo")
    parser.add_argument("-conf", "--conf-file", default=None)
    try:
        args, _ = parser.parse_known_args(argv)
    except argparse.ArgumentError:
        return list(argv)  # the zoo's parser reports the error, with its own usage
    if (args.algo in FILE_ALGOS or args.algo in FAST_ALGOS) and args.conf_file is None:
        return ["--conf-file", hyperparams_file(args.algo), *argv]
    return list(argv)


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Turn the values :func:`sample_reinforce_params` samples (and an Optuna study stores) into REINFORCE's
    hyperparameters.

    :param sampled_params: a trial's parameters
    :return: keyword arguments for ``REINFORCE``
    """
    hyperparams = sampled_params.copy()
    hyperparams["gamma"] = 1 - hyperparams.pop("one_minus_gamma")
    hyperparams["n_steps"] = 2 ** hyperparams.pop("n_steps_pow")
    # REINFORCE trains no value function: its value head gets no hidden layer
    net_arch = {"pi": NET_ARCH[hyperparams.pop("net_arch")], "vf": []}
    hyperparams["policy_kwargs"] = {"net_arch": net_arch, "activation_fn": ACTIVATION_FN[hyperparams.pop("activation_fn")]}
    if "log_std_init" in hyperparams:
        hyperparams["policy_kwargs"]["log_std_init"] = hyperparams.pop("log_std_init")
    return hyperparams


def convert_critic_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Turn the values :func:`sample_vpg_params`, :func:`sample_npg_params` or :func:`sample_klppo_params` samples into
    the algorithm's hyperparameters: rl-zoo3's ``convert_onpolicy_params``, then ``batch_size`` capped at
    ``n_steps``, so that it never exceeds the rollout size ``n_steps * n_envs`` (accepted with a warning, but a
    trial that samples it only repeats a smaller one).

    :param sampled_params: a trial's parameters
    :return: keyword arguments for ``VPG``, ``NPG`` or ``KLPPO``
    """
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    hyperparams = convert_onpolicy_params(sampled_params)
    hyperparams["batch_size"] = min(hyperparams["batch_size"], hyperparams["n_steps"])
    return hyperparams


def _set_user_attrs(trial: "optuna.Trial", hyperparams: dict[str, Any]) -> None:
    # Display true values, as the zoo's samplers do
    for key in ("gamma", "gae_lambda", "n_steps", "batch_size"):
        if key in hyperparams:
            trial.set_user_attr(key, hyperparams[key])


def sample_reinforce_params(trial: "optuna.Trial", n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Sampler for REINFORCE hyperparams.

    :param trial: the Optuna trial
    :param n_actions: the size of a ``Box`` action space, 0 for other spaces (rl-zoo3 passes it). Where it is
        positive, the initial log standard deviation of the Gaussian policy is sampled too: the trial's
        ``policy_kwargs`` replace the entry's, and SB3's default of 0 (a standard deviation of 1) did not learn
        HalfCheetah-v4 in the entry's 1M steps (``hyperparams/reinforce.yml``).
    :param n_envs: unused: any ``n_envs`` is valid (``hyperparams/reinforce.yml`` uses 1)
    :param additional_args: unused
    :return: keyword arguments for ``REINFORCE``
    """
    hyperparams = convert_reinforce_params(
        {
            # From 2**5=32 to 2**12=4096: the minimum steps of a rollout, which then runs on to the end of its episodes
            "n_steps_pow": trial.suggest_int("n_steps_pow", 5, 12),
            # gamma from 0.9 (the zoo's Pendulum-v1) to 0.9999
            "one_minus_gamma": trial.suggest_float("one_minus_gamma", 0.0001, 0.1, log=True),
            # One gradient step per batch of episodes: larger rates than the zoo's 2e-3 are worth trying
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 0.01, log=True),
            "reward_to_go": trial.suggest_categorical("reward_to_go", [True, False]),
            "baseline": trial.suggest_categorical("baseline", ["none", "mean"]),
            "normalize_advantage": trial.suggest_categorical("normalize_advantage", [True, False]),
            "ent_coef": trial.suggest_float("ent_coef", 0.00000001, 0.1, log=True),
            "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 5),
            "net_arch": trial.suggest_categorical("net_arch", ["tiny", "small", "medium"]),
            "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
            # A standard deviation from exp(-2) = 0.14 to exp(0) = 1; Tianshou's MuJoCo REINFORCE starts at exp(-0.5)
            **({"log_std_init": trial.suggest_float("log_std_init", -2, 0)} if n_actions > 0 else {}),
        }
    )
    _set_user_attrs(trial, hyperparams)
    return hyperparams


def sample_vpg_params(trial: "optuna.Trial", n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Sampler for VPG hyperparams.

    :param trial: the Optuna trial
    :param n_actions: unused (the zoo's samplers share one signature)
    :param n_envs: unused: ``batch_size`` is capped at ``n_steps``, which is valid for any ``n_envs``
    :param additional_args: unused
    :return: keyword arguments for ``VPG``
    """
    hyperparams = convert_critic_params(
        {
            # From 2**5=32 to 2**12=4096
            "n_steps_pow": trial.suggest_int("n_steps_pow", 5, 12),
            # From 2**5=32 to 2**10=1024, capped at n_steps: minibatches of the critic fit
            "batch_size_pow": trial.suggest_int("batch_size_pow", 5, 10),
            # gamma from 0.9 (the zoo's Pendulum-v1) to 0.9999
            "one_minus_gamma": trial.suggest_float("one_minus_gamma", 0.0001, 0.1, log=True),
            "one_minus_gae_lambda": trial.suggest_float("one_minus_gae_lambda", 0.0001, 0.1, log=True),
            # Actor: one gradient step per rollout; critic: n_critic_updates passes of minibatch regression
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 0.01, log=True),
            "vf_learning_rate": trial.suggest_float("vf_learning_rate", 1e-5, 0.01, log=True),
            "n_critic_updates": trial.suggest_int("n_critic_updates", 1, 30),
            "normalize_advantage": trial.suggest_categorical("normalize_advantage", [True, False]),
            "ent_coef": trial.suggest_float("ent_coef", 0.00000001, 0.1, log=True),
            "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 5),
            "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
            "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
        }
    )
    _set_user_attrs(trial, hyperparams)
    return hyperparams


def sample_npg_params(trial: "optuna.Trial", n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Sampler for NPG hyperparams: the zoo's TRPO sampler, with ``cg_damping`` and without the line search.

    :param trial: the Optuna trial
    :param n_actions: unused (the zoo's samplers share one signature)
    :param n_envs: unused: ``batch_size`` is capped at ``n_steps``, which is valid for any ``n_envs``
    :param additional_args: unused
    :return: keyword arguments for ``NPG``
    """
    hyperparams = convert_critic_params(
        {
            # From 2**5=32 to 2**12=4096
            "n_steps_pow": trial.suggest_int("n_steps_pow", 5, 12),
            # From 2**5=32 to 2**10=1024, capped at n_steps: minibatches of the critic fit
            "batch_size_pow": trial.suggest_int("batch_size_pow", 5, 10),
            # gamma from 0.9 (the zoo's Pendulum-v1) to 0.9999
            "one_minus_gamma": trial.suggest_float("one_minus_gamma", 0.0001, 0.1, log=True),
            "one_minus_gae_lambda": trial.suggest_float("one_minus_gae_lambda", 0.0001, 0.1, log=True),
            # The critic's learning rate: the policy step is set by target_kl
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 0.002, log=True),
            "n_critic_updates": trial.suggest_int("n_critic_updates", 5, 30),
            "cg_max_steps": trial.suggest_int("cg_max_steps", 5, 30),
            "cg_damping": trial.suggest_categorical("cg_damping", [0.5, 0.2, 0.1, 0.05, 0.01]),
            # Without a line search, every step has this KL to second order
            "target_kl": trial.suggest_float("target_kl", 0.001, 0.1, log=True),
            "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
            "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
        }
    )
    _set_user_attrs(trial, hyperparams)
    return hyperparams


def sample_klppo_params(trial: "optuna.Trial", n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Sampler for KLPPO hyperparams: the zoo's PPO sampler, with the KL penalty in place of ``clip_range``.

    :param trial: the Optuna trial
    :param n_actions: unused (the zoo's samplers share one signature)
    :param n_envs: unused: ``batch_size`` is capped at ``n_steps``, which is valid for any ``n_envs``
    :param additional_args: unused
    :return: keyword arguments for ``KLPPO``
    """
    hyperparams = convert_critic_params(
        {
            # From 2**2=4 to 2**10=1024, capped at n_steps, as the zoo's PPO sampler (but for the cap)
            "batch_size_pow": trial.suggest_int("batch_size_pow", 2, 10),
            # From 2**5=32 to 2**12=4096
            "n_steps_pow": trial.suggest_int("n_steps_pow", 5, 12),
            "one_minus_gamma": trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True),
            "one_minus_gae_lambda": trial.suggest_float("one_minus_gae_lambda", 0.0001, 0.1, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 0.002, log=True),
            "ent_coef": trial.suggest_float("ent_coef", 0.00000001, 0.1, log=True),
            "n_epochs": trial.suggest_categorical("n_epochs", [1, 5, 10, 20]),
            # The penalty: the paper's d_targ 0.003-0.03 and fixed beta 0.3-10, each widened
            "target_kl": trial.suggest_float("target_kl", 0.001, 0.1, log=True),
            "kl_coef": trial.suggest_float("kl_coef", 0.1, 10, log=True),
            "kl_coef_update": trial.suggest_categorical("kl_coef_update", ["adaptive", "dual", "fixed"]),
            "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 2),
            "net_arch": trial.suggest_categorical("net_arch", ["tiny", "small", "medium"]),
            "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
        }
    )
    _set_user_attrs(trial, hyperparams)
    return hyperparams


HYPERPARAMS_SAMPLER = {
    "reinforce": sample_reinforce_params,
    "vpg": sample_vpg_params,
    "npg": sample_npg_params,
    "klppo": sample_klppo_params,
}
HYPERPARAMS_CONVERTER = {
    "reinforce": convert_reinforce_params,
    "vpg": convert_critic_params,
    "npg": convert_critic_params,
    "klppo": convert_critic_params,
}


class _TrialNumber(int):
    """A trial number that is true even when it is 0 (see :func:`_load_trial_zero`)."""

    def __bool__(self) -> bool:
        return True


def _load_trial_zero() -> None:
    """
    Make ``--trial-id 0`` load trial 0. rl-zoo3 (2.x) loads a stored trial only ``if self.storage and
    self.study_name and self.trial_id``, so trial 0, a study's first (often an enqueued warm start), was silently
    ignored and the entry's own hyperparameters trained instead (the same test is behind DLR-RM/rl-baselines3-zoo#498).
    ``ExperimentManager.read_hyperparameters`` is wrapped to see trial 0 as a true value; any other id, and no id,
    behave as in the zoo. Idempotent.
    """
    from rl_zoo3.exp_manager import ExperimentManager

    read_hyperparameters = ExperimentManager.read_hyperparameters
    if getattr(read_hyperparameters, "_loads_trial_zero", False):
        return

    @functools.wraps(read_hyperparameters)
    def wrapper(self: ExperimentManager) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.trial_id == 0:
            self.trial_id = _TrialNumber(0)
        return read_hyperparameters(self)

    wrapper._loads_trial_zero = True  # type: ignore[attr-defined]
    ExperimentManager.read_hyperparameters = wrapper  # type: ignore[method-assign]


def register() -> None:
    """
    Add the new algorithms to rl-zoo3's tables: algorithms (``ppo_cleanrl``, ``ppo_fast`` and ``a2c_fast`` too), Optuna
    samplers and converters; and make ``--trial-id 0`` load trial 0 (:func:`_load_trial_zero`). Idempotent.
    """
    from rl_zoo3 import hyperparams_opt
    from rl_zoo3.utils import ALGOS

    ALGOS.update(FILE_ALGOS)
    ALGOS.update({name: algorithm for name, (algorithm, _) in FAST_ALGOS.items()})
    hyperparams_opt.HYPERPARAMS_SAMPLER.update(HYPERPARAMS_SAMPLER)
    hyperparams_opt.HYPERPARAMS_CONVERTER.update(HYPERPARAMS_CONVERTER)
    _load_trial_zero()
