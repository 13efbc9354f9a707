"""`HessianCache`: Newton systems solved with a kept factorization (CG preconditioned by a former
Hessian) meet their residual target, checked against the Hessian formed directly; and a large limit
solved with reuse equals the one that factors every Newton step."""

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.engine import linalg
from dlnlab.engine.linalg import HessianCache


def test_reused_factor_solves_to_the_requested_residual():
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((400, 60)))[0]
    d = np.exp(rng.uniform(-8, 0, 400))
    cache = HessianCache(force=True)
    cache.solve(Q, d, rng.standard_normal(60), eta=1e-8)
    for spread, eta in [(0.1, 1e-8), (1.0, 1e-2), (2.0, 1e-4)]:
        d_new = d * np.exp(rng.uniform(-spread, spread, 400))
        b = rng.standard_normal(60)
        before = cache.factorizations
        v = cache.solve(Q, d_new, b, eta=eta)
        H = Q.T @ (d_new[:, None] * Q)
        H[np.diag_indices(60)] += linalg.JITTER * float(np.max(np.diag(H)))
        reused = cache.factorizations == before
        # reused: CG's own test; refactored: a direct solve (1e-10 covers its rounding at this condition)
        assert np.linalg.norm(H @ v - b) <= (eta if reused else 1e-10) * np.linalg.norm(b) * 1.01
    assert cache.cg_iterations > 0


def test_a_slope_that_appears_is_corrected_exactly():
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((50, 10)))[0]
    d = np.ones(50)
    d[0] = 0.0
    cache = HessianCache(force=True)
    cache.solve(Q, d, np.ones(10), eta=1e-8)
    d2 = np.ones(50)  # d_ref = 0 where d > 0: no bound without a correction of that coordinate
    v = cache.solve(Q, d2, np.ones(10), eta=1e-8)
    assert cache.factorizations == 1 and cache.corrections == 1 and cache.corrected == 1
    # Q^T Q = I: v = 1 exactly; the corrected preconditioner is exact here (all other ratios are 1),
    # so CG stops after one step at the rounding of the Woodbury solve (measured 2e-16)
    assert np.allclose(v, np.ones(10), rtol=1e-12)


def _hessian(Q, d, jitter):
    H = Q.T @ (d[:, None] * Q)
    H[np.diag_indices(Q.shape[1])] += jitter
    return H


