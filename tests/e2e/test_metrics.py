"""The Prometheus endpoint (`server.metrics_listen`): off by default, a plain-HTTP
listener of its own serving only /metrics, and what it serves parses with the Prometheus
text parser (prometheus_client) and says what happened: request latency per route
pattern, authentication decisions by method and outcome, the password-hash pool, the
store's pool and the change feed. No credential ever appears in it."""

from __future__ import annotations

import re

import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import login_ok, record_secret, session


def _metrics_url(server) -> str:
    for line in server.lines:
        m = re.search(r"Prometheus metrics: (http://\S+/metrics)", line)
        if m:
            return m.group(1)
    raise AssertionError(f"no metrics line in {server.lines}")


def _scrape(url: str) -> dict:
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    return {"text": r.text, "families": families}


def _samples(families: dict, family: str, sample: str | None = None) -> list:
    assert family in families, sorted(families)
    return [s for s in families[family].samples if sample is None or s.name == sample]


def _value(families: dict, family: str, sample: str | None = None, **labels: str) -> float:
    found = [s.value for s in _samples(families, family, sample)
             if all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, (family, labels, _samples(families, family, sample))
    return sum(found)


def test_metrics_are_off_by_default(server):
    assert not any("metrics" in line.lower() for line in server.lines), server.lines
    # And the HTTPS listener has no /metrics route.
    r = session().get(server.url("/metrics"), timeout=10)
    assert r.status_code == 404, r.status_code


def test_the_scrape_parses_and_counts_what_happened(gatehouse):
    srv = gatehouse.start(env={"GATEHOUSE_SERVER__METRICS_LISTEN": "127.0.0.1:0"})
    url = _metrics_url(srv)
    assert url.startswith("http://127.0.0.1:"), url
    s = session()

    # Traffic: unauthenticated, a wrong key, a good key, a session, a bearer token.
    assert s.get(srv.url("/healthz"), timeout=10).status_code == 200
    assert s.get(srv.url("/api/auth/session"), timeout=10).status_code == 401
    assert s.get(srv.url("/api/auth/session"), auth=("gh_not_a_key", ""), timeout=10).status_code == 401
    res = login_ok(srv, "admin", srv.bootstrap_password)
    csrf = record_secret(res.body["csrf_token"])
    cookie = {"Cookie": f"cloud.sso={res.cookie}"}
    r = s.post(srv.url("/api/api-keys"), json={"name": "metrics"}, headers={**cookie, "X-CSRF-Token": csrf},
               timeout=30)
    assert r.status_code == 201, r.text
    key = record_secret(r.json()["key"])
    key_id = r.json()["id"]
    for _ in range(3):
        assert s.get(srv.url("/api/auth/session"), auth=(key, ""), timeout=10).status_code == 200
    assert s.get(srv.url(f"/api/api-keys/{key_id}"), auth=(key, ""), timeout=10).status_code in (200, 403)
    r = s.post(srv.url("/api/tokens"), json={"name": "metrics", "expires_in_hours": 1},
               headers={**cookie, "X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code == 201, r.text
    token = record_secret(r.json()["token"])
    assert s.get(srv.url("/api/auth/session"), headers={"Authorization": f"Bearer {token}"},
                 timeout=10).status_code == 200
    assert s.get(srv.url("/api/auth/session"), headers=cookie, timeout=10).status_code == 200

    scraped = _scrape(url)
    fam, text = scraped["families"], scraped["text"]
    for secret in (key, token, res.cookie, csrf, srv.bootstrap_password):
        assert secret not in text

    # Authentication decisions by method and outcome.
    auth = "gatehouse_auth_decisions"
    assert fam[auth].type == "counter"
    assert _value(fam, auth, "gatehouse_auth_decisions_total", method="api_key", outcome="accepted") >= 4
    assert _value(fam, auth, "gatehouse_auth_decisions_total", method="api_key",
                  outcome="invalid_credentials") >= 1
    assert _value(fam, auth, "gatehouse_auth_decisions_total", method="none", outcome="unauthenticated") >= 1
    assert _value(fam, auth, "gatehouse_auth_decisions_total", method="bearer", outcome="accepted") >= 1
    assert _value(fam, auth, "gatehouse_auth_decisions_total", method="session", outcome="accepted") >= 2

    # Latency per route pattern: a histogram whose buckets add up, labelled with the
    # pattern (never the id a client sent).
    lat = "gatehouse_http_request_duration_seconds"
    assert fam[lat].type == "histogram"
    count = _value(fam, lat, f"{lat}_count", route="/api/auth/session", method="GET", status="200")
    assert count >= 5
    inf = _value(fam, lat, f"{lat}_bucket", route="/api/auth/session", method="GET", status="200", le="+Inf")
    assert inf == count
    buckets = sorted(((float(s.labels["le"]), s.value) for s in _samples(fam, lat, f"{lat}_bucket")
                      if s.labels.get("route") == "/api/auth/session" and s.labels.get("status") == "200"))
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), buckets
    assert _value(fam, lat, f"{lat}_count", route="/api/auth/session", status="401") >= 2
    routes = {s.labels["route"] for s in _samples(fam, lat, f"{lat}_count")}
    assert "/api/api-keys/{id}" in routes, routes
    assert not any(key_id in r for r in routes), routes

    # The caches: the key was a miss once, then hits; the session cache held the session.
    caches = {s.labels["cache"] for s in _samples(fam, "gatehouse_cache_entries")}
    assert caches == {"api_keys", "sessions", "tokens", "token_owners"}, caches
    assert _value(fam, "gatehouse_cache_entries", cache="api_keys") >= 1
    assert _value(fam, "gatehouse_cache_capacity", cache="api_keys") >= 1
    assert _value(fam, "gatehouse_cache_hits", "gatehouse_cache_hits_total", cache="api_keys") >= 3
    assert _value(fam, "gatehouse_cache_misses", "gatehouse_cache_misses_total", cache="api_keys") >= 1
    assert _value(fam, "gatehouse_cache_evictions", "gatehouse_cache_evictions_total", cache="api_keys") == 0

    # The password-hash pool (the sign-in above used it), the store, the change feed.
    for gauge in ("gatehouse_password_hash_running", "gatehouse_password_hash_queued",
                  "gatehouse_password_hash_concurrency", "gatehouse_store_connections",
                  "gatehouse_store_connections_idle", "gatehouse_store_connections_max",
                  "gatehouse_change_feed_connected", "gatehouse_invalidation_lag_seconds"):
        assert fam[gauge].type == "gauge", gauge
    assert _value(fam, "gatehouse_password_hash_concurrency") >= 1
    assert _value(fam, "gatehouse_store_connections_max") >= 1
    assert _value(fam, "gatehouse_password_hash_rejected", "gatehouse_password_hash_rejected_total") == 0
    assert {s.labels["kind"] for s in _samples(fam, "gatehouse_store_errors", "gatehouse_store_errors_total")} \
        == {"conflict", "unavailable", "other"}

    # A second scrape sees the first one's request counted nowhere (the metrics listener
    # is not the application) but the new traffic counted.
    assert s.get(srv.url("/api/auth/session"), auth=(key, ""), timeout=10).status_code == 200
    again = _scrape(url)["families"]
    assert _value(again, auth, "gatehouse_auth_decisions_total", method="api_key", outcome="accepted") \
        == _value(fam, auth, "gatehouse_auth_decisions_total", method="api_key", outcome="accepted") + 1
    assert not any("metrics" in s.labels.get("route", "") for s in _samples(again, lat))

    # Only /metrics is served there, over plain HTTP, with no credentials involved.
    other = requests.get(url.replace("/metrics", "/api/auth/session"), auth=(key, ""), timeout=10)
    assert other.status_code == 404, other.status_code
