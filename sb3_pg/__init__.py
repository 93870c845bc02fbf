"""REINFORCE, VPG, NPG and KLPPO as Stable-Baselines3 on-policy algorithms, and their rollout path for any of SB3's."""

from sb3_pg.common.rollout import FastRollout
from sb3_pg.klppo import KLPPO
from sb3_pg.npg import NPG
from sb3_pg.reinforce import REINFORCE
from sb3_pg.vpg import VPG

__version__ = "0.2.0"

__all__ = ["KLPPO", "NPG", "REINFORCE", "VPG", "FastRollout", "__version__"]
