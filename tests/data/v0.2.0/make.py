"""
Write the models of ``tests/test_load.py::test_models_saved_by_0_2_0_still_load``, with sb3_pg 0.2.0 (commit 018b7d7):

    git worktree add /tmp/v020 018b7d7 && PYTHONPATH=/tmp/v020 python tests/data/v0.2.0/make.py

Each algorithm trains a small policy for two rollouts, then saves it beside its deterministic actions on a few
observations (``expected.json``).
"""

import json
from pathlib import Path

import numpy as np

import sb3_pg
from sb3_pg import KLPPO, NPG, REINFORCE, VPG

HERE = Path(__file__).resolve().parent
ENVS = {REINFORCE: "CartPole-v1", VPG: "Pendulum-v1", NPG: "CartPole-v1", KLPPO: "Pendulum-v1"}

assert sb3_pg.__version__ == "0.2.0", sb3_pg.__version__
expected = {}
for algo, env in ENVS.items():
    kwargs = dict(n_steps=64, policy_kwargs=dict(net_arch=[8]), seed=0)
    kwargs |= {} if algo is REINFORCE else dict(batch_size=32)
    model = algo("MlpPolicy", env, **kwargs).learn(128)
    observations = np.stack([model.observation_space.sample() for _ in range(4)])
    actions, _ = model.predict(observations, deterministic=True)
    model.save(HERE / f"{algo.__name__.lower()}.zip")
    expected[algo.__name__] = {"env": env, "num_timesteps": model.num_timesteps, "observations": observations.tolist()}
    expected[algo.__name__]["actions"] = actions.tolist()
(HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
