"""
The natural policy-gradient step (``algorithms.md`` section 5).

    x    = F^-1 g                        by conjugate gradient on Fisher-vector products
    step = sqrt(2 delta / (x^T F x)) x   (KL-normalised, the default)
    step = alpha x                       (fixed step size, as Tianshou's NPG)

``F`` is the Hessian of the mean KL divergence between the rollout policy and the current one, evaluated
at the current parameters, which equals the Fisher information matrix of the policy. It is never formed:
each product ``F v`` is computed from Jacobian-vector products (see :func:`fisher_vector_product_fn`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch as th
from sb3_contrib.common.utils import conjugate_gradient_solver
from stable_baselines3.common.distributions import Distribution
from torch import nn


def _kl_of_outputs(distribution: Distribution, old_distribution: Distribution) -> tuple[list[th.Tensor], th.Tensor]:
    """
    The mean KL divergence as a function of the tensors ``z`` the action distribution is built from.

    Each term is written so that its gradient w.r.t. ``z`` is zero where the two distributions are equal, which
    the Gauss-Newton form needs. torch's Categorical keeps normalised logits, and its KL formula, read as a
    function of them, does not have that property: the categorical term is therefore written with ``log_softmax``.
    The mean is SB3's ``kl_divergence(...).mean()``, which sb3-contrib's TRPO holds to ``target_kl``: the components
    of a MultiCategorical are summed, and a Gaussian's or Bernoulli's KL is averaged over batch and action dimensions.

    :return: ``(z, mean KL)``
    """
    new_parts: Any = distribution.distribution
    old_parts: Any = old_distribution.distribution
    if not isinstance(new_parts, list):
        new_parts, old_parts = [new_parts], [old_parts]
    outputs: list[th.Tensor] = []
    terms: list[th.Tensor] = []
    for new, old in zip(new_parts, old_parts, strict=True):
        if isinstance(new, th.distributions.Normal):
            outputs += [new.loc, new.scale]
            term = th.distributions.kl_divergence(new, old)
        elif isinstance(new, th.distributions.Bernoulli):
            outputs.append(new.logits)
            term = th.distributions.kl_divergence(new, old)
        elif isinstance(new, th.distributions.Categorical):
            outputs.append(new.logits)
            term = (old.probs * (old.logits - th.log_softmax(new.logits, dim=-1))).sum(dim=-1)
        else:
            raise TypeError(f"NPG has no Fisher-vector product for {type(new).__name__} distributions")
        terms.append(term)
    mean_kl = th.stack(terms, dim=1).sum(dim=1).mean() if len(terms) > 1 else terms[0].mean()
    return outputs, mean_kl


def fisher_vector_product_fn(
    distribution: Distribution,
    old_distribution: Distribution,
    params: Sequence[nn.Parameter],
    damping: float,
) -> Callable[[th.Tensor], th.Tensor]:
    """
    Build ``v -> (F + damping I) v`` for ``F`` the Hessian of the mean KL divergence w.r.t. ``params``.

    ``F`` is applied in its Gauss-Newton form ``J^T M J``: ``z`` are the tensors the action distribution is built
    from (logits, or a Gaussian's loc and scale), ``J = dz/dtheta`` and ``M`` the Hessian of the mean KL w.r.t.
    ``z`` (see :func:`_kl_of_outputs`). Since ``d KL / dz = 0`` where the two distributions are equal, this is
    exactly the Hessian of the KL at the rollout parameters, at the cost of two passes through the network's
    backward graph (``J v`` by the double-vjp trick, then ``J^T u``) instead of a backward pass through the
    gradient of the KL.

    :param distribution: the current policy's distribution on the batch, with its graph
    :param old_distribution: the rollout policy's distribution on the batch (no graph), equal to ``distribution``
    :param params: the policy parameters ``F`` is taken over
    :param damping: Tikhonov damping added to ``F`` (``cg_damping``)
    :return: the Fisher-vector product function
    """
    outputs, mean_kl = _kl_of_outputs(distribution, old_distribution)
    # d KL / dz, kept as a graph: differentiating it along u gives M u
    grad_kl = th.autograd.grad(mean_kl, outputs, create_graph=True)
    # J^T u for a placeholder u, kept as a graph: differentiating it w.r.t. u along v gives J v
    placeholders = [th.zeros_like(z, requires_grad=True) for z in outputs]
    jacobian_t_placeholder = th.autograd.grad(outputs, params, placeholders, create_graph=True, allow_unused=True)
    linked = [i for i, grad in enumerate(jacobian_t_placeholder) if grad is not None]

    def fisher_vector_product(vector: th.Tensor) -> th.Tensor:
        split = th.split(vector, [param.numel() for param in params])
        chunks = [chunk.view_as(param) for chunk, param in zip(split, params, strict=True)]
        jacobian_v = th.autograd.grad(
            [jacobian_t_placeholder[i] for i in linked], placeholders, [chunks[i] for i in linked], retain_graph=True
        )
        m_jacobian_v = th.autograd.grad(grad_kl, outputs, jacobian_v, retain_graph=True)
        product = th.autograd.grad(outputs, params, m_jacobian_v, retain_graph=True, allow_unused=True)
        flat = [th.zeros_like(p).reshape(-1) if g is None else g.reshape(-1) for g, p in zip(product, params, strict=True)]
        return th.cat(flat) + damping * vector

    return fisher_vector_product


def flat_gradient(output: th.Tensor, params: Sequence[nn.Parameter], retain_graph: bool = False) -> th.Tensor:
    """
    The gradient of ``output`` w.r.t. ``params``, flattened into one vector, with zeros for the parameters
    ``output`` does not depend on (sb3-contrib's ``flat_grad`` leaves them out, so its vector no longer matches
    the parameters' sizes).

    :param output: a scalar
    :param params: the parameters
    :param retain_graph: keep the graph for further gradients
    :return: the flat gradient, of ``sum(p.numel() for p in params)`` entries
    """
    grads = th.autograd.grad(output, params, retain_graph=retain_graph, allow_unused=True)
    return th.cat([th.zeros_like(p).reshape(-1) if g is None else g.reshape(-1) for g, p in zip(grads, params, strict=True)])


def solve_fisher(
    gradient: th.Tensor,
    fisher_vector_product: Callable[[th.Tensor], th.Tensor],
    cg_max_steps: int,
) -> tuple[th.Tensor, th.Tensor, float]:
    """
    Solve ``F x = g`` by sb3-contrib's conjugate gradient, on ``g / ||g||``.

    sb3-contrib's ``conjugate_gradient_solver`` starts from ``1e-4 * randn`` and stops on an absolute tolerance on
    ``||r||^2``. Given a tiny gradient as it is, its "solution" is that starting noise. Solved for the unit vector
    ``g / ||g||`` and scaled back, the solve is equally accurate at every scale of ``g``.

    :param gradient: the flat gradient ``g``, finite and non-zero
    :param fisher_vector_product: ``v -> F v``, see :func:`fisher_vector_product_fn`
    :param cg_max_steps: maximum number of conjugate-gradient iterations
    :return: ``(x, F x, ||g - F x|| / ||g||)``
    """
    gradient_norm = gradient.norm()
    unit = gradient / gradient_norm
    unit_direction = conjugate_gradient_solver(fisher_vector_product, unit, max_iter=cg_max_steps)
    fisher_unit_direction = fisher_vector_product(unit_direction)
    residual = float((unit - fisher_unit_direction).norm())
    return unit_direction * gradient_norm, fisher_unit_direction * gradient_norm, residual


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

    direction, fisher_direction, cg_residual = solve_fisher(gradient, fisher_vector_product, cg_max_steps)
    quadratic_form = float(direction @ fisher_direction)

    if not th.isfinite(direction).all() or not th.isfinite(fisher_direction).all():
        return NaturalStep(None, 0.0, quadratic_form, cg_residual, "non-finite conjugate-gradient solution")
    if not quadratic_form > 0.0:  # also catches NaN
        return NaturalStep(None, 0.0, quadratic_form, cg_residual, f"x^T F x = {quadratic_form:.3g} <= 0")
    # A step that does not ascend, or a solve no better than x = 0, cannot be trusted
    if not float(gradient @ direction) > 0.0:
        return NaturalStep(None, 0.0, quadratic_form, cg_residual, "g^T x <= 0: x = F^-1 g is not an ascent direction")
    if not cg_residual < 1.0:
        return NaturalStep(None, 0.0, quadratic_form, cg_residual, f"conjugate-gradient residual {cg_residual:.3g} >= 1")

    scale = step_size if step_size is not None else (2.0 * target_kl / quadratic_form) ** 0.5
    return NaturalStep(scale * direction.detach(), scale, quadratic_form, cg_residual, None)
