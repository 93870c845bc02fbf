"""
Compare REINFORCE, VPG and NPG with PPO and TRPO (or any rl-zoo3 algorithms) on the same environments.

``python -m sb3_pg.compare --env CartPole-v1 Acrobot-v1 --algo reinforce vpg npg ppo trpo --seeds 5 -f runs/``

- Every (environment, algorithm, seed) is trained by rl-zoo3's own ``train`` (``rl_zoo3.train``, after
  :func:`sb3_pg.zoo.register`), each algorithm with its zoo hyperparameter file: rl-zoo3's for PPO and TRPO,
  this package's for the new ones (:func:`sb3_pg.zoo.hyperparams_file`).
- Every algorithm on an environment trains the same number of steps: ``n_timesteps`` of the environment in
  rl-zoo3's ``ppo.yml`` by default (:func:`~sb3_pg.compare.grid.zoo_budget`), or ``-n``.
- Each run is evaluated periodically on separate evaluation environments by the zoo's ``EvalCallback``
  (``evaluations.npz``).
- Runs train in parallel processes, or as Ray tasks on a Ray cluster (``ray_address``), where a task lost with
  its node is retried (``docs/ray.md``). A finished run is
  never trained again; an interrupted one restarts cleanly, or resumes from its latest checkpoint when
  ``save_freq`` is set (see :mod:`sb3_pg.compare.runner`). A crashed run is reported with its log and does
  not stop the others.
- The report (:func:`build_report`), rebuilt from the run folders alone: ``report.md`` with one table per
  environment, learning-curve PNGs, ``runs.csv``, ``evaluations.csv`` and ``summary.csv``.
"""

from importlib import import_module
from typing import Any

# Imported on first use, so that a run's process (``python -m sb3_pg.compare._zoo_train``) does not load the
# report's dependencies (pandas, rliable, matplotlib)
_EXPORTS = {
    "DEFAULT_ALGOS": "api",
    "compare": "api",
    "default_workers": "api",
    "run_grid": "api",
    "Grid": "grid",
    "RunSpec": "grid",
    "make_grid": "grid",
    "zoo_budget": "grid",
    "Report": "report",
    "build_report": "report",
    "RunOutcome": "runner",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"sb3_pg.compare.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
