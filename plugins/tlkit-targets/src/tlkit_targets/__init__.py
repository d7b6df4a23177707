"""tlkit-targets: Target families of the three-layer feature-learning papers, with ground truth."""
