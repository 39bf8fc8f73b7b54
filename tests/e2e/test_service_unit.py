"""The hardened systemd unit in docs/: systemd itself checks that it parses and that
its sandbox scores as "OK" (exposure at most 2.0 of 10), with the built binary standing
in for /usr/local/bin/gatehouse."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from harness import BINARY

UNIT = Path(__file__).resolve().parents[2] / "docs" / "gatehouse.service"


def _unit_with_binary(tmp_path: Path) -> Path:
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/gatehouse serve" in text
    out = tmp_path / "gatehouse.service"
    out.write_text(text.replace("/usr/local/bin/gatehouse", str(BINARY)))
    return out


def test_the_unit_parses_and_names_the_required_protections(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze (package systemd) is required"
    unit = _unit_with_binary(tmp_path)
    cp = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    text = unit.read_text()
    for line in ("User=gatehouse", "StateDirectory=gatehouse", "StateDirectoryMode=0700",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line


def test_the_sandbox_scores_ok(tmp_path):
    unit = _unit_with_binary(tmp_path)
    cp = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=20", str(unit)],
                        capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", cp.stdout)
    assert m, cp.stdout + cp.stderr
    print(f"systemd-analyze security: exposure {m.group(1)}")
    assert cp.returncode == 0 and float(m.group(1)) <= 2.0, cp.stdout[-2000:]
