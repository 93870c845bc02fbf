from sb3_pg.common.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_pg.npg.npg import NPG

__all__ = ["NPG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
