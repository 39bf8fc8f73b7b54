#!/usr/bin/env bash
# Gatehouse's hot path against the bare framework (see docs/benchmarks.md).
#
#   bench/hot-path.sh                        # full run: ~6 minutes after the release builds
#   DURATION=5 ROUNDS=1 bench/hot-path.sh    # quick look
#   PERF=apikey bench/hot-path.sh            # also record a perf profile of one case
#
# Starts a release `gatehouse serve` at the default log level (info: one access-log line
# per request, to a file) on a fresh SQLite data folder, and the bare reference server of
# bench/reference (axum + axum-server/rustls, nothing else). Loads both over HTTPS on
# loopback with wrk -t2 -c64 (HTTP/1.1) and, for the HTTP/2 cases, h2load (-c64 -m10).
# Each round runs every case once, one after another; ratios are taken within a round
# against the bare "ok" route of the same round, then the median over rounds:
#   ref_ok     reference GET /ok ("ok"): the baseline, 1.00;
#   ref_key    reference GET /key: Basic decode, SHA-256, map lookup, ~300 bytes of JSON;
#   healthz    Gatehouse GET /healthz (no authentication);
#   apikey     Gatehouse GET /api/auth/session with an API key (HTTP Basic);
#   cookie     the same with the session cookie cloud.sso;
#   bearer     the same with a bearer token (verified once, then cached);
# and, over HTTP/2: ref_ok, healthz and apikey again. Then the cost of a new TLS
# connection: wrk with "Connection: close" on /healthz (a full handshake per request), and
# openssl s_time with each TLS 1.3 suite (AES-128-GCM/SHA-256, which the server prefers, and
# AES-256-GCM/SHA-384, which OpenSSL clients ask for first and got before).
# The API-key rate limit is off (the check is measured, not the limiter).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PERF=${PERF:-}

need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need h2load nghttp2-client
need openssl openssl
[[ -z $PERF ]] || need perf linux-perf
cargo build --release --locked --bin gatehouse >/dev/null
(cd bench/reference && cargo build --release --locked >/dev/null)
BIN=$ROOT/target/release/gatehouse
REF=$ROOT/bench/reference/target/release/gatehouse-bench-reference

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_url() { # file; prints the https URL the server printed
  local url=""
  for _ in $(seq 100); do
    url=$(grep -o 'https://[0-9.:]*' "$1" 2>/dev/null | head -1 || true)
    [[ -n $url ]] && break
    sleep 0.1
  done
  [[ -n $url ]] || { echo "no server address in $1" >&2; exit 1; }
  echo "$url"
}

printf 'a benchmark password %s\n' "$RANDOM$RANDOM" > "$WORK/pw"
export GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE=0
unset RUST_LOG GATEHOUSE_LOG__LEVEL   # the default level: info, with the access log
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --bootstrap-password-file "$WORK/pw" \
  > "$WORK/gh.stdout" 2> "$WORK/gh.stderr" &
PIDS+=($!)
GH_PID=$!
GH=$(wait_url "$WORK/gh.stdout")

curl -sfk -c "$WORK/jar" -H 'content-type: application/json' \
  --data "{\"username\":\"admin\",\"password\":\"$(head -1 "$WORK/pw")\"}" "$GH/api/auth/login" > "$WORK/login.json"
