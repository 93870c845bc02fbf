from sb3_pg.npg.npg import NPG
from sb3_pg.npg.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["NPG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
