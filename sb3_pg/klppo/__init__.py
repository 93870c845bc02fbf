from sb3_pg.common.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_pg.klppo.klppo import KLPPO, update_kl_coef

__all__ = ["KLPPO", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "update_kl_coef"]
