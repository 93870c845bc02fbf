"""``load``: a missing or unreadable file raises what SB3 raises or the project's error; 0.2.0's files still load."""

import json
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg import KLPPO, NPG, REINFORCE, VPG

ALGOS = [REINFORCE, VPG, NPG, KLPPO]


@pytest.mark.parametrize("algo", ALGOS)
def test_a_missing_file_raises_what_sb3_raises(algo, tmp_path):
    with pytest.raises(FileNotFoundError) as sb3_error:
        PPO.load(tmp_path / "missing.zip")
    with pytest.raises(FileNotFoundError) as error:
        algo.load(tmp_path / "missing.zip")
    assert str(error.value) == str(sb3_error.value)
    # The resume pattern: a missing file is caught as FileNotFoundError, never as the unreadable-file ValueError
    try:
        algo.load(str(tmp_path / "missing"))
        resumed = True
    except FileNotFoundError:
        resumed = False
    assert not resumed


@pytest.mark.parametrize("algo", [VPG, KLPPO])
def test_an_existing_file_that_cannot_be_read_gets_the_project_error(algo, tmp_path):
    (tmp_path / "empty.zip").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.zip is not a readable .* model file"):
        algo.load(tmp_path / "empty.zip")
    # Without a suffix, SB3 tries the name with .zip, and so does the check
    algo("MlpPolicy", "CartPole-v1", n_steps=32, policy_kwargs=dict(net_arch=[8])).save(tmp_path / "model.zip")
    assert isinstance(algo.load(str(tmp_path / "model")), algo)


V020 = Path(__file__).resolve().parent / "data" / "v0.2.0"


@pytest.mark.parametrize("algo", ALGOS)
def test_models_saved_by_0_2_0_still_load(algo):
    # Written by tests/data/v0.2.0/make.py with sb3_pg 0.2.0: the same policy, actions and onward training
    expected = json.loads((V020 / "expected.json").read_text())[algo.__name__]
    model = algo.load(V020 / f"{algo.__name__.lower()}.zip", env=make_vec_env(expected["env"], seed=0), device="cpu")
    assert model.algorithm_name == algo.__name__ and model.num_timesteps == expected["num_timesteps"] and model.fast_rollout
    actions, _ = model.predict(np.array(expected["observations"], dtype=np.float32), deterministic=True)
    np.testing.assert_allclose(actions, expected["actions"], rtol=1e-6, atol=1e-6)
    model.learn(64, reset_num_timesteps=False)
    assert model.num_timesteps >= expected["num_timesteps"] + 64