CSRF=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' "$WORK/login.json")
COOKIE_VALUE=$(awk '$6 == "cloud.sso" {print $7}' "$WORK/jar")
COOKIE="Cookie: cloud.sso=$COOKIE_VALUE"
TOKEN=$(curl -sfk -b "$WORK/jar" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
  --data '{"expires_in_hours":1,"name":"bench"}' "$GH/api/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
BEARER="Authorization: Bearer $TOKEN"
"$BIN" admin --data-dir "$WORK/data" seed-api-keys --user admin --count 1 --output "$WORK/key.txt" >/dev/null
KEY=$(head -1 "$WORK/key.txt")
AUTH="Authorization: Basic $(printf '%s:' "$KEY" | base64 -w0)"
for h in "$AUTH" "$COOKIE" "$BEARER"; do
  curl -sfk -H "$h" "$GH/api/auth/session" >/dev/null || { echo "a credential does not authenticate" >&2; exit 1; }
done

"$REF" "$WORK/key.txt" > "$WORK/ref.stdout" 2> "$WORK/ref.stderr" &
PIDS+=($!)
REF_URL=$(wait_url "$WORK/ref.stdout")
curl -sfk -H "$AUTH" "$REF_URL/key" >/dev/null || { echo "the reference refuses the key" >&2; exit 1; }
echo "reference body: $(curl -sfk -H "$AUTH" "$REF_URL/key" | wc -c) bytes; Gatehouse body: $(curl -sfk -H "$AUTH" "$GH/api/auth/session" | wc -c) bytes" >&2

# Warm-up: TLS, allocators, caches.
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "$REF_URL/ok" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -H "$AUTH" "$GH/api/auth/session" >/dev/null

. "$ROOT/bench/wrk-cases.sh"
# One h2load run (HTTP/2 over TLS, 10 streams per connection); appends "round rps".
run_h2() { # name, round, h2load args...
  local name=$1 round=$2; shift 2
  h2load -t"$THREADS" -c"$CONNECTIONS" -m10 -D"$DURATION" --warm-up-time=1 "$@" > "$WORK/$name.$round.txt" 2>&1
  grep -q 'Application protocol: h2' "$WORK/$name.$round.txt" || { cat "$WORK/$name.$round.txt" >&2; exit 1; }
  local rps bad
  rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$WORK/$name.$round.txt")
  bad=$(awk '/^status codes:/ {gsub(",", "", $5); gsub(",", "", $7); gsub(",", "", $9); print $5 + $7 + $9}' "$WORK/$name.$round.txt")
  [[ $bad == 0 ]] || { echo "round $round $name: non-2xx answers" >&2; cat "$WORK/$name.$round.txt" >&2; exit 1; }
  echo "round $round  $name: $rps req/s (h2)" >&2
  echo "$round $rps -" >> "$WORK/$name.results"
}

for r in $(seq "$ROUNDS"); do
  run_case ref_ok "$r" "$REF_URL/ok"
  run_case ref_key "$r" -H "$AUTH" "$REF_URL/key"
  run_case healthz "$r" "$GH/healthz"
  run_case apikey "$r" -H "$AUTH" "$GH/api/auth/session"
  run_case cookie "$r" -H "$COOKIE" "$GH/api/auth/session"
  run_case bearer "$r" -H "$BEARER" "$GH/api/auth/session"
  run_h2 h2_ref_ok "$r" "$REF_URL/ok"
  run_h2 h2_healthz "$r" "$GH/healthz"
  run_h2 h2_apikey "$r" -H "$AUTH" "$GH/api/auth/session"
done
kill -0 "$GH_PID" 2>/dev/null || { echo "the server died during the run" >&2; exit 1; }
LINES=$(grep -c '"gatehouse::access"' "$WORK/gh.stderr" || true)

# New connections: a full TLS handshake per request.
run_case newconn 1 -H "Connection: close" "$GH/healthz"
run_case ref_newconn 1 -H "Connection: close" "$REF_URL/ok"
HOSTPORT=${GH#https://}
s_time() { # suite
  openssl s_time -connect "$HOSTPORT" -new -time "$DURATION" -ciphersuites "$1" 2>/dev/null \
    | awk '/connections in [0-9.]+s;/ {print $5; exit}'
}
S128=$(s_time TLS_AES_128_GCM_SHA256)
S256=$(s_time TLS_AES_256_GCM_SHA384)

if [[ -n $PERF ]]; then
  case $PERF in
    apikey) PH=$AUTH ;; cookie) PH=$COOKIE ;; bearer) PH=$BEARER ;; *) PH="X-Bench: 1" ;;
  esac
  P=/api/auth/session; [[ $PERF == healthz ]] && P=/healthz
  perf record -F 999 -g -p "$GH_PID" -o "$ROOT/target/hot-path.perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -H "$PH" "$GH$P" >/dev/null
  wait
  echo "profile: perf report -i $ROOT/target/hot-path.perf.data --no-children" >&2
fi

row() { # label, case, baseline case, target
  local list
  list=$(ratios "$2" "$3")
  printf '| %s | %s | %s | **%s×** | %s | %s |\n' "$1" "$(col "$2" 2)" "$(col "$2" 3)" \
    "$(echo "$list" | median)" "$(echo "$list" | paste -sd' ')" "$4"
}
echo
echo "| case ($ROUNDS interleaved rounds, ${DURATION}s each) | requests/s (median) | p99 ms (median) | ÷ bare \"ok\" (median) | per round | target |"
echo "|---|---|---|---|---|---|"
printf '| HTTP/1.1 (wrk -t%s -c%s): bare axum + rustls, GET /ok | %s | %s | 1.00 | | |\n' "$THREADS" "$CONNECTIONS" "$(col ref_ok 2)" "$(col ref_ok 3)"
row "bare, GET /key (Basic, SHA-256, map, ~300 B JSON)" ref_key ref_ok ""
row "Gatehouse GET /healthz" healthz ref_ok "≥ 0.95×"
row "Gatehouse GET /api/auth/session, API key" apikey ref_ok "≥ 0.85×"
row "Gatehouse GET /api/auth/session, session cookie" cookie ref_ok "≥ 0.85×"
row "Gatehouse GET /api/auth/session, bearer token (cached)" bearer ref_ok "≥ 0.85×"
printf '| HTTP/2 (h2load -t%s -c%s -m10): bare, GET /ok | %s | | 1.00 (HTTP/2) | | |\n' "$THREADS" "$CONNECTIONS" "$(col h2_ref_ok 2)"
row "HTTP/2: Gatehouse GET /healthz" h2_healthz h2_ref_ok ""
row "HTTP/2: Gatehouse GET /api/auth/session, API key" h2_apikey h2_ref_ok ""
echo
echo "access-log lines written during the rounds: $LINES"
echo
echo "| new TLS connection per request | connections/s |"
echo "|---|---|"
echo "| wrk \"Connection: close\", Gatehouse /healthz | $(col newconn 2) |"
echo "| wrk \"Connection: close\", bare /ok | $(col ref_newconn 2) |"
echo "| openssl s_time -new, TLS_AES_128_GCM_SHA256 (preferred now) | $S128 |"
echo "| openssl s_time -new, TLS_AES_256_GCM_SHA384 (chosen before) | $S256 |"
