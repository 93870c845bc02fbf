"""
``python -m sb3_pg.train``: rl-zoo3's ``train.py`` with ``reinforce``, ``vpg``, ``npg`` and ``klppo`` registered.

It takes every flag of ``python -m rl_zoo3.train`` and trains any zoo algorithm as the zoo does. The new
algorithms read their hyperparameters from this package's files (:func:`sb3_pg.zoo.hyperparams_file`), the zoo's
algorithms from the zoo's; an explicit ``--conf-file`` wins. Hyperparameter search (``-optimize``) samples with
:mod:`sb3_pg.zoo`'s samplers, and ``-i`` continues the training of a saved model.
"""

import sys

from rl_zoo3.train import train

from sb3_pg.zoo import register, zoo_argv


def main() -> None:
    """Run rl-zoo3's ``train()`` on this process's command line."""
    # Before train() builds its parser: the --algo choices are the keys of the zoo's ALGOS
    register()
    sys.argv[1:] = zoo_argv(sys.argv[1:])
    train()


if __name__ == "__main__":
    main()
