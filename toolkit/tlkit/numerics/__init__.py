"""Shared numerical building blocks for plugins: Hermite expansions, random-feature
kernels, activations and ridge paths. Pure functions on arrays; no plugin names.
"""
