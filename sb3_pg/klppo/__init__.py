from sb3_pg.klppo.klppo import KLPPO, update_kl_coef
from sb3_pg.klppo.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["KLPPO", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "update_kl_coef"]
