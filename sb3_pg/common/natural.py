"""
The natural policy-gradient step (``algorithms.md`` section 5).

    x    = F^-1 g                        by conjugate gradient on Fisher-vector products
    step = sqrt(2 delta / (x^T F x)) x   (KL-normalised, the default)
    step = alpha x                       (fixed step size, as Tianshou's NPG)

``F`` is the Hessian of the mean KL divergence between the rollout policy and the current one, evaluated
at the current parameters, which equals the Fisher information matrix of the policy. It is never formed:
each product ``F v`` is the gradient of ``(grad KL) . v``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch as th
from sb3_contrib.common.utils import conjugate_gradient_solver, flat_grad
from torch import nn


def fisher_vector_product_fn(
    kl_divergence: th.Tensor, params: Sequence[nn.Parameter], damping: float
) -> Callable[[th.Tensor], th.Tensor]:
    """
    Build ``v -> (F + damping I) v`` for the Hessian ``F`` of ``kl_divergence`` w.r.t. ``params``.

    :param kl_divergence: mean KL divergence between the rollout policy (held constant) and the current policy
    :param params: the policy parameters ``F`` is taken over
    :param damping: Tikhonov damping added to ``F`` (``cg_damping``)
    :return: the Fisher-vector product function
    """
    grad_kl = flat_grad(kl_divergence, params, create_graph=True, retain_graph=True)

    def fisher_vector_product(vector: th.Tensor) -> th.Tensor:
        return flat_grad(grad_kl @ vector, params, retain_graph=True) + damping * vector

    return fisher_vector_product


@dataclass
class NaturalStep:
    """
    The outcome of :func:`natural_step`.

    :param step: the change to add to the flat parameters, ``None`` when the step is skipped
    :param step_size: the scalar that multiplies ``x = F^-1 g``
    :param quadratic_form: ``x^T F x`` (damping included)
    :param cg_residual: relative residual of the solve, ``||g - F x|| / ||g||``
    :param skipped: why no step is taken, ``None`` when one is
    """

    step: th.Tensor | None
    step_size: float
    quadratic_form: float
    cg_residual: float
    skipped: str | None


def natural_step(
    gradient: th.Tensor,
    fisher_vector_product: Callable[[th.Tensor], th.Tensor],
    cg_max_steps: int,
    target_kl: float,
    step_size: float | None = None,
) -> NaturalStep:
    """
    Solve ``F x = g`` by conjugate gradient and scale ``x`` into a step.

    Without ``step_size`` the step is ``sqrt(2 target_kl / x^T F x) x``: to second order its KL divergence is
    ``target_kl``. With ``step_size`` it is ``step_size * x``. A zero or non-finite gradient, a non-finite
    solution, or ``x^T F x <= 0`` give no step (``step is None``) and the reason in ``skipped``.

    :param gradient: flat gradient ``g`` of the surrogate objective
    :param fisher_vector_product: ``v -> F v``, see :func:`fisher_vector_product_fn`
    :param cg_max_steps: maximum number of conjugate-gradient iterations
    :param target_kl: the KL divergence ``delta`` a KL-normalised step aims for
    :param step_size: a fixed step size ``alpha``, or ``None`` for the KL-normalised step
    :return: the step and its diagnostics
    """
    gradient_norm = float(gradient.norm())
    if gradient_norm == 0.0 or not th.isfinite(gradient).all():
        reason = "zero policy gradient" if gradient_norm == 0.0 else "non-finite policy gradient"
        return NaturalStep(None, 0.0, 0.0, 0.0, reason)

    direction = conjugate_gradient_solver(fisher_vector_product, gradient, max_iter=cg_max_steps)
    fisher_direction = fisher_vector_product(direction)
    quadratic_form = float(direction @ fisher_direction)
    cg_residual = float((gradient - fisher_direction).norm()) / gradient_norm

    if not th.isfinite(direction).all() or not th.isfinite(fisher_direction).all():
        return NaturalStep(None, 0.0, quadratic_form, cg_residual, "non-finite conjugate-gradient solution")
    if not quadratic_form > 0.0:  # also catches NaN
        return NaturalStep(None, 0.0, quadratic_form, cg_residual, f"x^T F x = {quadratic_form:.3g} <= 0")

    scale = step_size if step_size is not None else (2.0 * target_kl / quadratic_form) ** 0.5
    return NaturalStep(scale * direction.detach(), scale, quadratic_form, cg_residual, None)
