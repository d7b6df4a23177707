#!/usr/bin/env bash
# The prepared GPU check (issues 4, 6 and 7), one call on a lent GPU machine.
#
# The device image's python3 (3.12) already holds jax with CUDA, flax, optax,
# orbax-checkpoint, xarray, h5py, pluggy, click, rich and matplotlib; the few pure-Python
# packages it lacks travel as wheels, and so do tlkit and its plugins (built here: the
# machine cannot fetch a build backend). Before the call, here, at the commit to check:
#
#   echo /.whl/ >> .git/info/exclude; rm -rf .whl
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl -r benchmarks/gpu/wheels.txt
#   .venv/bin/pip wheel -q --no-deps -w .whl . plugins/tlkit-targets plugins/tlkit-nets \
#       plugins/tlkit-probes
#
# then one device call: command "bash benchmarks/gpu/check.sh", carry [".whl"],
# timeout_s 590. "bash benchmarks/gpu/check.sh vmap" runs only the steps of issue 4's
# vmapped-seeds target (eigh batching, the vmap benchmark and the trainers' tests on the
# device; about 5 minutes). Every step has its own time limit (together 550 s, within the call's
# limit), so one slow step cannot eat the others; the whole log is also written to
# $OUT/check.log, and the exit status counts the failed steps. On a machine without a
# GPU the script runs too (JAX falls back to the CPU), which is how it was tried.
set -uo pipefail
OUT=${OUT:-/tmp/tlkit-gpu-check}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
exec > >(tee "$OUT/check.log") 2>&1
FAILED=0

step() { echo; echo "=== $1 ($(date +%T))"; }
check() { "$@" || { echo "!!! failed (status $?): $*" >&2; FAILED=$((FAILED + 1)); }; }

step "machine"
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
$PY --version

step "install the carried wheels (nothing from the network)"
ls .whl/tlkit-*.whl >/dev/null 2>&1 || { echo "no tlkit wheel in .whl: see the header"; exit 1; }
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/tlkit-site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/tlkit-site
TLKIT="$PY -m tlkit"
$PY -c "import jax, tlkit; print('jax', jax.__version__, jax.devices(), 'matmul precision', jax.config.jax_default_matmul_precision)"

step "one batched eigh call by batch size, QR and Jacobi (issue 4; limit 40 s)"
check timeout 40 $PY benchmarks/bench_eigh_batching.py --jacobi --batches 1 8 64

step "8 seeds vmapped vs looped, full size, step_batch 1, the grid and auto (issue 4 target >= 3x; limit 150 s)"
check timeout 150 $PY benchmarks/bench_vmap_seeds.py

if [ "${1:-all}" = vmap ]; then
    # compile-bound on a GPU: about 30 of these tests run a minute (H200, 2026-11-27)
    step "the nets plugin's trainer tests on this device (limit 180 s)"
    check timeout 180 $PY -m pytest -q -x -p no:cacheprovider plugins/tlkit-nets/tests/test_grids.py \
        plugins/tlkit-nets/tests/test_layerwise.py plugins/tlkit-nets/tests/test_onestep.py
    step "done: $FAILED step(s) failed"
    exec >&- 2>&-
    wait
    exit "$FAILED"
fi

step "where the vmapped fit's time goes: grid steps, ridges, eigh (issue 4; limit 50 s)"
check timeout 50 $PY benchmarks/bench_layerwise_phases.py

step "Algorithm 1 end to end vs NumPy, full size (limit 60 s)"
check timeout 60 $PY benchmarks/bench_algorithm1.py

step "sweep: local executor vs Dask with one GPU per worker (issue 6; limit 200 s)"
# 4 cells (Algorithm 1 and one-step, two n): a small cell costs 10-20 s on a GPU,
# nearly all compilation (measured on an H200, 2026-11-27), so the full small grid
# of quadratic-d16 (20 cells) does not fit a check
small_sweep_config() {
    $TLKIT reproduce quadratic-d16 --small --show-config | $PY -c '
import sys, tomllib, tomli_w
spec = tomllib.loads(sys.stdin.read())
spec["variants"] = spec["variants"][:2]
spec["grid"]["n_train"] = [256, 1024]
sys.stdout.write(tomli_w.dumps(spec))'
}
check small_sweep_config > "$WORK/sweep.toml"
# the first run fills a compilation cache that the later ones reuse (compare cell times)
CACHE=(--compile-cache "$WORK/xla-cache")
check timeout 70 $PY -m tlkit sweep "$WORK/sweep.toml" --out "$WORK/local" --quiet "${CACHE[@]}"
check timeout 40 $PY -m tlkit sweep "$WORK/sweep.toml" --out "$WORK/local-warm" --quiet \
    "${CACHE[@]}"
check timeout 90 $PY -m tlkit sweep "$WORK/sweep.toml" --out "$WORK/dask" --quiet \
    --executor dask --gpus 0 "${CACHE[@]}"
check $PY - "$WORK" <<'EOF'
import sys

import numpy as np
from tlkit.results import open_results

work = sys.argv[1]
local, dask = (open_results(f"{work}/{name}/results.nc") for name in ("local", "dask"))
# Dask workers run BLAS single-threaded, so LAPACK rounds differently: equal to ~1e-4
# unless a near-tie on a hyperparameter grid flips the choice (docs/sweeps.md)
for name in ("test_normalized_mse", "feature_corr"):
    if name in local:
        a, b = local[name].values, dask[name].values
        diff = np.nanmax(np.abs(a - b) / np.maximum(np.abs(a), 1e-12))
        print(f"{name}: local vs dask-gpu, max relative difference {diff:.1e}")
for name, ds in (("local", local), ("dask", dask)):
    print(f"{name} ran on", ds.tlkit.versions.get("jax_device", "an unrecorded device"))
EOF

step "tests that hold numerics to NumPy references, on this device (limit 50 s)"
# last: compilation makes them slow on a GPU (about 75 of them passed in 150 s on an
# H200, none failed); the measurements above matter more within a short lease
check timeout 50 $PY -m pytest -q -x -p no:cacheprovider tests/test_kernels.py \
    tests/test_ridge.py tests/test_precision.py plugins/tlkit-nets

step "done: $FAILED step(s) failed"
exec >&- 2>&-
wait  # for tee to write the end of the log
exit "$FAILED"
