#!/usr/bin/env bash
# Run some variants of a named reproduction on a lent GPU, until a deadline, resumably.
#
#   bash benchmarks/gpu/sweep_part.sh NAME VARIANTS SECONDS
#
# NAME: a reproduction (`tlkit reproduce --list`); VARIANTS: comma-separated variant
# names to keep (the others run elsewhere, e.g. on CPUs); SECONDS: how long this call
# may run the sweep. The sweep directory is .gpu-runs/NAME (carry ".gpu-runs" to resume a
# part run by an earlier call: finished cells are skipped); when the time is up, the
# sweep is stopped (cells are written atomically, so a stopped sweep loses only the cell
# in progress) and the directory comes back as $OUT/NAME.tar.gz.
#
# The directory holds the whole reproduction (`--variants` runs only some of its
# cells), so copy DIR/cells/*.nc into the directory where the other variants ran, or
# the other way round, and `tlkit reproduce NAME --out DIR` reuses them all.
#
# Before the first call, here: `echo /.gpu-runs/ >> .git/info/exclude` (so that the
# folder travels only as carried), and the wheels of check.sh's header in .whl. Give the
# device call a timeout_s at least 30 s above SECONDS, for the install and the tar: a
# call stopped by its own limit brings nothing back. The exit status is the sweep's, 124
# when the time was up (the device tool then reports timed_out; the tar still came back).
#
# TLKIT_MATMUL_PRECISION, if set, applies (each cell records it in versions).
set -uo pipefail
NAME=$1 VARIANTS=$2 SECONDS_LEFT=$3
OUT=${OUT:-/tmp/tlkit-gpu-check}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" .gpu-runs
if [ ! -d /tmp/tlkit-site/tlkit ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/tlkit-site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/tlkit-site
CONFIG=.gpu-runs/$NAME.toml
$PY -m tlkit reproduce "$NAME" --show-config > "$CONFIG" || exit 1
echo "=== $NAME [$VARIANTS] for at most $SECONDS_LEFT s ($(date +%T)), precision" \
    "${TLKIT_MATMUL_PRECISION:-highest}"
timeout "$SECONDS_LEFT" $PY -m tlkit sweep "$CONFIG" --out ".gpu-runs/$NAME" --quiet \
    --variants "$VARIANTS"
STATUS=$?
[ "$STATUS" = 124 ] && echo "=== time is up: the sweep was stopped; rerun to resume"
tar -czf "$OUT/$NAME.tar.gz" -C .gpu-runs "$NAME"
echo "=== $(ls ".gpu-runs/$NAME/cells" | grep -c '\.nc$') cells finished ($(date +%T))"
exit "$STATUS"
