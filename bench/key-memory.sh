#!/usr/bin/env bash
# Memory per cached API key (see docs/benchmarks.md, "Memory per cached API key").
#
#   bench/key-memory.sh                       # release build, 100,000 keys
#   KEYS=20000 bench/key-memory.sh            # a quick look
#   BIN=/path/to/gatehouse bench/key-memory.sh   # measure another build (no cargo build)
#
# Starts a release `gatehouse serve` on a fresh SQLite data folder (API-key rate limit off,
# log level warn), seeds KEYS keys with `gatehouse admin seed-api-keys`, warms the server up
# (TLS, the allocator, one key through /api/auth/session), waits for a flush and reads its
# resident set (VmRSS of /proc/PID/status): "idle". Then wrk, with a Lua script that walks
# the key file (each thread from its own offset, stopping after its share), sends
# GET /api/auth/session with every key once, so every key is read from the store into the
# cache; after the usage flush the resident set is read again.
# Bytes per key = (after - idle) / KEYS.
#
# What the figure includes besides the cache itself: the store's page cache (SQLite, per
# pooled connection, bounded) and whatever the allocator keeps from the requests in flight.
# Everything runs on loopback; the script stops the server and removes its folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEYS=${KEYS:-100000}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
if [[ -z ${BIN:-} ]]; then
  cargo build --release --locked --bin gatehouse >/dev/null
  BIN=$ROOT/target/release/gatehouse
fi

WORK=$(mktemp -d)
PID=""
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

printf 'a benchmark password %s\n' "$RANDOM$RANDOM" > "$WORK/pw"
export GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE=0
export GATEHOUSE_LOG__LEVEL=warn
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  --bootstrap-password-file "$WORK/pw" > "$WORK/stdout" 2> "$WORK/stderr" &
PID=$!
URL=""
for _ in $(seq 100); do grep -q 'listening on' "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'https://[0-9.:]*' "$WORK/stdout" | head -1)
[[ -n $URL ]] || { cat "$WORK/stderr"; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }

echo "seeding $KEYS keys..." >&2
"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count 1 --output "$WORK/one.txt" >/dev/null
"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count "$KEYS" --output "$WORK/keys.txt" >/dev/null
python3 - "$WORK/keys.txt" "$WORK/keys.b64" <<'PY'
import base64, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    for line in src:
        key = line.strip()
        if key:
            dst.write(base64.b64encode(f"{key}:".encode()).decode() + "\n")
PY
python3 - "$WORK/one.txt" "$WORK/one.b64" <<'PY'
import base64, sys
key = open(sys.argv[1]).read().split()[0]
open(sys.argv[2], "w").write(base64.b64encode(f"{key}:".encode()).decode() + "\n")
PY
[[ $(wc -l < "$WORK/keys.b64") -eq $KEYS ]] || { echo "expected $KEYS keys" >&2; exit 1; }

# Each thread walks the whole file from its own offset, so together they cover every key
# after KEYS / THREADS requests each.
cat > "$WORK/walk.lua" <<'LUA'
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local headers = {}
local n = 0
local i = 0
function init(args)
  for line in io.lines(os.getenv("KEYS_FILE")) do
    n = n + 1
    headers[n] = "Basic " .. line
  end
  local threads = tonumber(os.getenv("THREADS"))
  i = math.floor(n * id / threads)
end
request = function()
  i = (i % n) + 1
  return wrk.format("GET", "/api/auth/session", { ["Authorization"] = headers[i] })
end
-- With STOP_AFTER set, a thread stops once that many answers came back: its share of the
-- keys, plus the requests that were still in flight when the last of its share went out.
local answered = 0
local stop_after = tonumber(os.getenv("STOP_AFTER") or "0")
response = function(status, headers, body)
  answered = answered + 1
  if stop_after > 0 and answered >= stop_after then
    wrk.thread:stop()
  end
end
LUA

# Warm-up: TLS, the allocator's arenas on every worker, one key cached and used.
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "$URL/healthz" >/dev/null
KEYS_FILE=$WORK/one.b64 THREADS=$THREADS wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$WORK/walk.lua" "$URL" > "$WORK/warm.txt"
grep -qE 'Non-2xx|Socket errors' "$WORK/warm.txt" && { cat "$WORK/warm.txt" >&2; exit 1; }
sleep 7   # one usage flush (every 5 s)
IDLE=$(rss_kib)
echo "idle after warm-up: $IDLE KiB" >&2

# Every key once: each thread stops after its share of the file (and the connections' worth
# of requests still in flight then), or at the time limit.
START=$(date +%s)
KEYS_FILE=$WORK/keys.b64 THREADS=$THREADS STOP_AFTER=$(( KEYS / THREADS + CONNECTIONS )) \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WALK_SECONDS:-$(( KEYS / 1000 + 10 ))}s" \
  -s "$WORK/walk.lua" "$URL" > "$WORK/walk.txt"
if grep -qE 'Non-2xx|Socket errors' "$WORK/walk.txt"; then cat "$WORK/walk.txt" >&2; exit 1; fi
SENT=$(awk '/requests in/ {print $1}' "$WORK/walk.txt")
echo "sent $SENT requests in $(( $(date +%s) - START )) s" >&2
(( SENT >= KEYS )) || { echo "fewer requests than keys: raise WALK_SECONDS" >&2; exit 1; }
sleep 12  # the usage of every key flushed, the requests' buffers returned
AFTER=$(rss_kib)
kill -0 "$PID" || { echo "the server died" >&2; exit 1; }

echo
echo "keys cached:         $KEYS"
echo "RSS idle:            $IDLE KiB"
echo "RSS after:           $AFTER KiB"
echo "growth:              $(( (AFTER - IDLE) / 1024 )) MiB"
echo "bytes per key:       $(( (AFTER - IDLE) * 1024 / KEYS ))"
