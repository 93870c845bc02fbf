import pytest
import torch as th

from sb3_pg import NPG, REINFORCE, VPG

ALGOS = [REINFORCE, VPG, NPG]


@pytest.fixture(autouse=True)
def _one_thread():
    # The CI machine has 2 cores; pytest-xdist runs one worker per core
    th.set_num_threads(1)


def small_kwargs(algo: type, n_steps: int = 32) -> dict:
    """Hyperparameters for a fast run of any of the algorithms."""
    kwargs = dict(n_steps=n_steps, policy_kwargs=dict(net_arch=[16]))
    if algo is not REINFORCE:
        kwargs["batch_size"] = 16
        kwargs["n_critic_updates"] = 2
    return kwargs
