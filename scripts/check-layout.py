#!/usr/bin/env python3
"""Checks the shape of the code, the rules a reader relies on:

- the four crates depend in one direction only (core <- store, core <- web, all <- gatehouse);
- within a crate, no two top-level modules import each other, directly or in a loop
  (a file under `src/a/` or `src/a.rs` that names `crate::b` is an edge a -> b);
- no source file outside a `tests/` folder is over 800 lines;
- every source file starts with a `//!` line saying what it owns.

Prints each problem and exits 1 if there is any; prints a one-line summary otherwise.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRATES = ["gatehouse-core", "gatehouse-store", "gatehouse-web", "gatehouse"]
ALLOWED_DEPS = {
    "gatehouse-core": set(),
    "gatehouse-store": {"gatehouse-core"},
    "gatehouse-web": {"gatehouse-core"},
    "gatehouse": {"gatehouse-core", "gatehouse-store", "gatehouse-web"},
}
MAX_LINES = 800
CRATE_REF = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
BRACED = re.compile(r"\bcrate::\{([^}]*)\}")


def top_module(src: Path, file: Path) -> str | None:
    rel = file.relative_to(src)
    if rel.parts[0] in ("lib.rs", "main.rs"):
        return None
    return rel.parts[0].removesuffix(".rs")


def strip_comments(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    cycles, seen = [], set()
    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    cycles.append(cycle)
            elif len(path) < 12:
                visit(nxt, path + [nxt])
    for start in sorted(edges):
        visit(start, [start])
    return cycles


def main() -> int:
    problems: list[str] = []
    files = 0
    for crate in CRATES:
        base = ROOT / "crates" / crate
        manifest = (base / "Cargo.toml").read_text()
        deps_section = manifest.split("[dependencies]", 1)[-1].split("\n[", 1)[0]
        used = {c for c in CRATES if re.search(rf"^{re.escape(c)}\s*[=.]", deps_section, re.M)}
        for bad in sorted(used - ALLOWED_DEPS[crate]):
            problems.append(f"{crate} depends on {bad}: the crates depend in one direction only")
        src = base / "src"
        edges: dict[str, set[str]] = {}
        for file in sorted(src.rglob("*.rs")):
            files += 1
            text = file.read_text()
            rel = file.relative_to(ROOT)
            if not text.lstrip().startswith("//!"):
                problems.append(f"{rel}: starts without a //! line saying what it owns")
            if "/tests/" not in f"/{rel}" and len(text.splitlines()) > MAX_LINES:
                problems.append(f"{rel}: {len(text.splitlines())} lines (over {MAX_LINES}: split it into a folder)")
            here = top_module(src, file)
            if here is None:
                continue
            code = strip_comments(text)
            targets = set(CRATE_REF.findall(code))
            for group in BRACED.findall(code):
                targets.update(re.findall(r"^\s*([a-z_][a-z0-9_]*)", part)[0]
                               for part in group.split(",") if re.match(r"^\s*[a-z_]", part))
            for t in targets:
                if t != here and ((src / f"{t}.rs").exists() or (src / t / "mod.rs").exists()):
                    edges.setdefault(here, set()).add(t)
        for cycle in find_cycles(edges):
            problems.append(f"{crate}: modules import each other: {' -> '.join(cycle)}")
    for p in problems:
        print(p)
    if problems:
        print(f"layout check: {len(problems)} problem(s)")
        return 1
    print(f"layout check: {files} files, crate direction, module imports and file sizes are fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
