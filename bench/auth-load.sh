#!/usr/bin/env bash
# Authentication hot-path benchmark (see docs/benchmarks.md).
#
#   bench/auth-load.sh                       # full run: ~4.5 minutes after the release build
#   DURATION=5 ROUNDS=1 bench/auth-load.sh   # quick look
#
# Starts two release `gatehouse serve` processes on one SQLite data folder (the second with
# tokens.cache_capacity = 0) and loads them over HTTPS with wrk (64 connections, 2 threads).
# Each round runs every case once, one after another, so the machine's drift between rounds
# hits all cases alike; ratios are taken within a round, then the median over rounds:
#   healthz   GET /healthz (no authentication): the baseline;
#   apikey    GET /api/auth/session with one API key (HTTP Basic);
#   bearer    the same with one bearer token (verified once, then cached);
#   firstseen the same token against the server with the token cache off, so every request
#             is a first sight: header allow-list, Ed25519 signature, claims, revocation set;
#   onelua    one API key sent through the wrk Lua script of the next case;
#   spread    100,000 keys in the store, traffic spread over 10,000 of them (wrk Lua).
# Everything runs on loopback; the script stops the servers and removes its folder.
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
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

printf 'a benchmark password %s\n' "$RANDOM$RANDOM" > "$WORK/pw"
export GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE=0   # measure the check, not the limiter
export GATEHOUSE_LOG__LEVEL=warn                     # no per-request log line while measuring
start_server() { # name, extra env assignments...; sets URL
  local name=$1; shift
  env "$@" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    --bootstrap-password-file "$WORK/pw" > "$WORK/$name.stdout" 2> "$WORK/$name.stderr" &
  PIDS+=($!)
  URL=""
  for _ in $(seq 100); do grep -q 'listening on' "$WORK/$name.stdout" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'https://[0-9.:]*' "$WORK/$name.stdout" | head -1)
  [[ -n $URL ]] || { cat "$WORK/$name.stderr"; exit 1; }
}
start_server main
MAIN=$URL
start_server nocache GATEHOUSE_TOKENS__CACHE_CAPACITY=0
NOCACHE=$URL

# A bearer token, made the way a user makes one: sign in, then POST /api/tokens.
curl -sfk -c "$WORK/jar" -H 'content-type: application/json' \
  --data "{\"username\":\"admin\",\"password\":\"$(head -1 "$WORK/pw")\"}" "$MAIN/api/auth/login" > "$WORK/login.json"
CSRF=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' "$WORK/login.json")
TOKEN=$(curl -sfk -b "$WORK/jar" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
  --data '{"expires_in_hours":1,"name":"bench"}' "$MAIN/api/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
BEARER="Authorization: Bearer $TOKEN"
for u in "$MAIN" "$NOCACHE"; do
  curl -sfk -H "$BEARER" "$u/api/auth/session" >/dev/null || { echo "the token does not authenticate at $u" >&2; exit 1; }
done

"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count 1 --output "$WORK/one.txt" >/dev/null
KEY=$(head -1 "$WORK/one.txt")
AUTH="Authorization: Basic $(printf '%s:' "$KEY" | base64 -w0)"
curl -sfk -H "$AUTH" "$MAIN/api/auth/session" >/dev/null || { echo "the key does not authenticate" >&2; exit 1; }

echo "seeding $SEED_KEYS keys..." >&2
"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count "$SEED_KEYS" --output "$WORK/many.txt" >/dev/null
head -n "$SPREAD" "$WORK/many.txt" | while read -r k; do printf '%s:' "$k" | base64 -w0; echo; done > "$WORK/spread.txt"
printf '%s:' "$KEY" | base64 -w0 > "$WORK/one-lua.txt"; echo >> "$WORK/one-lua.txt"

# Lua for wrk: each request takes the next key of KEYS_FILE.
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
# Warm up: TLS session set-up and allocator on both servers, and the spread keys in the cache
# (first sight of a key costs one store read), as a real fleet would have them.
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "$MAIN/healthz" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -H "$BEARER" "$NOCACHE/api/auth/session" >/dev/null
KEYS_FILE=$WORK/spread.txt wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$WORK/spread.lua" "$MAIN" >/dev/null

. "$ROOT/bench/wrk-cases.sh"
for r in $(seq "$ROUNDS"); do
  run_case healthz "$r" "$MAIN/healthz"
  run_case apikey "$r" -H "$AUTH" "$MAIN/api/auth/session"
  run_case bearer "$r" -H "$BEARER" "$MAIN/api/auth/session"
  run_case firstseen "$r" -H "$BEARER" "$NOCACHE/api/auth/session"
  KEYS_FILE=$WORK/one-lua.txt run_case onelua "$r" -s "$WORK/spread.lua" "$MAIN"
  KEYS_FILE=$WORK/spread.txt run_case spread "$r" -s "$WORK/spread.lua" "$MAIN"
done
for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a server died during the run" >&2; exit 1; }; done

row() { # label, case, baseline case, baseline label
  local list
  list=$(ratios "$2" "$3")
  printf '| %s | %s | %s | **%s×** %s | %s |\n' "$1" "$(col "$2" 2)" "$(col "$2" 3)" \
    "$(echo "$list" | median)" "$4" "$(echo "$list" | paste -sd' ')"
}
echo
echo "| case (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS interleaved rounds) | requests/s (median) | p99 ms (median) | ratio (median of rounds) | per-round ratios |"
echo "|---|---|---|---|---|"
printf '| GET /healthz (no auth) | %s | %s | 1.00 | |\n' "$(col healthz 2)" "$(col healthz 3)"
row "GET /api/auth/session, one API key" apikey healthz "healthz"
row "same, $SEED_KEYS keys stored, spread over $SPREAD (wrk Lua)" spread onelua "one key via the same Lua"
row "one key via the same Lua script" onelua healthz "healthz"
row "GET /api/auth/session, one bearer token (cached)" bearer healthz "healthz"
row "same token, cache off (every request a first sight)" firstseen healthz "healthz"
