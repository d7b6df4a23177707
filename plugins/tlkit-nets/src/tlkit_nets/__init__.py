"""tlkit-nets: Two- and three-layer flax nnx networks and their trainers (Algorithm 1, one-step, joint)."""
