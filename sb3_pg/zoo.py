"""
Make sb3_pg's algorithms first-class RL Zoo algorithms.

:func:`register` adds ``reinforce``, ``vpg`` and ``npg`` to rl-zoo3's algorithm table (and, once written, to its
hyperparameter samplers); :func:`hyperparams_file` gives the hyperparameter file an algorithm trains with.
rl-zoo3 is an optional dependency (``pip install sb3-pg[zoo]``): the algorithms never import this module.
"""

from importlib import resources

from sb3_pg import NPG, REINFORCE, VPG

NEW_ALGOS = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG}


def hyperparams_file(algo: str) -> str:
    """
    :param algo: a zoo algorithm name (``ppo``, ``trpo``, ``npg``, ...)
    :return: the path of the hyperparameter file it trains with: this package's for the new algorithms,
        rl-zoo3's own for the others
    """
    if algo in NEW_ALGOS:
        return str(resources.files("sb3_pg.hyperparams") / f"{algo}.yml")
    import rl_zoo3

    return str(resources.files(rl_zoo3) / "hyperparams" / f"{algo}.yml")


def register() -> None:
    """Add the new algorithms to rl-zoo3's tables (idempotent)."""
    from rl_zoo3.utils import ALGOS

    ALGOS.update(NEW_ALGOS)
