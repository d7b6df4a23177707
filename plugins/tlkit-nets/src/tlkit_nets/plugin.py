"""Hook implementations of the tlkit-nets plugin."""

from __future__ import annotations

from typing import Any

import tlkit

from tlkit_nets.joint import joint, three_layer_wang
from tlkit_nets.layerwise import layer_wise
from tlkit_nets.onestep import one_step, random_features
from tlkit_nets.three_layer import three_layer
from tlkit_nets.two_layer import two_layer


@tlkit.hookimpl
def tlkit_register_architectures(register: Any) -> None:
    """Register the two- and three-layer networks."""
    register(
        "three-layer",
        three_layer,
        description="f(x) = (1/m1) sum_i a_i sigma1(<w_i, sigma2(Vx)> + b_i), V fixed random",
        trainers=["layer-wise", "joint"],
    )
    register(
        "two-layer",
        two_layer,
        description="f(x) = (1/m) sum_i a_i sigma(<w_i, x> + b_i)",
        trainers=["one-step", "random-features", "joint"],
    )
    register(
        "three-layer-wang",
        three_layer_wang,
        description="Wang et al. protocol: three-layer, m1 = d^2, m2 = 1000, z^3 / ReLU, muP",
        trainers=["joint"],
    )


@tlkit.hookimpl
def tlkit_register_trainers(register: Any) -> None:
    """Register Algorithm 1 and the two-layer baselines."""
    register(
        "layer-wise",
        layer_wise,
        description="Algorithm 1: one gradient step on W from 0, then ridge on a",
        architectures=["three-layer"],
    )
    register(
        "one-step",
        one_step,
        description="k gradient steps on W from random init, then ridge on a",
        architectures=["two-layer"],
    )
    register(
        "random-features",
        random_features,
        description="ridge on a with the first layer fixed at its random init",
        architectures=["two-layer"],
    )
    register(
        "joint",
        joint,
        description="all weights jointly with optax Adam or SGD (standard or muP)",
        architectures=["three-layer", "two-layer", "three-layer-wang"],
    )
