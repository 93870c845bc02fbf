from sb3_pg.common.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_pg.vpg.vpg import VPG

__all__ = ["VPG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
