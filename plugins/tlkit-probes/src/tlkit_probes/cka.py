"""The ``cka`` probe (layer × layer CKA, kernel–target alignment, permutation nulls) and
:func:`cka_between` (layer × layer CKA between two runs on the same inputs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from tlkit.errors import ParameterError
from tlkit.types import ProbeOutput

from tlkit_probes._common import (
    as_columns,
    batches,
    check_positive_int,
    representation_widths,
    representations_of,
    rows_per_batch,
    warn,
)
from tlkit_probes.cka_math import (
    LinearCKAStream,
    cka_gram,
    linear_gram,
    permutation_null_cka,
    rbf_gram,
)

NAME = "cka"
_Y, _H = "__y__", "__h__"
QUANTILES = (0.05, 0.5, 0.95)


def stream_linear_cka(
    models: Mapping[str, Any], X: Any, extra: Mapping[str, np.ndarray], budget: int
) -> tuple[LinearCKAStream, dict[str, list[str]]]:
    """Stream every layer of every model (and extra columns) through one accumulator.

    Args:
        models: ``{prefix: model}``; layer ``l`` of model ``m`` is keyed ``"m/l"``.
        X: the shared inputs.
        extra: additional feature sets (``(n, r)`` arrays), e.g. labels.
        budget: activation bytes per batch.

    Returns:
        The filled stream (rows = cols = all sets) and the layer names per model.
    """
    layers = {m: list(representation_widths(model, X)) for m, model in models.items()}
    total = sum(sum(representation_widths(model, X).values()) for model in models.values())
    rows = rows_per_batch(2 * np.dtype(X.dtype).itemsize * (total + X.shape[1]), budget)
    keys = [f"{m}/{name}" for m, names in layers.items() for name in names] + list(extra)
    stream = LinearCKAStream(keys, keys)
    for sl in batches(int(X.shape[0]), rows):
        batch: dict[str, Any] = {}
        for m, model in models.items():
            for name, a in representations_of(model, X[sl]).items():
                batch[f"{m}/{name}"] = a
        for name, a in extra.items():
            batch[name] = a[sl]
        stream.add(batch)
    return stream, layers


def _index(stream: LinearCKAStream, debiased: bool) -> tuple[np.ndarray, dict[str, int]]:
    return stream.cka(debiased), {k: i for i, k in enumerate(stream.rows)}


class CKAProbe:
    """Layer × layer CKA within a run, alignment with y and h*, permutation nulls."""

    def __init__(self, **params: Any) -> None:
        self.p = params

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        p = self.p
        X, y = run.test_data()
        h = as_columns(run.target.feature(X))
        extra = {_Y: as_columns(y), _H: h}
        stream, layers = stream_linear_cka({"m": run.model}, X, extra, p["budget_mb"] * 2**20)
        names = layers["m"]
        keys = [f"m/{n}" for n in names]
        out: dict[str, ProbeOutput] = {}
        ll = {"layer": names, "layer_other": names}
        for debiased in (False, True):
            full, idx = _index(stream, debiased)
            tag = "debiased" if debiased else "biased"
            sub = full[np.ix_([idx[k] for k in keys], [idx[k] for k in keys])]
            out[f"linear_{tag}"] = ProbeOutput(
                sub, ("layer", "layer_other"), ll, "1", f"linear CKA between layers ({tag})"
            )
            if debiased == p["alignment_debiased"]:
                for target, label in ((_Y, "y"), (_H, "h")):
                    values = full[[idx[k] for k in keys], idx[target]]
                    out[f"alignment_{label}"] = ProbeOutput(
                        values,
                        ("layer",),
                        {"layer": names},
                        "1",
                        f"kernel-target alignment (linear CKA, {tag}) of each layer with "
                        + ("the test labels y" if label == "y" else "the true feature h*"),
                    )
        if p["rbf"]:
            for tag, values in self._rbf(run.model, X, names).items():
                out[f"rbf_{tag}"] = ProbeOutput(
                    values,
                    ("layer", "layer_other"),
                    ll,
                    "1",
                    f"RBF CKA between layers ({tag}, median-heuristic bandwidth, mean over "
                    f"{p['rbf_batches']} minibatches of {p['rbf_batch']} points)",
                )
        if p["permutations"] > 0:
            out.update(self._null(run.model, X, y, h, names))
        if any(np.isnan(np.asarray(o.values, dtype=float)).any() for o in out.values()):
            warn(NAME, "some scores have a zero self-HSIC (constant representation); set to NaN")
        return out

    def _rbf(self, model: Any, X: Any, names: list[str]) -> dict[str, np.ndarray]:
        p = self.p
        acc = {t: np.zeros((len(names), len(names))) for t in ("biased", "debiased")}
        count = 0
        for k, sl in enumerate(batches(int(X.shape[0]), p["rbf_batch"])):
            if k >= p["rbf_batches"] or sl.stop - sl.start < 4:
                break
            reps = representations_of(model, X[sl])
            grams = [rbf_gram(np.asarray(reps[n])) for n in names]
            for t, debiased in (("biased", False), ("debiased", True)):
                for a in range(len(names)):
                    for b in range(a, len(names)):
                        v = cka_gram(grams[a], grams[b], debiased)
                        acc[t][a, b] += v
                        acc[t][b, a] = acc[t][a, b]
            count += 1
        return {t: v / count for t, v in acc.items()}

    def _null(
        self, model: Any, X: Any, y: Any, h: np.ndarray, names: list[str]
    ) -> dict[str, ProbeOutput]:
        p = self.p
        m = min(p["null_points"], int(X.shape[0]))
        reps = representations_of(model, X[:m])
        grams = {n: linear_gram(np.asarray(reps[n])) for n in names}
        grams[_Y] = linear_gram(as_columns(y)[:m])
        grams[_H] = linear_gram(h[:m])
        rng = np.random.default_rng(p["seed"])
        perms = np.stack([rng.permutation(m) for _ in range(p["permutations"])])
        deb = p["alignment_debiased"]
        tag = "debiased" if deb else "biased"

        def null(cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
            q = np.full((len(names), len(cols), len(QUANTILES)), np.nan)
            pv = np.full((len(names), len(cols)), np.nan)
            for a, r in enumerate(names):
                for b, c in enumerate(cols):
                    obs, nulls = permutation_null_cka(grams[r], grams[c], perms, deb)
                    if np.isfinite(obs):
                        q[a, b] = np.quantile(nulls, QUANTILES)
                        pv[a, b] = (1 + np.sum(nulls >= obs)) / (1 + len(nulls))
            return q, pv

        out = {}
        qc = {"quantile": list(QUANTILES)}
        desc = f"{p['permutations']} row permutations of {m} test points, {tag} linear CKA"
        q, pv = null(names)
        ll = {"layer": names, "layer_other": names}
        out["linear_null"] = ProbeOutput(
            q, ("layer", "layer_other", "quantile"), {**ll, **qc}, "1", f"null quantiles ({desc})"
        )
        out["linear_pvalue"] = ProbeOutput(
            pv, ("layer", "layer_other"), ll, "1", f"permutation p-value ({desc})"
        )
        for target, label in ((_Y, "y"), (_H, "h")):
            q, pv = null([target])
            out[f"alignment_{label}_null"] = ProbeOutput(
                q[:, 0],
                ("layer", "quantile"),
                {"layer": names, **qc},
                "1",
                f"null quantiles of alignment with {label} ({desc})",
            )
            out[f"alignment_{label}_pvalue"] = ProbeOutput(
                pv[:, 0],
                ("layer",),
                {"layer": names},
                "1",
                f"permutation p-value of alignment with {label} ({desc})",
            )
        return out


def cka(
    rbf: bool = True,
    rbf_batch: int = 1024,
    rbf_batches: int = 8,
    alignment_debiased: bool = True,
    permutations: int = 200,
    null_points: int = 512,
    seed: int = 0,
    budget_mb: int = 64,
) -> CKAProbe:
    """Layer × layer CKA (linear biased/debiased streamed; RBF over minibatches),
    kernel–target alignment with y and h*, and permutation nulls.

    Args:
        rbf: also compute RBF CKA.
        rbf_batch: points per RBF minibatch.
        rbf_batches: how many minibatches RBF CKA averages over.
        alignment_debiased: use debiased linear CKA for alignment and the nulls.
        permutations: permutations of the null (0: no null).
        null_points: test points (the first ones) on which the null is computed.
        seed: seed of the permutations.
        budget_mb: activation memory per streaming batch, in MiB.
    """
    check_positive_int("rbf_batch", rbf_batch, 4)
    check_positive_int("rbf_batches", rbf_batches)
    check_positive_int("permutations", permutations, 0)
    check_positive_int("null_points", null_points, 4)
    check_positive_int("seed", seed, 0)
    check_positive_int("budget_mb", budget_mb)
    return CKAProbe(
        rbf=rbf,
        rbf_batch=rbf_batch,
        rbf_batches=rbf_batches,
        alignment_debiased=alignment_debiased,
        permutations=permutations,
        null_points=null_points,
        seed=seed,
        budget_mb=budget_mb,
    )


def cka_between(
    run_a: Any,
    run_b: Any,
    kind: Literal["linear", "rbf"] = "linear",
    debiased: bool = True,
    rbf_batch: int = 1024,
    rbf_batches: int = 8,
    budget_mb: int = 64,
) -> Any:
    """Layer × layer CKA between two runs on the same inputs (``run_a``'s test set).

    Args:
        run_a, run_b: runs whose networks take inputs of the same dimension, e.g. a
            two-layer and a three-layer network trained on the same target.
        kind: ``"linear"`` (streamed over the whole test set) or ``"rbf"`` (median
            heuristic, mean over minibatches).
        debiased: unbiased-HSIC CKA instead of the biased one.
        rbf_batch, rbf_batches: RBF minibatch size and count.
        budget_mb: activation memory per streaming batch, in MiB.

    Returns:
        ``xarray.DataArray`` with dims ``("layer", "layer_other")``: rows are
        ``run_a``'s layers, columns ``run_b``'s.
    """
    import xarray as xr

    if kind not in ("linear", "rbf"):
        raise ParameterError(f"kind must be 'linear' or 'rbf', got {kind!r}")
    X, _ = run_a.test_data()
    if getattr(run_b.target, "d", X.shape[1]) != X.shape[1]:
        raise ParameterError(
            f"run_b: input dimension {run_b.target.d} differs from run_a's {X.shape[1]}"
        )
    if kind == "linear":
        stream, layers = stream_linear_cka(
            {"a": run_a.model, "b": run_b.model}, X, {}, budget_mb * 2**20
        )
        full, idx = _index(stream, debiased)
        values = full[
            np.ix_([idx[f"a/{n}"] for n in layers["a"]], [idx[f"b/{n}"] for n in layers["b"]])
        ]
        names_a, names_b = layers["a"], layers["b"]
    else:
        names_a = list(representation_widths(run_a.model, X))
        names_b = list(representation_widths(run_b.model, X))
        values = np.zeros((len(names_a), len(names_b)))
        count = 0
        for k, sl in enumerate(batches(int(X.shape[0]), rbf_batch)):
            if k >= rbf_batches or sl.stop - sl.start < 4:
                break
            ra, rb = representations_of(run_a.model, X[sl]), representations_of(run_b.model, X[sl])
            ga = [rbf_gram(np.asarray(ra[n])) for n in names_a]
            gb = [rbf_gram(np.asarray(rb[n])) for n in names_b]
            values += np.array([[cka_gram(a, b, debiased) for b in gb] for a in ga])
            count += 1
        values = values / count
    tag = "debiased" if debiased else "biased"
    return xr.DataArray(
        values,
        dims=("layer", "layer_other"),
        coords={"layer": names_a, "layer_other": names_b},
        name="cka_between",
        attrs={"units": "1", "long_name": f"{kind} CKA ({tag}) between two runs' layers"},
    )
