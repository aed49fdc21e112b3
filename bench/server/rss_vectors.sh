#!/usr/bin/env bash
# Memory of `kioku serve` holding N vectors (issue 15: "RSS of kioku serve at
# 1M vectors, before and after" int8 storage). One data directory of N
# memories with a 384-d float32 vector each (store_search_peers bulk, the
# hashing model's id so that the server's embedder uses them), then, one
# server at a time:
#   float: the default ([search] int8_vectors = false): the first vector
#          search loads the index (int8 codes answer while the HNSW graph is
#          built in the background), then the graph serves;
#   int8:  [search] int8_vectors = true: int8 codes at every size, rescored
#          with the float vectors from the store.
# For each: RSS and anonymous memory (heap) after the first search, their
# peaks, and both once the index serves (float: once vector searches answer in
# under 10 ms, i.e. from the graph; at most --wait seconds). Prints one JSON.
#   bench/server/rss_vectors.sh [--n 1000000] [--dir D] [--wait 900]
# Scheduled maintenance and backups are off: only the index is measured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
kioku=${KIOKU_BINARY:-$build/src/cli/kioku}
n=1000000
dir=""
wait_s=900
while [[ $# -gt 0 ]]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    *) echo "rss_vectors.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
cmake --build "$build" -j2 --target store_search_peers kioku >&2
keep=1
if [[ -z "$dir" ]]; then dir=$(mktemp -d); keep=0; fi
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [[ $keep == 0 ]]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
if [[ ! -f "$dir/memory.db" ]]; then
  echo "rss_vectors.sh: $n memories and vectors into $dir" >&2
  bulk=$("$build/bench/peers/store_search_peers" bulk --dir "$dir" --n "$n" --model hashing-384)  # it empties $dir
  echo "$bulk" >"$dir/bulk.json"
  rm -f "$dir/raw.db"
fi
"$kioku" --data-dir "$dir" init >/dev/null
token=$("$kioku" --data-dir "$dir" token)

measure() {  # $1 = float|int8
  local mode=$1 int8=false
  [[ $mode == int8 ]] && int8=true
  rm -rf "$dir/index"
  cat >"$dir/config.toml" <<EOF
[embed]
provider = "hashing"
dimension = 384
[search]
int8_vectors = $int8
[maintenance]
enabled = false
[backup]
interval_hours = 0
EOF
  "$kioku" --data-dir "$dir" serve --port 0 --json --quiet >"$dir/serve.json" &
  server=$!
  for _ in $(seq 200); do [[ -s "$dir/serve.json" ]] && break; sleep 0.1; done
  local url
  url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"].rstrip("/"))' "$dir/serve.json")
  python3 - "$mode" "$url" "$token" "$server" "$wait_s" <<'PY'
import json, sys, threading, time, urllib.parse, urllib.request
mode, url, token, pid, wait_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])

def status_kb(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0

peak = {"rss": 0, "anon": 0}
sampling = True
def sample():
    while sampling:
        peak["rss"] = max(peak["rss"], status_kb("VmRSS:"))
        peak["anon"] = max(peak["anon"], status_kb("RssAnon:"))
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()

words = ["garden", "river", "winter", "music", "letter", "travel", "kitchen", "friend"]
def search(i):
    q = urllib.parse.quote(f"{words[i % len(words)]} {words[(i * 3 + 1) % len(words)]} {i}")
    req = urllib.request.Request(f"{url}/api/memory/search?q={q}&mode=vector&limit=10",
                                 headers={"Authorization": f"Bearer {token}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        body = json.load(r)
    return (time.perf_counter() - t) * 1000, body

base = {"rss": status_kb("VmRSS:"), "anon": status_kb("RssAnon:")}
first_ms, body = search(0)
results = len(body["items"])
after_first = {"rss": status_kb("VmRSS:"), "anon": status_kb("RssAnon:")}
t0 = time.perf_counter()
fast, i, lat = 0, 1, []
served_s = None
while time.perf_counter() - t0 < wait_s:
    ms, _ = search(i)
    lat.append(ms)
    i += 1
    fast = fast + 1 if ms < 10 else 0
    if fast >= 5:
        served_s = time.perf_counter() - t0
        break
    time.sleep(0.5 if mode == "float" else 0.05)
    if mode == "int8" and i > 40:
        break
steady = {"rss": status_kb("VmRSS:"), "anon": status_kb("RssAnon:")}
tail = sorted(lat[-5:])
sampling = False
mb = lambda kb: round(kb / 1024, 1)
print(json.dumps({
    "mode": mode,
    "first_search_ms": round(first_ms, 1), "first_results": results,
    "rss_at_start_mb": mb(base["rss"]), "anon_at_start_mb": mb(base["anon"]),
    "rss_after_first_search_mb": mb(after_first["rss"]), "anon_after_first_search_mb": mb(after_first["anon"]),
    "peak_rss_mb": mb(peak["rss"]), "peak_anon_mb": mb(peak["anon"]),
    "steady_rss_mb": mb(steady["rss"]), "steady_anon_mb": mb(steady["anon"]),
    "searches": i, "last_searches_p50_ms": round(tail[len(tail) // 2], 2) if tail else None,
    # float: when vector searches became fast, i.e. the graph serves
    "graph_served_after_s": round(served_s, 1) if served_s is not None and mode == "float" else None,
}))
PY
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}
float_json=$(measure float)
int8_json=$(measure int8)
python3 - "$n" "$float_json" "$int8_json" <<'PY'
import json, sys
n, f, q = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
vector_mb = n * 384 * 4 / 1048576
print(json.dumps({"vectors": n, "float32_vector_data_mb": round(vector_mb, 1), "float": f, "int8": q,
                  "steady_anon_int8_over_float": round(q["steady_anon_mb"] / max(1e-9, f["steady_anon_mb"]), 3),
                  "float_peak_anon_over_vector_data": round(f["peak_anon_mb"] / vector_mb, 3)}, indent=2))
PY
