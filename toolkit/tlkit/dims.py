"""Fixed dimension names of tlkit results (see docs/results-schema.md).

Probes declare their output dimensions with these names so that results from
different probes, runs and plugins line up.
"""

# Run-level dimensions: every run's dataset has each as a length-1 dimension, so
# that runs combine into grids (``tlkit.results.combine``).
ARCH = "arch"  #: architecture name (the depth comparison axis)
TRAINER = "trainer"  #: trainer name
D = "d"  #: input dimension
N_TRAIN = "n_train"  #: number of training points
SEED = "seed"  #: master seed
RUN_DIMS = (ARCH, TRAINER, D, N_TRAIN, SEED)
#: sweep dimension of named ``[[variants]]`` (only when two cells would share coordinates)
VARIANT = "variant"

# Dimensions that probes and trainers use inside a run.
LAYER = "layer"  #: a network layer, labelled by the network ("input", "h1", ...)
LAYER_OTHER = "layer_other"  #: second layer axis of layer x layer matrices
DEGREE = "degree"  #: polynomial degree (Hermite / spherical harmonic)
RIDGE = "ridge"  #: ridge parameter λ
STEP_SIZE = "step_size"  #: stage-1 step size η1 (or slope s)
COMPONENT = "component"  #: component of a vector-valued feature h*
QUANTILE = "quantile"  #: quantile of a null distribution
STEP = "step"  #: optimization step of an iterative trainer
LEARNING_RATE = "lr"  #: base learning rate of an iterative trainer's grid
#: ridge parameter of a baseline (kept apart from ``ridge``, which trainers use
#: for their own validation curves on a different grid)
BASELINE_RIDGE = "baseline_ridge"

PROBE_DIMS = (
    LAYER,
    LAYER_OTHER,
    DEGREE,
    RIDGE,
    STEP_SIZE,
    COMPONENT,
    QUANTILE,
    STEP,
    LEARNING_RATE,
    BASELINE_RIDGE,
)
