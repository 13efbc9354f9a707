"""Duplicate columns train identically, so the limit is equal on them at every depth and scale.

Equal (or sign-flipped) columns of A give identical (opposite) weight trajectories from the
symmetric start, so ``x_i = x_j`` (``x_i = -x_j``) in the limit. The residual and KKT checks
cannot see a violation (any split of the mass between the copies satisfies both), so this is
tested directly; the small-scale limits are also compared with `selected_minimizer`.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.engine.faces import SNAP_CONSISTENCY, SNAP_CONSISTENCY_CAP, face_tolerance


def test_the_reported_case():
    A, y = [[1, 0, -2, 1], [-1, -3, -3, -1]], [-2, 2]
    res = dl.flow_limit(A, y, dl.SymmetricDLN(depth=3, scale=1e-100))
    # [-2, 0, 0, 0] satisfies the residual and KKT checks just as well; only the tie-break of
    # the depth-3 potential makes it [-1, 0, 0, -1]
    assert np.allclose(res.x, [-1.0, 0.0, 0.0, -1.0], rtol=0, atol=1e-12)


def test_rows_of_q_that_differ_by_rounding_still_make_a_face():
    """Duplicate columns give rows of Q equal only to ~1e-15; the face must still be found
    (it was not: the split grew like scale^(-0.2) at depth 2.5, to 2e-3 at scale 1e-60)."""
    rng = np.random.default_rng(2322)
    A = rng.standard_normal((3, 6))
    A[:, 5] = A[:, 0]
    y = A[:, :2] @ rng.uniform(0.5, 2.0, 2)
    for log10_scale in (-30, -60, -100):
        x = dl.flow_limit(A, y, dl.SymmetricDLN(depth=2.5, scale=10.0 ** log10_scale)).x
        assert abs(x[5] - x[0]) <= 1e-12  # x[0] ~ 0.86: equal up to rounding


def test_a_face_of_ill_conditioned_data_is_still_a_face():
    """With cond(A) = 150 the sign vector of a true face lies in range(Q) only to 1.2e-14 (QR's
    rounding of range(A^T) grows with cond(A)): a fixed 1e-14 consistency test rejected the face,
    and at scale 1e-100 the split of the tie went to [7e-31, 3.33] with residual and KKT at
    rounding level. The test now scales with cond(A) (`face_tolerance`)."""
    A = np.array([[-0.3394555646073753, 0.7586744521704383, 0.9001120436311778, -0.651385650343884],
                  [1.210533763283826, 0.8724576415225455, -0.5631330716970117, -0.48151526009779283],
                  [0.06941022371168641, -0.5491031049884448, 0.8750130043967776, 0.3591421721732412],
                  [-1.7128214858654027, 0.05540374818966789, -0.955792489280284, -0.09873910582467266]])
    A = np.column_stack([A, -A[:, 0]])
    y = np.array([0.9398703381136128, -2.0871519663708678, -0.05126610630428066, -0.28268324900594705])
    assert 100 < np.linalg.cond(A) < 200
    sel = dl.selected_minimizer(A, y, 2.5)
    for log10_scale in (-40, -100, -300):
        x = dl.flow_limit(A, y, dl.SymmetricDLN(depth=2.5, scale=10.0 ** log10_scale)).x
        # x[0] ~ 1.67: equal up to rounding, and the scale -> 0 limit (the selected minimizer)
        assert abs(x[4] + x[0]) <= 1e-12 * np.max(np.abs(x))
        assert np.max(np.abs(x - sel.x)) <= 1e-9 * np.max(np.abs(x))


def test_the_face_tolerance_follows_the_condition():
    assert face_tolerance(np.eye(3)) == SNAP_CONSISTENCY
    R = np.triu(np.ones((3, 3))) * np.array([1.0, 1e-2, 1e-4])
    assert face_tolerance(R) > 1e3 * SNAP_CONSISTENCY
    assert face_tolerance(np.diag([1.0, 1e-200])) == SNAP_CONSISTENCY_CAP


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.sampled_from([2.0, 2.5, 3.0, 4.0]),
       log10_scale=st.sampled_from([-6, -30, -60, -100, -200, -300]), flip=st.booleans())
def test_duplicated_columns_get_equal_entries(seed, depth, log10_scale, flip):
    rng = np.random.default_rng(seed)
    m, N = 3, 6
    A = rng.standard_normal((m, N))
    A[:, N - 1] = -A[:, 0] if flip else A[:, 0]
    y = A[:, :2] @ rng.uniform(0.5, 2.0, 2)
    net = dl.SymmetricDLN(depth=depth, scale=10.0 ** log10_scale)
    try:
        res = dl.flow_limit(A, y, net)
    except dl.NetworkError:  # below what float64 dual coordinates represent at this depth
        return
    size = np.max(np.abs(res.x))
    # the two entries follow one trajectory; rounding alone separates them (~1e-15 relative),
    # 1e-9 of the solution's size is far below the O(1) split a broken tie-break produces
    assert abs(res.x[N - 1] - (-res.x[0] if flip else res.x[0])) <= 1e-9 * size
    if log10_scale <= -100 and depth > 2:
        sel = dl.selected_minimizer(A, y, depth)
        # at a ~ 1e-100 the limit equals the scale -> 0 limit to float64 (docs/theory.md
        # section 4: the deviation is a power of the scale)
        assert np.max(np.abs(res.x - sel.x)) <= 1e-9 * size


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.sampled_from([2.5, 3.0, 4.0]),
       log10_scale=st.sampled_from([-30, -100, -200, -300]))
def test_the_batch_axis_keeps_duplicates_equal(seed, depth, log10_scale):
    """The engine's batch axis snaps each problem onto its own face, as the single solve does."""
    rng = np.random.default_rng(seed)
    problems = []
    for _ in range(3):
        A = rng.standard_normal((3, 6))
        A[:, 5] = A[:, 0]
        problems.append(dl.Problem(A, A[:, :2] @ rng.uniform(0.5, 2.0, 2)))
    net = dl.SymmetricDLN(depth=depth, scale=10.0 ** log10_scale)
    out = dl.batch_flow_limit(problems, net, throw=False)
    for P, res, alone in zip(problems, out.results, out.fallback):
        if not res.success or alone:
            continue  # solved alone: the single solve is tested above
        size = np.max(np.abs(res.x))
        assert abs(res.x[5] - res.x[0]) <= 1e-9 * size  # as in the single-solve test
        single = dl.flow_limit(P, net, throw=False)
        if single.success:
            assert np.max(np.abs(res.x - single.x)) <= 1e-9 * size
    assert not out.fallback.all()  # the batch itself solved some of them