def _primed(seed, N, r, log_low):
    """``(rng, Q, d, cache)``: a random orthonormal ``Q`` (N x r), slopes ``exp(U(log_low, 0))`` and a
    `HessianCache` that has factored their Hessian (one solve)."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((N, r)))[0]
    d = np.exp(rng.uniform(log_low, 0, N))
    cache = HessianCache(force=True)
    cache.solve(Q, d, rng.standard_normal(r), eta=1e-8)
    return rng, Q, d, cache


def test_corrected_preconditioner_is_the_woodbury_inverse():
    """`_preconditioner` applies ``M^{-1}``, ``M = t L L^T + Q_C^T diag(d_C - t d_ref_C) Q_C``, with
    corrections of both signs, as a dense solve with M does."""
    rng, Q, d_ref, cache = _primed(2, 200, 30, -6)
    N, r = Q.shape
    c, _, jitter = cache.factor
    L = np.tril(c)
    d = d_ref * 1e-3
    C = np.array([3, 17, 40, 41, 100, 150])
    d[C[:3]] = d_ref[C[:3]] * 1e4   # grew far above the common factor
    d[C[3:]] = d_ref[C[3:]] * 1e-9  # fell far below it (negative corrections)
    t = 1e-3
    M = t * (L @ L.T) + Q[C].T @ ((d[C] - t * d_ref[C])[:, None] * Q[C])
    apply = cache._preconditioner(Q, d, C, t)
    for _ in range(3):
        v = rng.standard_normal(r)
        exact = np.linalg.solve(M, v)
        # cond(M) ~ 1e8 here: a backward-stable solve is good to ~1e-8 relative (measured 3e-12)
        assert np.linalg.norm(apply(v) - exact) <= 1e-8 * np.linalg.norm(exact)
    assert np.allclose(L @ L.T, _hessian(Q, d_ref, jitter), rtol=0, atol=1e-13)


@pytest.mark.parametrize("eta", [1e-2, 1e-6, 1e-10])
def test_corrected_reuse_solves_to_the_requested_residual(eta):
    """A common rescaling of the slopes and a few that change by orders of magnitude (a new scale of the
    continuation): the kept factor, scaled and corrected, solves the new system to ``eta`` without a new
    factorization, and the direction agrees with a dense solve."""
    rng, Q, d, cache = _primed(3, 400, 40, -10)
    N, r = Q.shape
    jitter = cache.factor[2]
    d_new = d * 3e-5 * np.exp(rng.uniform(-0.5, 0.5, N))
    moved = rng.choice(N, 12, replace=False)
    d_new[moved] = d[moved] * np.exp(rng.uniform(-12, 12, 12))
    b = rng.standard_normal(r)
    v = cache.solve(Q, d_new, b, eta=eta)
    assert cache.factorizations == 1 and cache.corrections == 1 and cache.corrected >= 6
    # the system reused: H + t j_ref I with t the window's center (about 3e-5)
    t = float(np.exp(np.median(np.log(d_new / d))))
    H = _hessian(Q, d_new, t * jitter)
    # the jitter t j_ref is 1e-14 of H (t: the window's center, not exposed): dropping it moves the
    # residual by at most 3e-6 of eta (measured); 1.05 leaves room for it
    assert np.linalg.norm(H @ v - b) <= eta * np.linalg.norm(b) * 1.05
    exact = np.linalg.solve(H, b)
    assert np.linalg.norm(v - exact) <= max(eta, 1e-12) * np.linalg.cond(H) * np.linalg.norm(exact)


def test_reuse_windows_hold_the_most_ratios():
    rng = np.random.default_rng(4)
    rho = np.exp(rng.normal(0.0, 2.0, 300))
    rho[:5] = [0.0, np.inf, np.nan, 1e-30, 1e30]
    for (C, t, k), kappa in zip(linalg.reuse_windows(rho, (4.0, 64.0)), (4.0, 64.0)):
        inside = np.setdiff1d(np.arange(300), C)
        assert 0 in C and 1 in C and 2 not in C and 3 in C and 4 in C
        kept = inside[~np.isnan(rho[inside])]
        assert k <= kappa * (1 + 1e-12) and np.isclose(rho[kept].max() / rho[kept].min(), k)
        assert np.isclose(t * t, rho[kept].max() * rho[kept].min())
        # no window of width kappa holds more (brute force over windows starting at each ratio)
        lr = np.log(rho[5:])
        best = max(int(np.sum((lr >= a) & (lr <= a + np.log(kappa)))) for a in lr)
        assert kept.size == best


@pytest.mark.parametrize("depth", [2.0, 3.0])
def test_large_limit_with_reuse_equals_factoring_every_step(depth, monkeypatch):
    P = dl.gaussian_problem(300, 3000, 30, seed=0)
    net = dl.SymmetricDLN(depth=depth, scale=1e-6)
    made = []
    real_init = HessianCache.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(HessianCache, "__init__", spy)
    reused = dl.flow_limit(P, net)
    assert made and sum(c.factorizations for c in made) < reused.iterations  # the reuse happened
    monkeypatch.setattr(linalg, "REUSE_WORK", np.inf)
    fresh = dl.flow_limit(P, net)
    assert reused.converged and fresh.converged
    # both solve to rtol 1e-12 and polish to the rounding floor: x agrees to ~cond * 1e-15
    assert np.max(np.abs(reused.x - fresh.x)) <= 1e-12 * np.max(np.abs(fresh.x))
    assert reused.residual <= 1e-12 and reused.kkt <= dl.limits.KKT_TOL


@pytest.mark.parametrize("depth", [2.0, 3.0])
def test_large_problems_reach_the_target_in_one_stage_with_the_continuations_limit(depth, monkeypatch):
    from dlnlab.engine import scales
    P = dl.gaussian_problem(250, 1600, 20, seed=1)
    net = dl.SymmetricDLN(depth=depth, scale=1e-6)
    one = dl.flow_limit(P, net)
    monkeypatch.setattr(scales, "LARGE_DIRECT_STEP", 0.0)  # the stages of FIRST_STEP, as for small problems
    staged = dl.flow_limit(P, net)
    assert one.stages == 1 < staged.stages and one.iterations < staged.iterations
    # both polish to the rounding floor (measured 5e-16 relative)
    assert np.max(np.abs(one.x - staged.x)) <= 1e-12 * np.max(np.abs(staged.x))
    assert one.converged and one.residual <= 1e-12 and one.kkt <= dl.limits.KKT_TOL
