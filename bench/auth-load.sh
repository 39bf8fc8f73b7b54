#!/usr/bin/env bash
# Authentication hot-path benchmark (see docs/benchmarks.md).
#
#   bench/auth-load.sh            # full run: ~2.5 minutes after the release build
#   DURATION=5 ROUNDS=1 bench/auth-load.sh   # quick look
#
# Starts a release `gatehouse serve` on SQLite in a temporary folder and loads it over
# HTTPS with wrk (64 connections, 2 threads), ROUNDS rounds of DURATION seconds each:
#   1. GET /healthz (no authentication): the baseline;
#   2. GET /api/auth/session with one API key (HTTP Basic);
#   3. the same with 100,000 keys in the store, traffic spread over 10,000 of them;
#   4. GET /api/auth/session with one bearer token (verified once, then cached);
#   5. the same with the token cache turned off (tokens.cache_capacity = 0), so every
#      request is a first sight: signature check plus the token's and owner's rows.
# It prints the medians of requests/s and p99 latency and the ratios to the baseline.
# Everything runs on loopback; the script stops the server and removes its folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
SEED_KEYS=${SEED_KEYS:-100000}
SPREAD=${SPREAD:-10000}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked --bin gatehouse >/dev/null
BIN=$ROOT/target/release/gatehouse

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

printf 'a benchmark password %s\n' "$RANDOM$RANDOM" > "$WORK/pw"
export GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE=0   # measure the check, not the limiter
export GATEHOUSE_LOG__LEVEL=warn                     # no per-request log line while measuring
start_server() { # extra env assignments...
  : > "$WORK/stdout"
  env "$@" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    --bootstrap-password-file "$WORK/pw" > "$WORK/stdout" 2> "$WORK/stderr" &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q 'listening on' "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'https://[0-9.:]*' "$WORK/stdout" | head -1)
  [[ -n $URL ]] || { cat "$WORK/stderr"; exit 1; }
}
stop_server() {
  kill "$SERVER_PID" && wait "$SERVER_PID" || true
  SERVER_PID=""
}
start_server

# A bearer token, made the way a user makes one: sign in, then POST /api/tokens.
curl -sfk -c "$WORK/jar" -H 'content-type: application/json' \
  --data "{\"username\":\"admin\",\"password\":\"$(head -1 "$WORK/pw")\"}" "$URL/api/auth/login" > "$WORK/login.json"
