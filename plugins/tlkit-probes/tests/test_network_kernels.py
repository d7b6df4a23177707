"""The baselines' NNGP / NTK kernels against Monte Carlo over very wide random layers."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from tlkit_probes.baselines import network_kernel, polynomial_kernel

ACTS = {
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "abs": (lambda z: np.abs(z) - np.sqrt(2 / np.pi), np.sign),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_closed_form_kernels_match_monte_carlo(name) -> None:
    rng = np.random.default_rng(0)
    d, m = 6, 400_000
    X = rng.standard_normal((3, d)) * np.array([[1.0], [0.7], [1.3]])
    V = rng.standard_normal((m, d)) / np.sqrt(d)  # v ~ N(0, I/d): a very wide random layer
    sigma, dsigma = ACTS[name]
    Z = X @ V.T
    nngp_mc = sigma(Z) @ sigma(Z).T / m
    ntk_mc = nngp_mc + (dsigma(Z) @ dsigma(Z).T / m) * (X @ X.T) / d
    Xj = jnp.asarray(X, dtype=jnp.float64)
    nngp = np.asarray(network_kernel(name, "nngp")(Xj, Xj))
    ntk = np.asarray(network_kernel(name, "ntk")(Xj, Xj))
    # Monte Carlo error ~ sd / sqrt(m) ~ 3e-3 for these O(1) entries: 5 sigma.
    np.testing.assert_allclose(nngp, nngp_mc, atol=1.5e-2)
    np.testing.assert_allclose(ntk, ntk_mc, atol=1.5e-2)


def test_polynomial_kernel_closed_form() -> None:
    X = jnp.asarray([[1.0, 2.0], [0.5, -1.0]], dtype=jnp.float64)
    K = np.asarray(polynomial_kernel(3)(X, X))
    np.testing.assert_allclose(K[0, 1], (1 + (0.5 - 2.0) / 2) ** 3)
