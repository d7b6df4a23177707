"""tlkit-probes: Probes: test error, feature recovery, kernel alignment, kernel and low-degree baselines."""
