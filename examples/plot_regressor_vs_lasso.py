"""
DLNRegressor next to scikit-learn's Lasso
=========================================

`dlnlab.DLNRegressor` is the flow limit as a scikit-learn estimator: ``fit`` sets ``coef_``
to the network's limit, and it works in pipelines and grid searches like ``Lasso``. On a
noisy sparse regression problem we compare the coefficients of a depth-2 network at a
small scale, cross-validated over the scale, with those of ``LassoCV``. The network has no
penalty: its implicit regularization is set by the scale alone, and since it interpolates
(``m < N``) it also fits the noise, which the Lasso's penalty does not. (Needs scikit-learn:
``pip install 'dlnlab[sklearn]'``.)
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LassoCV
from sklearn.model_selection import GridSearchCV

import dlnlab as dl

rng = np.random.default_rng(0)
n, d, k = 60, 100, 5
X = rng.standard_normal((n, d)) / np.sqrt(n)
coef = np.zeros(d)
coef[rng.choice(d, k, replace=False)] = rng.choice([-1.0, 1.0], k) * rng.uniform(1.0, 2.0, k)
y = X @ coef + 0.02 * rng.standard_normal(n)

search = GridSearchCV(dl.DLNRegressor(depth=2), {"scale": list(np.logspace(-1, -12, 12))}, cv=5).fit(X, y)
dln = search.best_estimator_
lasso = LassoCV(cv=5, fit_intercept=False, max_iter=50000).fit(X, y)
print(f"DLN: best scale {search.best_params_['scale']:.0e}, error {np.linalg.norm(dln.coef_ - coef):.3f}")
print(f"Lasso: alpha {lasso.alpha_:.1e}, error {np.linalg.norm(lasso.coef_ - coef):.3f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained")
idx = np.arange(d)
ax1.stem(idx, coef, linefmt="0.7", markerfmt="o", basefmt=" ", label="true coefficients")
ax1.plot(idx, dln.coef_, "x", color="C1", ms=6, zorder=3, label="DLNRegressor (depth 2)")
ax1.plot(idx, lasso.coef_, "+", color="C2", ms=7, zorder=3, label="LassoCV")
ax1.set_xlabel("feature")
ax1.set_ylabel("coefficient")
ax1.set_title("Recovered coefficients")
ax1.legend(fontsize=8)
scales = np.array(search.cv_results_["param_scale"], dtype=float)
ax2.semilogx(scales, search.cv_results_["mean_test_score"], "o-", zorder=2)
ax2.invert_xaxis()
ax2.set_xlabel(r"scale $a = \alpha^2$ of the network")
ax2.set_ylabel(r"cross-validated $R^2$")
ax2.set_title("GridSearchCV over the scale")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
plt.show()
