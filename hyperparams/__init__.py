"""RL Zoo hyperparameter files of sb3_pg's algorithms, installed as the package ``sb3_pg.hyperparams``."""
