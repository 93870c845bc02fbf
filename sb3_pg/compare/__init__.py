"""
Compare REINFORCE, VPG, NPG and KLPPO with PPO and TRPO (or any rl-zoo3 algorithms), each run trained by rl-zoo3's
``train`` (``python -m sb3_pg.compare``, :mod:`.__main__`): :mod:`.spec`, :mod:`.run`, :mod:`.results`, :mod:`.report`.
"""

from importlib import import_module
from typing import Any

# Imported on first use, so that a run's process does not load the report's dependencies
_EXPORTS = dict.fromkeys(("compare", "DEFAULT_ALGOS", "default_workers"), "__main__")
_EXPORTS |= dict.fromkeys(("RunSpec", "Grid", "make_grid", "zoo_budget"), "spec") | {"RunOutcome": "run"}
_EXPORTS |= dict.fromkeys(("Report", "build_report"), "report")


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"sb3_pg.compare.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
