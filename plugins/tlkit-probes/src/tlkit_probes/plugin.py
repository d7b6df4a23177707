"""Hook implementations of the tlkit-probes plugin."""

from __future__ import annotations

import tlkit
from tlkit.types import Register

from tlkit_probes.baselines import kernel_ridge, poly_ridge, rf_ridge
from tlkit_probes.cka import cka
from tlkit_probes.feature import feature
from tlkit_probes.feature_energy import feature_energy
from tlkit_probes.recovery import agop_probe, weight_overlap
from tlkit_probes.ridge_probe import ridge_probe
from tlkit_probes.test_error import test_error
from tlkit_probes.theory import theory


@tlkit.hookimpl
def tlkit_register_probes(register: Register) -> None:
    """Register the probes of this plugin (see docs/probes.md)."""
    register(
        "test",
        test_error,
        description="test MSE and normalized test MSE against the noiseless target",
        default=True,
    )
    register(
        "feature",
        feature,
        description="corr(phi_hat, h*) of a network's scalar learned feature",
        default=True,
    )
    register(
        "ridge-probe",
        ridge_probe,
        description="held-out R^2 of a ridge probe from each layer to h*",
    )
    register(
        "cka",
        cka,
        description="layer x layer CKA, kernel-target alignment with y and h*, permutation nulls",
    )
    register(
        "weight-overlap",
        weight_overlap,
        description="two-layer first-layer weights vs the target subspace (beta or A)",
    )
    register(
        "agop",
        agop_probe,
        description="average gradient outer product of the network vs the target subspace",
    )
    register(
        "kernel-ridge",
        kernel_ridge,
        description="baseline: kernel ridge with the network's NNGP/NTK kernel (float64)",
    )
    register(
        "rf-ridge",
        rf_ridge,
        description="baseline: random-features ridge on the run's training data",
    )
    register(
        "poly-ridge",
        poly_ridge,
        description="baseline: ridge on all polynomials of degree <= q",
    )
    register(
        "theory",
        theory,
        description="theory overlays: c_k, lambda_k, target energy, K f*, predicted threshold",
    )
    register(
        "feature-energy",
        feature_energy,
        description="energy of the learned feature phi_hat by polynomial degree",
    )
