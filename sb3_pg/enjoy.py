"""
``python -m sb3_pg.enjoy``: rl-zoo3's ``enjoy.py`` with ``reinforce``, ``vpg``, ``npg`` and ``klppo`` registered.

It takes every flag of ``python -m rl_zoo3.enjoy``. A run is found as the zoo finds it
(``<folder>/<algo>/<env>_<exp-id>/``), with the hyperparameters saved beside it (``config.yml``, ``args.yml``,
``vecnormalize.pkl``): no hyperparameter file is read.
"""

from rl_zoo3.enjoy import enjoy

from sb3_pg.zoo import register


def main() -> None:
    """Run rl-zoo3's ``enjoy()`` on this process's command line."""
    # Before enjoy() builds its parser: the --algo choices are the keys of the zoo's ALGOS
    register()
    enjoy()


if __name__ == "__main__":
    main()
