"""tlkit-probes: test error, feature recovery, kernel alignment, kernel and low-degree baselines."""
