"""The HyperNoise objectives, per noise sample.

Exact (the KL divergence from the pushforward of N(0, I) through z ↦ z + f(z) to the
reward-tilted p*(z) ∝ N(z; 0, I)·exp(r(g(z))/α), up to a constant):

    ½‖f(z)‖² + Tr J_f(z) − log|det(I + J_f(z))| − r(g(z + f(z)))/α

Practical (the paper's training loss; the Jacobian terms are dropped, which costs at most
d·(−log(1 − L) − L) in KL for an L-Lipschitz f with L < 1):

    ½‖f(z)‖² − r(g(z + f(z)))/α

The trainer uses ``practical_loss`` with a choice of ``sum`` or ``mean`` for the
regulariser; ``jacobian_terms`` makes the exact objective for small d, where the Jacobian
can be formed (the theory check in the tests).
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def regulariser(f: torch.Tensor, how: str = "sum") -> torch.Tensor:
    """Per sample ½·agg(f²) over the noise dimensions, in fp32 (agg: sum or mean)."""
    sq = f.float().flatten(1) ** 2
    return 0.5 * (sq.sum(dim=1) if how == "sum" else sq.mean(dim=1))


def practical_loss(f: torch.Tensor, reward: torch.Tensor, reg: str = "sum", reg_weight: float = 1.0,
                   temperature: float = 1.0) -> torch.Tensor:
    """Per sample reg_weight·½·agg(f²) − r/temperature."""
    return reg_weight * regulariser(f, reg) - reward.float() / temperature


def jacobian_terms(f: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Per sample Tr J_f(z) − log|det(I + J_f(z))| for z of shape (B, d) (small d only)."""
    jac = torch.func.vmap(torch.func.jacrev(f))(z)  # (B, d, d)
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    return torch.diagonal(jac, dim1=1, dim2=2).sum(dim=1) - torch.linalg.slogdet(eye + jac)[1]


def practical_gap_bound(d: int, lipschitz: float) -> float:
    """The paper's bound on what dropping the Jacobian terms can cost: d·(−log(1 − L) − L)."""
    if not 0 <= lipschitz < 1:
        return math.inf
    return d * (-math.log1p(-lipschitz) - lipschitz)
