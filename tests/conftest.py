import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch as th

from sb3_pg import KLPPO, NPG, REINFORCE, VPG

ALGOS = [REINFORCE, VPG, NPG, KLPPO]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_thread():
    # The CI machine has 2 cores; pytest-xdist runs one worker per core
    th.set_num_threads(1)


def small_kwargs(algo: type, n_steps: int = 32) -> dict:
    """Hyperparameters for a fast run of any of the algorithms."""
    kwargs = dict(n_steps=n_steps, policy_kwargs=dict(net_arch=[16]))
    if algo is not REINFORCE:
        kwargs["batch_size"] = 16
    if algo in (VPG, NPG):
        kwargs["n_critic_updates"] = 2
    if algo is KLPPO:
        kwargs["n_epochs"] = 2
    return kwargs


def load_script(name: str) -> ModuleType:
    """:return: ``benchmarks/<name>.py`` as a module (the scripts are not a package)"""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))  # as when run: a script's folder is first on sys.path
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
