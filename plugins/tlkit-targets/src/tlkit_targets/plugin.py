"""Hook implementations of the tlkit-targets plugin."""

from __future__ import annotations

from typing import Any

import tlkit

from tlkit_targets.depth_separation import DepthSeparation
from tlkit_targets.hierarchical import HierarchicalPolynomial
from tlkit_targets.multi_quadratic import MultiQuadratic
from tlkit_targets.quadratic import QuadraticFeature
from tlkit_targets.single_index import SingleIndex

#: name -> (factory, one-line description)
TARGETS: dict[str, tuple[Any, str]] = {
    "single-index": (SingleIndex, "g*(beta . x), x ~ N(0, I_d), unit beta"),
    "quadratic-feature": (
        QuadraticFeature,
        "g*(x^T A x) on the sphere of radius sqrt(d); tr A = 0, ||A||_F = 1",
    ),
    "hierarchical-polynomial": (
        HierarchicalPolynomial,
        "c (sum_i ±h_k(x_i)/sqrt(d))^q, x ~ N(0, I_d) (Wang et al.)",
    ),
    "multi-quadratic": (
        MultiQuadratic,
        "g*(x^T A_1 x, ..., x^T A_r x) on the sphere (Fu et al.)",
    ),
    "depth-separation": (
        DepthSeparation,
        "classical radial g(|x|^2) or Daniely g(<x1, x2>) targets",
    ),
}


@tlkit.hookimpl
def tlkit_register_targets(register: Any) -> None:
    """Register the target families of the three-layer feature-learning papers."""
    for name, (factory, description) in TARGETS.items():
        register(name, factory, description=description)
