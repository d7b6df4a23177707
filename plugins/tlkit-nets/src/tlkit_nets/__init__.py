"""tlkit-nets: two- and three-layer flax nnx networks and their trainers.

Architectures ``three-layer``, ``two-layer``, ``three-layer-wang``; trainers
``layer-wise`` (Algorithm 1), ``one-step``, ``random-features``, ``joint``.
See docs/networks.md.
"""
