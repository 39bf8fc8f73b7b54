#!/usr/bin/env bash
# SCIM filtered lookups among many provisioned users (see docs/benchmarks.md).
#
#   bench/scim-filter.sh                 # 10,000 users, 300 lookups per filter
#   USERS=2000 LOOKUPS=100 bench/scim-filter.sh
#
# Starts a release `gatehouse serve` on a fresh SQLite data folder (or on PostgreSQL when
# DATABASE_URL is set), signs the bootstrap owner in, generates the SCIM Key, provisions
# USERS users through POST /scim/v2/Users (4 connections), then times LOOKUPS requests of
# each filter one after another over one keep-alive HTTPS connection, and prints the
# median and 99th percentile per filter. Each answer's totalResults is checked, so a
# filter that matched the wrong rows fails the run instead of looking fast.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
USERS=${USERS:-10000}
LOOKUPS=${LOOKUPS:-300}

cargo build --release --locked --bin gatehouse >/dev/null
BIN=$ROOT/target/release/gatehouse
WORK=$(mktemp -d)
PID=""
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

printf 'a benchmark password %s\n' "$RANDOM$RANDOM" > "$WORK/pw"
export GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE=0   # measure the lookup, not the limiter
export GATEHOUSE_LOG__LEVEL=warn
DB_ARGS=()
[[ -n ${DATABASE_URL:-} ]] && DB_ARGS=(--database-url "$DATABASE_URL")
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" "${DB_ARGS[@]}" \
  --bootstrap-password-file "$WORK/pw" > "$WORK/stdout" 2> "$WORK/stderr" &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'https://[0-9.:]*' "$WORK/stdout" | head -1)
[[ -n $URL ]] || { cat "$WORK/stderr"; exit 1; }

curl -sfk -c "$WORK/jar" -H 'content-type: application/json' \
  --data "{\"username\":\"admin\",\"password\":\"$(head -1 "$WORK/pw")\"}" "$URL/api/auth/login" > "$WORK/login.json"
CSRF=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' "$WORK/login.json")
KEY=$(curl -sfk -b "$WORK/jar" -H "x-csrf-token: $CSRF" -X POST "$URL/api/admin/scim-key" \
  | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[[ -n $KEY ]] || { echo "no SCIM key" >&2; exit 1; }

SCIM_URL="$URL/scim/v2" SCIM_KEY="$KEY" USERS="$USERS" LOOKUPS="$LOOKUPS" python3 - <<'PY'
import http.client, json, os, ssl, statistics, threading, time, urllib.parse

url = urllib.parse.urlsplit(os.environ["SCIM_URL"])
key = os.environ["SCIM_KEY"]
users, lookups = int(os.environ["USERS"]), int(os.environ["LOOKUPS"])
ctx = ssl._create_unverified_context()
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}

def conn():
    return http.client.HTTPSConnection(url.hostname, url.port, context=ctx)

def call(c, method, path, body=None):
    c.request(method, url.path + path, body=json.dumps(body) if body else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None

def provision(part, count):
    c = conn()
    for i in range(part, users, count):
        call(c, "POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"user{i:05d}", "externalId": f"ext-{i:05d}",
            "name": {"givenName": f"Given{i}", "familyName": f"Family{i % 97}"},
            "displayName": f"Person {i:05d}",
            "emails": [{"value": f"user{i:05d}@example.org", "primary": True}],
            "active": i % 50 != 0,
        })

start = time.monotonic()
threads = [threading.Thread(target=provision, args=(p, 4)) for p in range(4)]
for t in threads: t.start()
for t in threads: t.join()
took = time.monotonic() - start
print(f"provisioned {users} users in {took:.1f} s ({users / took:.0f}/s)")

mid = users // 2
cases = [
    ("userName eq", f'userName eq "USER{mid:05d}"', 1),
    ("externalId eq", f'externalId eq "ext-{mid:05d}"', 1),
    ("emails.value eq", f'emails.value eq "user{mid:05d}@example.org"', 1),
    ("displayName eq", f'displayName eq "person {mid:05d}"', 1),
    ("userName eq or externalId eq", f'userName eq "user00001" or externalId eq "ext-{mid:05d}"', 2),
    ("active eq false (page of 10)", "active eq false", (users + 49) // 50),
    ("userName sw (page of 10)", f'userName sw "user{mid // 100:03d}"', 100),
]
c = conn()
print(f"{'filter':34} {'p50 ms':>8} {'p99 ms':>8}  totalResults")
for name, flt, want in cases:
    q = "/Users?" + urllib.parse.urlencode({"filter": flt, "count": 10})
    times = []
    for _ in range(lookups):
        t = time.perf_counter()
        body = call(c, "GET", q)
        times.append((time.perf_counter() - t) * 1000)
        if body["totalResults"] != want:
            raise SystemExit(f"{flt}: totalResults {body['totalResults']}, wanted {want}")
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{name:34} {statistics.median(times):8.2f} {p99:8.2f}  {want}")
PY
