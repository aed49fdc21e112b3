#!/usr/bin/env bash
# One command from a fresh clone: builds the benchmark and kioku, sets up a
# Python venv outside the repo with hnswlib and numpy from PyPI, and prints
# one JSON document (bench/peers/README.md).
# Usage: bench/peers/store_search_peers.sh [--n 100000] [--queries 300] [--rounds 2] [--index-n 100000]
# Environment: BUILD_DIR (default build), KIOKU_BENCH_VENV (default
# ~/.cache/kioku-bench/store-search-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
venv=${KIOKU_BENCH_VENV:-$HOME/.cache/kioku-bench/store-search-venv}
if [[ ! -f "$build/build.ninja" ]]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >&2
fi
cmake --build "$build" -j2 --target store_search_peers kioku >&2
if ! "$venv/bin/python" -c "import hnswlib, numpy" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "hnswlib==0.8.0" numpy >&2
fi
exec "$venv/bin/python" bench/peers/store_search_peers.py --bin "$build/bench/peers/store_search_peers" \
  --kioku "$build/src/cli/kioku" "$@"
