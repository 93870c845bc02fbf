"""``load`` of a missing or unreadable file: what SB3 raises where SB3 raises it, the project's error else."""

import pytest
from stable_baselines3 import PPO

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