CSRF=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' "$WORK/login.json")
TOKEN=$(curl -sfk -b "$WORK/jar" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
  --data '{"expires_in_hours":1,"name":"bench"}' "$URL/api/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
BEARER="Authorization: Bearer $TOKEN"
curl -sfk -H "$BEARER" "$URL/api/auth/session" >/dev/null || { echo "the token does not authenticate" >&2; exit 1; }

"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count 1 --output "$WORK/one.txt" >/dev/null
KEY=$(head -1 "$WORK/one.txt")
AUTH="Authorization: Basic $(printf '%s:' "$KEY" | base64 -w0)"
curl -sfk -H "$AUTH" "$URL/api/auth/session" >/dev/null || { echo "the key does not authenticate" >&2; exit 1; }

# Lua for wrk: each request takes the next of the SPREAD keys.
cat > "$WORK/spread.lua" <<'LUA'
local headers = {}
local n = 0
for line in io.lines(os.getenv("KEYS_FILE")) do
  n = n + 1
  headers[n] = "Basic " .. line
end
local i = 0
request = function()
  i = (i % n) + 1
  return wrk.format("GET", "/api/auth/session", { ["Authorization"] = headers[i] })
end
LUA

# wrk prints "Requests/sec: X" and, with --latency, "99% Yms".
run_wrk() { # name, extra args...
  local name=$1; shift
  for r in $(seq "$ROUNDS"); do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" > "$WORK/$name.$r.txt"
    local rps p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.$r.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/$name.$r.txt")
    echo "$name round $r: $rps req/s, p99 $p99" >&2
    echo "$rps $p99" >> "$WORK/$name.results"
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# p99 values come as "1.23ms" / "850.00us"; normalise to ms.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f\n", v}'; }

run_wrk healthz "$URL/healthz"
run_wrk apikey -H "$AUTH" "$URL/api/auth/session"
run_wrk bearer -H "$BEARER" "$URL/api/auth/session"

echo "seeding $SEED_KEYS keys..." >&2
"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count "$SEED_KEYS" --output "$WORK/many.txt" >/dev/null
head -n "$SPREAD" "$WORK/many.txt" | while read -r k; do printf '%s:' "$k" | base64 -w0; echo; done > "$WORK/spread.txt"
# Warm the cache once (first sight of a key costs one store read), as a real fleet would.
KEYS_FILE=$WORK/spread.txt wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$WORK/spread.lua" "$URL" >/dev/null
KEYS_FILE=$WORK/spread.txt run_wrk spread -s "$WORK/spread.lua" "$URL"
# The same Lua script with one key: wrk's per-request Lua costs CPU on the same 2 cores,
# so the spread case is compared with this, not with the static-header run.
printf '%s:' "$KEY" | base64 -w0 > "$WORK/one-lua.txt"; echo >> "$WORK/one-lua.txt"
KEYS_FILE=$WORK/one-lua.txt run_wrk onelua -s "$WORK/spread.lua" "$URL"

# Same server and store, token cache off: every request verifies the token in full.
stop_server
start_server GATEHOUSE_TOKENS__CACHE_CAPACITY=0
run_wrk firstseen -H "$BEARER" "$URL/api/auth/session"

H_RPS=$(cut -d' ' -f1 "$WORK/healthz.results" | median)
K_RPS=$(cut -d' ' -f1 "$WORK/apikey.results" | median)
S_RPS=$(cut -d' ' -f1 "$WORK/spread.results" | median)
H_P99=$(cut -d' ' -f2 "$WORK/healthz.results" | to_ms | median)
K_P99=$(cut -d' ' -f2 "$WORK/apikey.results" | to_ms | median)
S_P99=$(cut -d' ' -f2 "$WORK/spread.results" | to_ms | median)
L_RPS=$(cut -d' ' -f1 "$WORK/onelua.results" | median)
B_RPS=$(cut -d' ' -f1 "$WORK/bearer.results" | median)
B_P99=$(cut -d' ' -f2 "$WORK/bearer.results" | to_ms | median)
F_RPS=$(cut -d' ' -f1 "$WORK/firstseen.results" | median)
F_P99=$(cut -d' ' -f2 "$WORK/firstseen.results" | to_ms | median)

echo
echo "| route (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, median of $ROUNDS) | requests/s | p99 (ms) | ratio |"
echo "|---|---|---|---|"
echo "| GET /healthz (no auth) | $H_RPS | $H_P99 | 1.00 |"
awk -v k="$K_RPS" -v h="$H_RPS" -v p="$K_P99" 'BEGIN {printf "| GET /api/auth/session, one API key | %s | %s | %.2f× healthz |\n", k, p, k/h}'
awk -v s="$S_RPS" -v l="$L_RPS" -v h="$H_RPS" -v p="$S_P99" -v n="$SEED_KEYS" -v m="$SPREAD" \
  'BEGIN {printf "| same, %d keys stored, spread over %d (wrk Lua) | %s | %s | %.2f× one key via the same Lua (%s req/s); %.2f× healthz |\n", n, m, s, p, s/l, l, s/h}'
awk -v b="$B_RPS" -v h="$H_RPS" -v p="$B_P99" 'BEGIN {printf "| GET /api/auth/session, one bearer token (cached) | %s | %s | %.2f× healthz |\n", b, p, b/h}'
awk -v f="$F_RPS" -v h="$H_RPS" -v p="$F_P99" 'BEGIN {printf "| same, token cache off (every request a first sight) | %s | %s | %.2f× healthz |\n", f, p, f/h}'
