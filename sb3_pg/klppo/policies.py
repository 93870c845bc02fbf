# MlpPolicy/CnnPolicy/MultiInputPolicy: SB3's ActorCriticPolicy family
from sb3_pg.common.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
