"""The theory behind HyperNoise, checked where the answer is known in closed form.

A fixed generator g(z) = z in 2-D and a quadratic reward r(x) = −½(x − m)ᵀQ(x − m): the
reward-tilted noise distribution p*(z) ∝ N(z; 0, I)·exp(r(z)/α) is the Gaussian with
precision P = I + Q/α and mean P⁻¹(Q/α)m. An affine modulator f(z) = Bz + b pushes N(0, I)
to N(b, (I + B)(I + B)ᵀ), so the learned distribution can be read off its parameters.
"""

import math

import torch

from methods.hypernoise.objective import jacobian_terms, practical_gap_bound, practical_loss

Q = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
M = torch.tensor([1.5, -1.0], dtype=torch.float64)
ALPHA = 0.5
P = torch.eye(2, dtype=torch.float64) + Q / ALPHA
MEAN = torch.linalg.solve(P, Q / ALPHA @ M)
COV = torch.linalg.inv(P)


def reward(x: torch.Tensor) -> torch.Tensor:
    d = x - M
    return -0.5 * ((d @ Q) * d).sum(dim=1)


def fit(exact: bool, steps: int = 1200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train an affine f on a fixed sample of noise with the exact or the practical objective;
    returns the pushforward's mean and covariance, and B (the Jacobian of f)."""
    torch.manual_seed(0)
    z = torch.randn(2048, 2, dtype=torch.float64)
    z = (z - z.mean(0)) @ torch.linalg.inv(torch.linalg.cholesky(torch.cov(z.T))).T  # whitened sample
    B = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([B, b], lr=0.02)

    def f(v: torch.Tensor) -> torch.Tensor:
        return v @ B.T + b

    for _ in range(steps):
        fz = f(z)
        loss = practical_loss(fz, reward(z + fz), reg="sum", temperature=ALPHA)
        if exact:
            loss = loss + jacobian_terms(f, z)
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
    A = torch.eye(2, dtype=torch.float64) + B.detach()
    return b.detach(), A @ A.T, B.detach()


def kl_gaussians(m0, S0, m1, S1) -> float:
    """KL(N(m0, S0) || N(m1, S1))."""
    S1_inv = torch.linalg.inv(S1)
    d = m1 - m0
    return float(0.5 * (torch.trace(S1_inv @ S0) + d @ S1_inv @ d - len(m0)
                        + torch.logdet(S1) - torch.logdet(S0)))


def test_exact_objective_learns_the_tilted_distribution():
    mean, cov, _ = fit(exact=True)
    assert torch.allclose(mean, MEAN, atol=0.02), (mean, MEAN)
    assert torch.allclose(cov, COV, atol=0.02), (cov, COV)
    assert kl_gaussians(mean, cov, MEAN, COV) < 1e-3


def test_practical_objective_stays_within_the_papers_bound():
    mean, cov, jac = fit(exact=False)
    # Closed form of the practical optimum: the right mean, covariance P⁻² instead of P⁻¹
    assert torch.allclose(mean, MEAN, atol=0.02)
    assert torch.allclose(cov, COV @ COV, atol=0.02)
    kl = kl_gaussians(mean, cov, MEAN, COV)
    lipschitz = float(torch.linalg.matrix_norm(jac, ord=2))
    bound = practical_gap_bound(2, lipschitz)
    assert 0.1 < kl <= bound, (kl, bound)  # a real deviation, and no larger than the bound
    assert math.isinf(practical_gap_bound(2, 1.0))