def test_faces_of_full_row_rank_skip_the_svd_with_its_answer(monkeypatch):
    """`face_projector` certifies full row rank by a Cholesky of ``Q_F Q_F^T`` (no SVD): where it does, the
    SVD finds full rank too (the answer is None); rank-deficient or ill-conditioned faces go to the SVD."""
    from dlnlab.engine import faces
    rng = np.random.default_rng(7)
    Q = np.linalg.qr(rng.standard_normal((2000, 300)))[0]
    cases = [Q[rng.choice(2000, n, replace=False)] for n in (2, 50, 200, 290)]
    dup = Q[:40].copy()
    dup[-1] = dup[0]  # a repeated row: rank 39
    ill = Q[:40].copy()
    ill[-1] = ill[0] + 1e-9 * ill[1]  # cond ~ 1e9, above FULL_RANK_BOUND
    for QF in cases:
        assert faces._certified_full_row_rank(QF)
        assert np.linalg.matrix_rank(QF, tol=faces.FACE_RANK_RTOL * np.linalg.norm(QF, 2)) == QF.shape[0]
    assert not faces._certified_full_row_rank(dup) and not faces._certified_full_row_rank(ill)
    signs = [np.where(rng.random(QF.shape[0]) < 0.5, -1.0, 1.0) for QF in cases + [dup, ill]]
    signs[-2][-1] = signs[-2][0]  # the repeated row's sign: a consistent face
    fast = [faces.face_projector(QF, sF) for QF, sF in zip(cases + [dup, ill], signs)]
    monkeypatch.setattr(faces, "FULL_RANK_BOUND", 0.0)  # the SVD every time
    slow = [faces.face_projector(QF, sF) for QF, sF in zip(cases + [dup, ill], signs)]
    assert all(f is None and s is None for f, s in zip(fast[:4], slow[:4]))
    assert fast[4] is not None and np.array_equal(fast[4], slow[4])  # the duplicate's face, by the SVD
    assert (fast[5] is None) == (slow[5] is None)
