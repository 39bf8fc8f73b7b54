#!/usr/bin/env bash
# Revocation across nodes (see docs/benchmarks.md).
#
#   bench/revocation.sh             # 60 revocations per kind: ~3 minutes after the release build
#   COUNT=10 bench/revocation.sh    # quick look
#
# Starts a throwaway PostgreSQL 15 (unix socket, removed on exit) and three release
# `gatehouse serve` nodes on one database. Nodes 2 and 3 are kept loaded with wrk (an
# unrelated API key, 2 × 16 connections each) while, for each credential kind, a
# credential is made on node 1, used once on nodes 2 and 3 (so they cache it), revoked on
# node 1, and nodes 2 and 3 are probed until they refuse it. The time from the revoking
# request's start to the first refusal, per node, gives p50/p99 per kind. Kinds: an API
# key disabled, a session signed out, a token revoked, an account disabled by an admin.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COUNT=${COUNT:-60}
(( COUNT <= 190 )) || { echo "COUNT is at most 190 (one page of members)" >&2; exit 1; }
PGBIN=/usr/lib/postgresql/15/bin
VENV=$ROOT/target/e2e-venv

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[[ -x $PGBIN/initdb ]] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
"$VENV/bin/python" -c 'import requests' 2>/dev/null || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q requests; }
cargo build --release --locked --bin gatehouse >/dev/null
BIN=$ROOT/target/release/gatehouse

WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/pg/sock" && chown -R postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
  -o "-c listen_addresses='' -k $WORK/pg/sock -c max_connections=200" start >/dev/null
DB="postgres:///postgres?host=$WORK/pg/sock&user=postgres"

printf 'a benchmark password %s\n' "$RANDOM$RANDOM" > "$WORK/pw"
export GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE=0   # the load must not be throttled
export GATEHOUSE_LOG__LEVEL=warn
URLS=()
for n in 1 2 3; do
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --database-url "$DB" \
    --bootstrap-password-file "$WORK/pw" > "$WORK/node$n.stdout" 2> "$WORK/node$n.stderr" &
  PIDS+=($!)
  for _ in $(seq 150); do grep -q 'listening on' "$WORK/node$n.stdout" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -o 'https://[0-9.:]*' "$WORK/node$n.stdout" | head -1)
  [[ -n $url ]] || { cat "$WORK/node$n.stderr"; exit 1; }
  URLS+=("$url")
done

"$BIN" admin --data-dir "$WORK/data" --database-url "$DB" seed-api-keys --user admin --count 1 \
  --output "$WORK/load-key.txt" >/dev/null
AUTH="Authorization: Basic $(printf '%s:' "$(head -1 "$WORK/load-key.txt")" | base64 -w0)"
# Accounts for the "account disabled" kind, made before the clock starts.
for i in $(seq "$COUNT"); do
  "$BIN" admin --data-dir "$WORK/data" --database-url "$DB" create-user "member$i" \
    --email "member$i@example.org" --password-file "$WORK/pw" >/dev/null
done

for n in 1 2; do
  wrk -t2 -c16 -d1h -H "$AUTH" "${URLS[$n]}/api/auth/session" > "$WORK/wrk$n.txt" 2>&1 &
  PIDS+=($!)
done
sleep 1
"$VENV/bin/python" "$ROOT/bench/revocation.py" --count "$COUNT" --password-file "$WORK/pw" "${URLS[@]}"
for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a node died during the run" >&2; exit 1; }; done
