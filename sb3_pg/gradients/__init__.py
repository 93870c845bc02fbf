"""
Gradient quality: the variance and the agreement of policy-gradient estimators at a fixed policy
(``algorithms.md`` section 7, ``docs/gradients.md``).

``python -m sb3_pg.gradients`` measures them for a policy (fresh, saved, or from an RL Zoo log folder) over a
range of batch sizes; :class:`GradientQualityCallback` measures them during training. ``import sb3_pg`` does
not import this package.
"""

from sb3_pg.gradients.callback import GradientQualityCallback
from sb3_pg.gradients.estimators import (
    EpisodePool,
    GradientReport,
    ValueFit,
    batch_gradients,
    compute_weights,
    explained_variance,
    fit_value_function,
    form_batches,
    gradient_measures,
    measure_gradients,
    sample_episodes,
    weighting_names,
)

__all__ = [
    "EpisodePool",
    "GradientQualityCallback",
    "GradientReport",
    "ValueFit",
    "batch_gradients",
    "compute_weights",
    "explained_variance",
    "fit_value_function",
    "form_batches",
    "gradient_measures",
    "measure_gradients",
    "sample_episodes",
    "weighting_names",
]
