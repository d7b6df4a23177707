"""The component contract: what targets, networks, trainers and probes provide.

These are :class:`typing.Protocol` classes: plugins do not subclass them, they only
need the attributes and methods listed. ``tlkit.testing`` checks a component
against its protocol at run time.

Conventions that hold for every component:

* tlkit runs JAX with 64-bit types enabled so that float64 is available on request.
  Components therefore always pass ``dtype`` explicitly when they create arrays;
  the default working precision is float32.
* Everything random is drawn from an explicit ``jax.random`` key or an integer
  seed; the same key gives the same numbers.
* Constructor parameters are keyword arguments with type annotations and defaults.
  The host reads them to parse ``-p key=value``, to describe a component and to
  write the manifest from which the component is rebuilt exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import jax
import numpy as np

if TYPE_CHECKING:
    from tlkit.run import Run
    from tlkit.sampling import BlockSource

Array = jax.Array
PRNGKey = jax.Array
#: JSON-serializable parameter dictionary (what a manifest stores).
Params = Mapping[str, Any]


@dataclass(frozen=True)
class DegreeEnergy:
    """Energy of a target function per polynomial degree.

    Attributes:
        energy: ``energy[k]`` is ``E[(P_k f)^2]``, the squared norm of the degree-k
            component of ``f`` in L2 of the input distribution (Hermite degrees for
            Gaussian inputs, spherical-harmonic degrees on the sphere).
        stderr: standard errors of ``energy`` when estimated by Monte Carlo, or
            ``None`` when exact.
        method: ``"exact"`` or ``"monte-carlo"``.
        variance: ``Var f`` (``sum(energy[1:])`` plus whatever lies above the last
            degree).
        variance_stderr: standard error of ``variance``: ``0.0`` when it is exact
            (also for Monte Carlo energies of a family that knows its variance),
            ``None`` when unknown. ``tlkit.testing.check_target`` holds an exact
            variance to a large sample's sampling error.
    """

    energy: np.ndarray
    stderr: np.ndarray | None
    method: str
    variance: float
    variance_stderr: float | None = None


@runtime_checkable
class Target(Protocol):
    """A target function f* = g* o h* with its ground truth.

    Attributes:
        d: input dimension.
        params: the constructor parameters (including ``seed``) that rebuild this
            target exactly; JSON-serializable.
    """

    d: int
    params: Params

    def sample(self, key: PRNGKey, n: int, dtype: Any = ...) -> tuple[Array, Array]:
        """Draw ``n`` inputs and labels: ``X`` of shape ``(n, d)``, ``y`` of shape ``(n,)``.

        Must be deterministic in ``key`` and traceable by ``jax.jit`` (with ``n``
        static). Labels include label noise where the target has any.
        """
        ...

    def function(self, X: Array) -> Array:
        """The noiseless target f*(X) = g*(h*(X)), shape ``(n,)``.

        Equal to ``y`` from :meth:`sample` when the target has no label noise.
        """
        ...

    def feature(self, X: Array) -> Array:
        """The ground-truth feature h*(X): shape ``(n,)``, or ``(n, r)`` for r features."""
        ...

    def link(self, z: Array) -> Array:
        """The link g*, applied to (standardized) feature values."""
        ...

    def metadata(self) -> dict[str, Any]:
        """Input distribution, ``d``, degrees of h* and g*, normalization constants."""
        ...

    def degree_energy(self, max_degree: int = 6) -> DegreeEnergy:
        """Energy of the noiseless f* per polynomial degree ``0..max_degree``."""
        ...


@runtime_checkable
class Network(Protocol):
    """A network (a ``flax.nnx.Module``) as the host and probes see it."""

    def __call__(self, X: Array) -> Array:
        """Predictions of shape ``(n,)``."""
        ...

    def representations(self, X: Array) -> dict[str, Array]:
        """Per-layer activations, ordered from input to output, each ``(n, width)``.

        The names are the layer labels used in results (e.g. ``"h1"``, ``"h2"``).
        """
        ...

    # Optional: ``learned_feature(X) -> Array | None`` -- the network's scalar
    # learned feature φ̂ of shape (n,) (Algorithm 1's middle-layer feature), or
    # None when the network has none at the moment (e.g. W not rank one). Probes
    # check for it with ``getattr``; it is not part of the required protocol.


@dataclass
class StageReport:
    """What a trainer reports when one training stage ends.

    Attributes:
        stage: the stage name (e.g. ``"stage1"``).
        info: JSON-serializable numbers worth keeping (losses, chosen step size).
        curves: named labelled arrays worth keeping (e.g. the validation error over
            the (step size, ridge) grid); the host stores them in the results as
            variables ``fit_<name>``.
    """

    stage: str
    info: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, ProbeOutput] = field(default_factory=dict)


@dataclass
class FitReport:
    """What a trainer returns.

    Attributes:
        status: ``"ok"`` or ``"failed"``; a failed fit (NaN, divergence) is recorded,
            never raised, so a multi-run job goes on.
        reason: why it failed, one line.
        stages: one report per stage, in order.
        choices: the algorithmic choices used (manifest records them), e.g.
            ``{"stage1": "closed-form", "feature_form": "literal"}``.
    """

    status: str = "ok"
    reason: str | None = None
    stages: list[StageReport] = field(default_factory=list)
    choices: dict[str, Any] = field(default_factory=dict)


class TrainData:
    """Data handed to a trainer.

    Attributes:
        X, y: the training set (``n_train`` points). Trainers that split it (e.g.
            Algorithm 1's D1/D2) do so themselves and say how in ``FitReport.choices``.
            When the split is drawn in blocks (``blocks`` set, ``X``/``y`` not given),
            they are materialized on first access; trainers that stream read
            ``blocks`` instead and never hold the whole split.
        X_val, y_val: an independent validation set for hyperparameter selection.
        key: a key for the trainer's own randomness (e.g. minibatch order).
        blocks: the training split as a :class:`tlkit.sampling.BlockSource`, or
            ``None`` when it was drawn in one piece.
    """

    def __init__(
        self,
        X: Array | None,
        y: Array | None,
        X_val: Array,
        y_val: Array,
        key: PRNGKey,
        blocks: BlockSource | None = None,
    ) -> None:
        if (X is None or y is None) and blocks is None:
            raise ValueError("TrainData needs X and y, or a block source")
        self._X, self._y = X, y
        self.X_val, self.y_val, self.key, self.blocks = X_val, y_val, key, blocks

    def __repr__(self) -> str:
        drawn = f"blocks of {self.blocks.block_size}" if self.blocks is not None else "one draw"
        return f"TrainData(n_train={self.n_train}, n_val={self.X_val.shape[0]}, {drawn})"

    @property
    def n_train(self) -> int:
        """Number of training points (without materializing a block-drawn split)."""
        return self.blocks.n if self.blocks is not None else int(self.X.shape[0])

    @property
    def X(self) -> Array:
        if self._X is None:
            self._materialize()
        return self._X  # type: ignore[return-value]

    @property
    def y(self) -> Array:
        if self._y is None:
            self._materialize()
        return self._y  # type: ignore[return-value]

    def _materialize(self) -> None:
        assert self.blocks is not None
        self._X, self._y = self.blocks.rows(0, self.blocks.n)


class Trainer(Protocol):
    """A training procedure for one architecture family."""

    #: Stage names, in order; ``tlkit_stage_finished`` fires after each.
    stages: Sequence[str]

    def fit(
        self, model: Any, data: TrainData, on_stage: Callable[[StageReport], None]
    ) -> FitReport:
        """Train ``model`` in place; call ``on_stage`` after each stage.

        Never raise for numerical failure (NaN, divergence): return a report with
        ``status="failed"`` and a one-line ``reason``.
        """
        ...

    # Optional: ``fit_many(models, datas, on_stage) -> list[FitReport]`` trains
    # several seeds of one configuration in one compiled (vmapped) call. The host
    # uses it for multi-seed runs when present and loops over ``fit`` otherwise.
    #
    # Optional: ``check_sample_size(n_train: int) -> None`` raises ParameterError
    # when the trainer's options cannot work with ``n_train`` points (e.g. data
    # splits larger than the training set). The host calls it before any data is
    # drawn, and for every cell of a sweep before the sweep starts.


@dataclass(frozen=True)
class ProbeOutput:
    """One quantity computed by a probe: plain values plus declared dimensions.

    The host turns it into the variable ``<probe>_<quantity>`` of the results.

    Attributes:
        values: array (or scalar) of values.
        dims: dimension names of ``values`` (``()`` for a scalar); use the names in
            :mod:`tlkit.results` (``layer``, ``layer_other``, ``degree``, ...).
        coords: coordinate values for those dims.
        units: units string (``"1"`` for dimensionless).
        long_name: human-readable description.
    """

    values: Any
    dims: tuple[str, ...] = ()
    coords: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    units: str = "1"
    long_name: str = ""


class Probe(Protocol):
    """A measurement on a trained run."""

    def __call__(self, run: Run) -> Mapping[str, ProbeOutput]:
        """Compute quantities on ``run`` (use ``run.test_data()`` etc.).

        Raise :class:`tlkit.errors.ProbeNotApplicable` when the probe does not apply
        to this run; the host skips it with that message.
        """
        ...


#: ``register(name, factory, **metadata)`` callback handed to registration hooks.
Register = Callable[..., None]
