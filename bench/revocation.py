"""Driver of bench/revocation.sh: revokes credentials on node 1 and times how long
nodes 2 and 3 keep accepting them. Prints a Markdown table of p50/p99 per kind."""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib3

import requests
from requests.auth import HTTPBasicAuth

urllib3.disable_warnings()
COOKIE = "cloud.sso"


def client() -> requests.Session:
    s = requests.Session()
    s.verify = False
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify=False
    return s


class Node:
    def __init__(self, url: str):
        self.url = url
        self.http = client()

    def status(self, **kw) -> int:
        return self.http.get(self.url + "/api/auth/session", timeout=30, **kw).status_code


def sign_in(node: Node, user: str, password: str) -> tuple[str, str]:
    r = client().post(node.url + "/api/auth/login", json={"username": user, "password": password}, timeout=60)
    r.raise_for_status()
    return r.cookies[COOKIE], r.json()["csrf_token"]


def until_refused(node: Node, probe: dict, started: float, out: list[float]) -> None:
    deadline = started + 30
    # 429 is a refusal too: failures from one address are answered 429 past a limit.
    while node.status(**probe) not in (401, 429):
        if time.monotonic() > deadline:
            raise SystemExit(f"{node.url} still accepts a revoked credential after 30 s")
    out.append(time.monotonic() - started)


def measure(others: list[Node], probe: dict, revoke) -> list[float]:
    for n in others:
        if n.status(**probe) != 200:
            raise SystemExit(f"{n.url} refuses a live credential before the revocation")
    out: list[float] = []
    started = time.monotonic()
    threads = [threading.Thread(target=until_refused, args=(n, probe, started, out)) for n in others]
    resp = revoke()
    for t in threads:
        t.start()
    if resp.status_code not in (200, 204):
        raise SystemExit(f"revocation answered {resp.status_code}: {resp.text}")
    for t in threads:
        t.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("urls", nargs=3)
    args = ap.parse_args()
    password = open(args.password_file).read().splitlines()[0]
    first, *others = [Node(u) for u in args.urls]
    cookie, csrf = sign_in(first, "admin", password)
    admin = client()
    admin.headers.update({"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf})
    results: dict[str, list[float]] = {}

    def call(method: str, path: str, **kw) -> requests.Response:
        return admin.request(method, first.url + path, timeout=30, **kw)

    members = {m["username"]: m["id"] for m in call("GET", "/api/admin/members?limit=200").json()}

    for i in range(args.count):
        r = call("POST", "/api/api-keys", json={"name": f"bench-{i}", "permissions": ["account:read"]})
        r.raise_for_status()
        key = r.json()
        results.setdefault("API key disabled", []).extend(measure(
            others, {"auth": HTTPBasicAuth(key["key"], "")},
            lambda: call("POST", f"/api/api-keys/{key['id']}/disable")))

        c, t = sign_in(first, "admin", password)
        results.setdefault("session signed out", []).extend(measure(
            others, {"headers": {"Cookie": f"{COOKIE}={c}"}},
            lambda: client().post(first.url + "/api/auth/logout", timeout=30,
                                  headers={"Cookie": f"{COOKIE}={c}", "X-CSRF-Token": t})))

        r = call("POST", "/api/tokens", json={"expires_in_hours": 1})
        r.raise_for_status()
        tok = r.json()
        results.setdefault("token revoked", []).extend(measure(
            others, {"headers": {"Authorization": f"Bearer {tok['token']}"}},
            lambda: call("DELETE", f"/api/tokens/{tok['id']}")))

        user = f"member{i + 1}"
        uc, _ = sign_in(first, user, password)
        results.setdefault("account disabled", []).extend(measure(
            others, {"headers": {"Cookie": f"{COOKIE}={uc}"}},
            lambda: call("POST", f"/api/admin/members/{members[user]}/disable")))
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{args.count} revocations per kind done", flush=True)

    def pct(v: list[float], p: float) -> float:
        s = sorted(v)
        return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))] * 1000

    print()
    print(f"| credential kind ({args.count} revocations on node 1, refusals timed on nodes 2 and 3 under wrk load) "
          "| samples | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for kind, v in results.items():
        print(f"| {kind} | {len(v)} | {pct(v, 50):.1f} | {pct(v, 99):.1f} | {max(v) * 1000:.1f} |")
    print(f"\nall kinds: p50 {statistics.median(sum(results.values(), [])) * 1000:.1f} ms, "
          f"p99 {pct(sum(results.values(), []), 99):.1f} ms")


if __name__ == "__main__":
    main()
