#!/usr/bin/env bash
# HTTP load test on loopback: `kioku serve` against wrk at 64 connections,
# memory-add then search, for DURATION seconds each. Prints one JSON object:
# requests/s, p50/p99 latency, errors, and lost writes (201s answered minus
# rows found afterwards: must be 0).
#   bench/server/load.sh [DURATION_S=15] [CONNECTIONS=64]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kioku=${KIOKU_BINARY:-$root/build/src/cli/kioku}
duration=${1:-15}
connections=${2:-64}
command -v wrk >/dev/null || { echo "load.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
data=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
"$kioku" --data-dir "$data" init >/dev/null
# No automatic backup in the middle of the measurement (it runs daily).
sed -i 's/^# interval_hours = 24 .*/interval_hours = 0/' "$data/config.toml"
grep -q '^interval_hours = 0' "$data/config.toml" || { echo "load.sh: cannot turn off backups in config.toml" >&2; exit 2; }
# Full-text search only: the load is on the server and the store.
KIOKU_EMBED_PROVIDER=none "$kioku" --data-dir "$data" serve --port 0 --json --quiet --threads $((connections + 8)) >"$data/serve.json" &
server=$!
for _ in $(seq 100); do [[ -s "$data/serve.json" ]] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"].rstrip("/"))' "$data/serve.json")
export KIOKU_TOKEN=$("$kioku" --data-dir "$data" token)
threads=$(( $(nproc) > 1 ? $(nproc) : 2 ))
before=$(curl -s -H "Authorization: Bearer $KIOKU_TOKEN" "$url/api/memory?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
add=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$here/add.lua" "$url" | sed -n 's/^WRK_JSON //p')
after=$(curl -s -H "Authorization: Bearer $KIOKU_TOKEN" "$url/api/memory?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
search=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$here/search.lua" "$url" | sed -n 's/^WRK_JSON //p')
python3 - "$add" "$search" "$before" "$after" "$connections" "$duration" <<'PY'
import json, sys
add, search = json.loads(sys.argv[1]), json.loads(sys.argv[2])
before, after = int(sys.argv[3]), int(sys.argv[4])
add["rows_after"] = after - before
# Requests still in flight when wrk stops are stored but not counted as
# answered: rows may exceed the 201s by up to one per connection.
add["lost_writes"] = max(0, add["created"] - (after - before))
add["stored_unanswered"] = max(0, (after - before) - add["created"])
print(json.dumps({"connections": int(sys.argv[5]), "duration_s": int(sys.argv[6]), "add": add, "search": search}, indent=2))
PY
