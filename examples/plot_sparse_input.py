"""
Sparse matrices as input
========================

``A`` may be a ``scipy.sparse`` matrix wherever a function takes ``A``: basis pursuit
passes it to HiGHS as sparse constraints, and the dual engine works on an orthonormal basis
of its rows, so the answers are those of the dense matrix. Here a sparse random ``A`` of
density 15% (a design where each measurement sees a few coordinates) gives the same flow
limit as its dense copy, and we draw how many measurements the depth-2 network needs to
recover a sparse signal.
"""

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

import dlnlab as dl

N, k = 200, 5
rng = np.random.default_rng(1)
x_true = np.zeros(N)
x_true[rng.choice(N, k, replace=False)] = rng.choice([-1.0, 1.0], k)
net = dl.SymmetricDLN(depth=2, scale=1e-20)

ms = np.arange(10, 101, 10)
errors = []
for m in ms:
    A = sp.random_array((m, N), density=0.15, rng=rng, data_sampler=rng.standard_normal, format="csr")
    y = A @ x_true
    res = dl.flow_limit(A, y, net)
    dense = dl.flow_limit(A.toarray(), y, net)
    assert np.array_equal(res.x, dense.x)
    errors.append(np.linalg.norm(res.x - x_true))
    print(f"m = {m}: {A.nnz} nonzeros, {res.status}, error {errors[-1]:.1e}")

fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
ax.semilogy(ms, np.maximum(errors, 1e-16), "o-", zorder=2)
ax.set_xlabel("number of measurements $m$")
ax.set_ylabel(r"$\|x_\infty - x_{\mathrm{true}}\|$")
ax.set_title(f"Sparse $A$ (15% nonzeros), N = {N}, a {k}-sparse signal")
ax.grid(alpha=0.3)
plt.show()
