#!/usr/bin/env python3
"""Fail if any secret the tests used shows up in any server log.

Reads every file under <artifacts>/logs/ (the captured stdout and stderr of
every server the end-to-end and browser tests started, plus the admin CLI
output) and every secret in <artifacts>/secrets.txt (one per line: passwords,
session cookie values, CSRF tokens and Authorization header values the tests
sent or received). Each secret is searched for as is, JSON-escaped and
percent-encoded.

It never passes vacuously: no log files, only empty logs, no secrets, or a
secret too short to search for meaningfully is an error.

Usage: check_logs.py [ARTIFACTS_DIR]   (default: <repo>/test-artifacts)
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

MIN_SECRET_LEN = 8


def variants(secret: str) -> set[str]:
    out = {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret, safe=""),
           urllib.parse.quote_plus(secret)}
    return {v for v in out if v}


def describe(secret: str) -> str:
    return f"{secret[:3]}... ({len(secret)} chars)"


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    artifacts = Path(argv[1]) if len(argv) > 1 else root / "test-artifacts"
    log_dir = artifacts / "logs"
    secrets_file = artifacts / "secrets.txt"

    logs = sorted(p for p in log_dir.rglob("*") if p.is_file()) if log_dir.is_dir() else []
    if not logs:
        print(f"check_logs: FAIL: no log files under {log_dir}", file=sys.stderr)
        return 1
    if not secrets_file.is_file():
        print(f"check_logs: FAIL: {secrets_file} does not exist", file=sys.stderr)
        return 1
    secrets = sorted({line.rstrip("\r\n") for line in secrets_file.read_text(encoding="utf-8").splitlines()} - {""})
    if not secrets:
        print(f"check_logs: FAIL: no secrets recorded in {secrets_file}", file=sys.stderr)
        return 1
    short = [s for s in secrets if len(s) < MIN_SECRET_LEN]
    if short:
        print(f"check_logs: FAIL: {len(short)} recorded secret(s) shorter than {MIN_SECRET_LEN} characters "
              f"cannot be checked meaningfully: {[describe(s) for s in short]}", file=sys.stderr)
        return 1

    total = 0
    stderr_bytes = 0
    leaks: list[str] = []
    patterns = {s: variants(s) for s in secrets}
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        total += len(text)
        if log.name.endswith(".stderr.log"):
            stderr_bytes += len(text)
        for secret, forms in patterns.items():
            for form in forms:
                idx = text.find(form)
                if idx >= 0:
                    line_no = text.count("\n", 0, idx) + 1
                    leaks.append(f"{log.relative_to(artifacts)}:{line_no}: secret {describe(secret)}")
                    break
    if total == 0:
        print(f"check_logs: FAIL: all {len(logs)} log files are empty", file=sys.stderr)
        return 1
    if stderr_bytes == 0:
        print("check_logs: FAIL: no server wrote anything to its stderr log", file=sys.stderr)
        return 1
    if leaks:
        print(f"check_logs: FAIL: {len(leaks)} secret occurrence(s) in logs:", file=sys.stderr)
        for leak in leaks:
            print("  " + leak, file=sys.stderr)
        return 1
    print(f"check_logs: OK: {len(secrets)} secrets checked against {len(logs)} log files "
          f"({total} characters); no leaks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
