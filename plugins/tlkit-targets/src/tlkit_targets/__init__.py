"""tlkit-targets: Target families of the three-layer feature-learning papers, with ground truth.

The families are registered with tlkit through the entry point ``targets``
(:mod:`tlkit_targets.plugin`); the classes can also be used directly.
"""

from tlkit_targets.depth_separation import DepthSeparation
from tlkit_targets.hierarchical import HierarchicalPolynomial
from tlkit_targets.multi_quadratic import MultiQuadratic
from tlkit_targets.quadratic import QuadraticFeature
from tlkit_targets.single_index import SingleIndex

__all__ = [
    "DepthSeparation",
    "HierarchicalPolynomial",
    "MultiQuadratic",
    "QuadraticFeature",
    "SingleIndex",
]
